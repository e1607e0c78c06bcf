import { createParamDecorator, ExecutionContext } from '@nestjs/common';

import { contextOf } from '../http/request-context';

/** The request's {@link RequestContext} (id, client, binary tensor data, log fields). */
export const RequestCtx = createParamDecorator((_: unknown, ctx: ExecutionContext) => contextOf(ctx.switchToHttp().getRequest<object>()));
