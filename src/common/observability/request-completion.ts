import { Injectable } from '@nestjs/common';

import { contextOf, elapsedMsOf, RequestContext } from '../http/request-context';
import { CompletedRequest, RequestLog, RequestMetrics } from './request-observers';
import { nameHttpSpan, traceLogFields } from './trace-spans';

/** The request fields every adapter's request object has (Fastify's FastifyRequest, Express's Request). */
interface AnyRequest {
  method: string;
  ip?: string;
  /** Fastify: the matched route. */
  routeOptions?: { url?: string };
  /** Express: the matched route. */
  route?: { path?: unknown };
  baseUrl?: string;
}

/**
 * The route template the adapter matched (`/models/:id`), never the raw path; `unmatched` for
 * requests no controller route took (including Nest's catch-all 404 route).
 */
export function routeTemplateOf(req: object): string {
  const r = req as AnyRequest;
  const path = r.routeOptions?.url ?? (typeof r.route?.path === 'string' ? `${r.baseUrl ?? ''}${r.route.path}` : undefined);
  if (path === undefined || path.includes('*')) return 'unmatched';
  return path || '/';
}

/**
 * Completes a request exactly once: its log line and its HTTP metrics. The logging and latency
 * interceptors complete answered requests; the exception filter completes every error, including
 * requests that never reached a handler (malformed JSON, 413, 415, unknown route, guard refusals).
 */
@Injectable()
export class RequestCompletion {
  constructor(private readonly log: RequestLog, private readonly metrics: RequestMetrics) {}

  /** The completion line (logging interceptor, filter); names the server span after the route, when traced. */
  logged(req: object, status: number, ctx: RequestContext = contextOf(req)): void {
    const line = this.describe(req, status, ctx);
    if (ctx.span) {
      nameHttpSpan(ctx.span, line.method, line.route);
      line.trace = traceLogFields(ctx.span);
    }
    this.log.completed(line);
  }

  /** The HTTP metrics (latency interceptor, filter); returns the elapsed milliseconds. */
  measured(req: object, status: number, ctx: RequestContext = contextOf(req)): number {
    const ms = elapsedMsOf(ctx);
    this.metrics.observeHttp((req as AnyRequest).method, routeTemplateOf(req), status, ms / 1000);
    return ms;
  }

  private describe(req: object, status: number, ctx: RequestContext): CompletedRequest {
    const r = req as AnyRequest;
    return {
      requestId: ctx.id,
      method: r.method,
      route: routeTemplateOf(req),
      status,
      durationMs: elapsedMsOf(ctx),
      client: ctx.client ?? r.ip ?? 'unknown',
      prediction: ctx.prediction,
    };
  }
}
