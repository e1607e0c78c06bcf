import type { Attributes, Span } from '@opentelemetry/api';

import { childSpan } from '../../common/observability/trace-spans';

/** `batch.size`: requests merged into the one runner call. */
export const ATTR_BATCH_SIZE = 'batch.size';
/** `batch.rows`: rows (dim 0) of that call. */
export const ATTR_BATCH_ROWS = 'batch.rows';
/** `batch.queue_time_ms`: how long this request waited in the queue for its batch. */
export const ATTR_BATCH_QUEUE_TIME_MS = 'batch.queue_time_ms';

/** What the tracing of a batch needs to know about one of its requests. */
export interface TracedWaiter {
  /** The request's `predict` span; undefined for an untraced request. */
  span?: Span;
  /** performance.now() at enqueue, in milliseconds. */
  enqueuedAt: number;
}

/**
 * The spans of one batch, recorded when it is handed to the runner (`dispatchedAt`, a
 * performance.now() reading): one `inference` span for the runner call, and a `batch.wait` span
 * per traced request (enqueue → dispatch). A batch serves many requests but runs once, so there
 * is ONE inference span: the child of the first traced request's `predict` span, with a link to
 * every other traced request's `predict` span; and each request's `batch.wait` links to it, so
 * from any request's trace the run it rode in is one click away. Returns the inference span (the
 * caller ends it when the run settles), or undefined when no request of the batch is traced.
 */
export function traceBatch(batch: readonly TracedWaiter[], dispatchedAt: number, rows: number, attributes: Attributes = {}): Span | undefined {
  const traced = batch.filter((w) => w.span?.isRecording());
  if (traced.length === 0) return undefined;
  const [first, ...others] = traced;
  const size = { [ATTR_BATCH_SIZE]: batch.length, [ATTR_BATCH_ROWS]: rows };
  const inference = childSpan(first.span, 'inference', {
    startTime: dispatchedAt,
    attributes: { ...attributes, ...size },
    links: others.map((w) => ({ context: w.span!.spanContext() })),
  })!;
  const link = [{ context: inference.spanContext() }];
  for (const w of traced) {
    const wait = childSpan(w.span, 'batch.wait', {
      startTime: w.enqueuedAt,
      attributes: { ...size, [ATTR_BATCH_QUEUE_TIME_MS]: dispatchedAt - w.enqueuedAt },
      links: link,
    })!;
    wait.end(dispatchedAt);
  }
  return inference;
}

/** The `inference` span of a request that runs alone and at once (dynamic batching off): no queue, so no `batch.wait`. */
export function traceLoneRun(span: Span | undefined, rows: number, attributes: Attributes = {}): Span | undefined {
  return childSpan(span, 'inference', { attributes: { ...attributes, [ATTR_BATCH_SIZE]: 1, [ATTR_BATCH_ROWS]: rows } });
}
