import { createParamDecorator, ExecutionContext } from '@nestjs/common';

import { contextOf } from '../http/request-context';

/** The bytes after the JSON header of a V2 binary-extension request; undefined for a plain JSON request. */
export const BinaryTensorData = createParamDecorator((_: unknown, ctx: ExecutionContext): Buffer | undefined =>
  contextOf(ctx.switchToHttp().getRequest<object>()).binary,
);
