import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

import { binaryTensorDataOf } from '../middleware/binary-infer-body.middleware';

/** The bytes after the JSON header of a V2 binary-extension request; undefined for a plain JSON request. */
export const BinaryTensorData = createParamDecorator((_: unknown, ctx: ExecutionContext): Buffer | undefined =>
  binaryTensorDataOf(ctx.switchToHttp().getRequest<Request>()),
);
