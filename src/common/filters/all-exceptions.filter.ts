import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';

import { errorEnvelope } from '../errors/error-envelope';
import { mapError } from '../errors/error-mapper';
import { isV2Path } from '../validation/input-limits';
import { requestIdOf } from '../middleware/request-id.middleware';

/**
 * The one place that turns errors into responses: DESIGN.md's envelope outside /v2, and the V2
 * protocol's `{ error }` under /v2. Unexpected errors are logged with the request id and answered
 * with a generic 500; no stack ever leaves the process.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    writeError(exception, ctx.getRequest<Request>(), ctx.getResponse<Response>(), this.logger);
  }
}

/** Shared with the Express error handler that catches body-parser errors before Nest's router. */
export function writeError(exception: unknown, req: Request, res: Response, logger: Logger): void {
  const mapped = mapError(exception);
  const requestId = requestIdOf(req);
  if (mapped.unexpected) {
    logger.error({ request_id: requestId, err: exception }, `Unexpected error on ${req.method} ${req.path}`);
  }
  if (res.headersSent) return;
  if (mapped.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(mapped.retryAfterSeconds))));
  const v2 = isV2Path(req.path);
  const body = mapped.passthrough ?? (v2 ? { error: mapped.message } : errorEnvelope(mapped.code, mapped.message, mapped.details, requestId));
  // The V2 protocol answers a request it cannot accept with 400 (Triton, KServe), where the rest of the API says 422.
  res.status(v2 && mapped.status === 422 ? 400 : mapped.status).json(body);
}
