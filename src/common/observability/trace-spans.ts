import { Attributes, Context, Link, ROOT_CONTEXT, Span, SpanContext, SpanKind, SpanStatusCode, TimeInput, trace, Tracer, TraceFlags } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import { performance } from 'node:perf_hooks';

import { mapError } from '../errors/error-mapper';

/**
 * The service's own spans, through the OpenTelemetry API only (the SDK is started by src/tracing,
 * or not at all). Spans travel explicitly, as the request id does (the HTTP server span in the
 * request context, the data plane's `parentSpan`): no context manager, no AsyncLocalStorage. With
 * tracing off there is never a span, so every helper here is skipped behind one `undefined` check.
 */

/** The instrumentation scope of the service's own spans. */
export const TRACER_NAME = 'nest-model-server';

/** `app.request_id`: the request's X-Request-Id (or gRPC `x-request-id`), to find a trace from a log line or a client's id. */
export const ATTR_APP_REQUEST_ID = 'app.request_id';
/** `app.error_code`: the service's error code (ErrorCode) a request failed with, 4xx included. */
export const ATTR_APP_ERROR_CODE = 'app.error_code';

let active = false;
let tracer: Tracer | undefined;

/** True while the tracing SDK runs: the one check made by code that has no span in hand (interceptors, the gRPC gate). */
export const tracingActive = (): boolean => active;

/** For src/tracing only: the SDK started (true) or shut down (false). */
export function setTracingActive(on: boolean): void {
  active = on;
  tracer = undefined;
}

const tracerOf = (): Tracer => (tracer ??= trace.getTracer(TRACER_NAME));

export interface ChildSpanOptions {
  attributes?: Attributes;
  /** Default now; a `performance.now()` reading or epoch ms is accepted (for spans recorded after the fact). */
  startTime?: TimeInput;
  links?: Link[];
  kind?: SpanKind;
}

/**
 * Starts `name` as a child of `parent`; undefined when there is no parent or it is not recording
 * (not sampled): children of an unsampled span would never be exported, so none is built.
 */
export function childSpan(parent: Span | undefined, name: string, options: ChildSpanOptions = {}): Span | undefined {
  if (parent === undefined || !parent.isRecording()) return undefined;
  return tracerOf().startSpan(name, options, trace.setSpan(ROOT_CONTEXT, parent));
}

/** The context of `span` to link to later (once it may have ended), or undefined when it is absent or not recording. */
export function linkTarget(span: Span | undefined): SpanContext | undefined {
  return span?.isRecording() ? span.spanContext() : undefined;
}

/**
 * Starts `name` as the root of a new trace with a link to `linked` (see {@link linkTarget}): work
 * a request set off but that is not part of its latency (shadow traffic), so it never lengthens
 * the caller's trace. The new trace is sampled on its own. Undefined without `linked`.
 */
export function linkedRootSpan(linked: SpanContext | undefined, name: string, attributes?: Attributes): Span | undefined {
  if (linked === undefined) return undefined;
  return tracerOf().startSpan(name, { root: true, attributes, links: [{ context: linked }] });
}

/** Starts a server span (gRPC) under a context extracted from the caller's metadata. */
export function serverSpan(name: string, parent: Context, attributes: Attributes): Span {
  return tracerOf().startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
}

/**
 * Records a failure on `span`: status ERROR with the caller-safe message, `error.type` = the error
 * code (VALIDATION_FAILED, INFERENCE_TIMEOUT, …) and an `exception` event with that type and
 * message. Never the stack, never an internal message (unexpected errors read as INTERNAL).
 */
export function failSpan(span: Span, error: unknown): void {
  const { code, message } = mapError(error);
  span.setAttribute(ATTR_ERROR_TYPE, code);
  span.addEvent('exception', { 'exception.type': code, 'exception.message': message });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * Ends one of the service's spans now, on the monotonic clock: a span given its start time (a
 * `performance.now()` reading) would otherwise end on `Date.now()`, whole milliseconds, too
 * coarse for sub-millisecond stages.
 */
export function endSpan(span: Span): void {
  span.end(performance.now());
}

/** Runs to the end of `work` on `span`: ended when it settles, failed (then ended) when it rejects. Returns `work`'s outcome. */
export function endWith<T>(span: Span, work: Promise<T>): Promise<T> {
  return work.then(
    (value) => {
      endSpan(span);
      return value;
    },
    (error: unknown) => {
      failSpan(span, error);
      endSpan(span);
      throw error;
    },
  );
}

/**
 * Names a server span after its route template (`POST /models/:id`) and sets `http.route`, as
 * the HTTP semantic conventions ask; `unmatched` (no route took the request) keeps the bare
 * method, so the name never holds a raw path.
 */
export function nameHttpSpan(span: Span, method: string, route: string): void {
  if (route === 'unmatched') return;
  span.setAttribute(ATTR_HTTP_ROUTE, route);
  span.updateName(`${method} ${route}`);
}

/**
 * A request's error on its server span: `app.error_code` always (404s, 422s and 429s can be
 * found too); `error.type` only for a server-side failure (`serverFault`: 5xx, or the gRPC codes
 * that mean it), which is when the conventions call a server span failed. The status itself is
 * set by the HTTP instrumentation from the response code (ERROR for 5xx) or by the gRPC gate.
 */
export function markRequestError(span: Span, code: string, serverFault: boolean): void {
  span.setAttribute(ATTR_APP_ERROR_CODE, code);
  if (serverFault) span.setAttribute(ATTR_ERROR_TYPE, code);
}

/** The W3C `traceparent` of a span: `00-<trace id>-<span id>-<flags>` (what the response carries). */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** What a log line carries about its trace (the field names of OpenTelemetry's pino instrumentation). */
export interface TraceLogFields {
  trace_id: string;
  span_id: string;
  /** `01` sampled (the trace is exported), `00` not. */
  trace_flags: string;
}

/** The log fields of `span`, or undefined without one (tracing off, or an untraced route such as /health). */
export function traceLogFields(span: Span | undefined): TraceLogFields | undefined {
  if (span === undefined) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: traceFlags & TraceFlags.SAMPLED ? '01' : '00' };
}
