import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

import { requestIdOf } from '../middleware/request-id.middleware';

/** The request id set by the request-id middleware. */
export const RequestId = createParamDecorator((_: unknown, ctx: ExecutionContext): string =>
  requestIdOf(ctx.switchToHttp().getRequest<Request>()),
);
