import { createParamDecorator, ExecutionContext } from '@nestjs/common';

import { contextOf } from '../http/request-context';

/** The request id (X-Request-Id, honoured or generated when the request arrived). */
export const RequestId = createParamDecorator((_: unknown, ctx: ExecutionContext): string => contextOf(ctx.switchToHttp().getRequest<object>()).id);
