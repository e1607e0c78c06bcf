import type { Span } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Prediction facts a handler's answer carried, for the request's completion log line. */
export interface PredictionLogFields {
  model_id?: string;
  model_version?: string;
  variant?: string;
  cached?: boolean;
}

/**
 * What the service knows about one HTTP request, whichever adapter carries it (Fastify or
 * Express): opened by the adapter's first hook, read by guards, interceptors, the filter and
 * param decorators. Kept under a symbol on the Node request (IncomingMessage: Express's request
 * itself, Fastify's `request.raw`), so Nest middleware, which sees the Node request under Fastify,
 * reads the same context.
 */
export interface RequestContext {
  /** X-Request-Id: the caller's when sane, else a UUID v4; echoed on the response. */
  readonly id: string;
  /** `performance.now()` when the request arrived (the monotonic clock, in ms; no allocation, unlike hrtime.bigint). */
  readonly startedAt: number;
  /** The accepted API key's name (set by the API-key guard). */
  client?: string;
  /** Set by handlers (or the logging interceptor) for the completion line. */
  prediction?: PredictionLogFields;
  /** The bytes after the JSON header of a V2 binary tensor data request. */
  binary?: Buffer;
  /** True once the exception filter completed the request (log line, metrics): it may run twice for one request. */
  completed?: boolean;
  /** The HTTP server span, when tracing is on and the route is traced (set by src/tracing before any adapter hook). */
  span?: Span;
}

const CONTEXT = Symbol('nms.requestContext');

type WithContext = { [CONTEXT]?: RequestContext; headers?: Record<string, string | string[] | undefined>; raw?: WithContext };

/** The Node request under an adapter's request object. */
const nodeRequest = (req: object): WithContext => (req as WithContext).raw ?? (req as WithContext);

/** Honours a sane incoming X-Request-Id, else generates a UUID v4. */
export function resolveRequestId(incoming: unknown): string {
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Opens the context of a request (the adapter's first hook); a second call returns the first context. */
export function openContext(req: object): RequestContext {
  const r = nodeRequest(req);
  return (r[CONTEXT] ??= { id: resolveRequestId(r.headers?.[REQUEST_ID_HEADER]), startedAt: performance.now() });
}

/** The request's context (opened now if no adapter hook opened it). */
export const contextOf = (req: object): RequestContext => nodeRequest(req)[CONTEXT] ?? openContext(req);

/** Milliseconds since the request arrived, to the microsecond. */
export const elapsedMsOf = (ctx: RequestContext): number => Math.round((performance.now() - ctx.startedAt) * 1000) / 1000;

/** Stashes the prediction facts of a response body (`model_id` on /predict, `model_name` on V2) for the completion line. */
export function notePrediction(ctx: RequestContext, body: unknown): void {
  if (typeof body !== 'object' || body === null) return;
  const b = body as Record<string, unknown>;
  const model = typeof b.model_id === 'string' ? b.model_id : typeof b.model_name === 'string' ? b.model_name : undefined;
  if (model === undefined) return;
  ctx.prediction = {
    model_id: model,
    model_version: typeof b.model_version === 'string' ? b.model_version : undefined,
    variant: typeof b.variant === 'string' ? b.variant : undefined,
    cached: typeof b.cached === 'boolean' ? b.cached : undefined,
  };
}
