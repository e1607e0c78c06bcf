import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ServerResponse } from 'node:http';

import { errorEnvelope } from '../errors/error-envelope';
import { mapError } from '../errors/error-mapper';
import { contextOf, elapsedMsOf } from '../http/request-context';
import type { RequestContext } from '../http/request-context';
import { RequestCompletion } from '../observability/request-completion';
import { markRequestError, traceLogFields } from '../observability/trace-spans';
import { isV2Path } from '../validation/input-limits';

/**
 * The one place that turns errors into responses: DESIGN.md's envelope outside /v2, and the V2
 * protocol's `{ error }` under /v2. Unexpected errors are logged with the request id and answered
 * with a generic 500; no stack ever leaves the process. Every error response is completed here
 * (log line, HTTP metrics), also for requests that never reached a handler: Nest routes body
 * parser errors, unknown routes and guard refusals of both adapters through this filter.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionFilter');

  constructor(private readonly adapterHost: HttpAdapterHost, private readonly completion: RequestCompletion) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const adapter = this.adapterHost.httpAdapter;
    const req = host.switchToHttp().getRequest<object>();
    const res = host.switchToHttp().getResponse<object>();
    const ctx = contextOf(req);
    const mapped = mapError(exception);
    const path = adapter.getRequestUrl(req) as string;
    if (mapped.unexpected) {
      this.logger.error({ request_id: ctx.id, ...traceLogFields(ctx.span), err: exception }, `Unexpected error on ${adapter.getRequestMethod(req) as string} ${path.split('?')[0]}`);
    }
    if (adapter.isHeadersSent(res) || nodeResponse(res).headersSent) {
      // Too late for an error body: the client got what was sent; the request is still completed once.
      this.complete(req, nodeResponse(res).statusCode, ctx);
      return;
    }
    const v2 = isV2Path(path);
    // The V2 protocol answers a request it cannot accept with 400 (Triton, KServe), where the rest of the API says 422.
    const status = v2 && mapped.status === 422 ? 400 : mapped.status;
    if (mapped.retryAfterSeconds !== undefined) adapter.setHeader(res, 'Retry-After', String(Math.max(1, Math.ceil(mapped.retryAfterSeconds))));
    adapter.setHeader(res, 'X-Response-Time', `${elapsedMsOf(ctx).toFixed(3)}ms`);
    // Set here too: Fastify answers a method it does not route without running the onRequest hook that sets it.
    adapter.setHeader(res, 'X-Request-Id', ctx.id);
    const body = mapped.passthrough ?? (v2 ? { error: mapped.message } : errorEnvelope(mapped.code, mapped.message, mapped.details, ctx.id));
    if (ctx.span) markRequestError(ctx.span, mapped.code, status >= 500);
    this.complete(req, status, ctx);
    // A handler may have set another Content-Type before it threw; the error body is JSON.
    adapter.setHeader(res, 'Content-Type', 'application/json; charset=utf-8');
    adapter.reply(res, body, status);
  }

  /** Log line and HTTP metrics, once per request even if this filter runs again for it. */
  private complete(req: object, status: number, ctx: RequestContext): void {
    if (ctx.completed) return;
    ctx.completed = true;
    this.completion.measured(req, status, ctx);
    this.completion.logged(req, status, ctx);
  }
}

/** The Node response under an adapter's response object (Fastify's `reply.raw`, Express's response itself). */
const nodeResponse = (res: object): ServerResponse => (res as { raw?: ServerResponse }).raw ?? (res as ServerResponse);
