import type { Span } from '@opentelemetry/api';
import type { HttpInstrumentationConfig } from '@opentelemetry/instrumentation-http';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { openContext } from '../common/http/request-context';
import { ATTR_APP_REQUEST_ID, traceparentOf } from '../common/observability/trace-spans';

/** Probes and scrapes, on every port: not traced (a probe every few seconds per pod would bury the predictions). */
const UNTRACED_PATH = /^\/(?:health|v2\/health|metrics)(?:[/?]|$)/i;

/** True for the requests that get no server span: /health…, /v2/health…, /metrics. */
export function isUntracedRequest(req: Pick<IncomingMessage, 'url'>): boolean {
  return UNTRACED_PATH.test(req.url ?? '');
}

/**
 * The HTTP server span's start (instrumentation-http's requestHook, before any adapter hook): the
 * span goes into the request's context (opened here; the adapters' first hook then finds it) the
 * way its request id does, so the completion line, the filter and the data plane read it there.
 */
export function attachServerSpan(span: Span, req: IncomingMessage): void {
  const ctx = openContext(req);
  ctx.span = span;
  span.setAttribute(ATTR_APP_REQUEST_ID, ctx.id);
}

/** The response carries `traceparent` (of the server span), whichever adapter writes it: set on the Node response, which both merge. */
export function announceTraceparent(span: Span, res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('traceparent', traceparentOf(span));
}

/**
 * instrumentation-http as this service runs it: incoming requests only (the service calls no
 * HTTP service; the OTLP exporter's own requests are then never traced), probes and /metrics
 * left out, and the span handed to the request context and announced on the response.
 */
export function httpInstrumentationConfig(): HttpInstrumentationConfig {
  return {
    disableOutgoingRequestInstrumentation: true,
    ignoreIncomingRequestHook: isUntracedRequest,
    requestHook: (span, req) => attachServerSpan(span, req as IncomingMessage),
    responseHook: (span, res) => announceTraceparent(span, res as ServerResponse),
  };
}
