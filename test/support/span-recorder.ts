import { Span, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';

import { startTracing, Tracing } from '../../src/tracing/start-tracing';

/**
 * Tracing on, as the service starts it (src/tracing), with every span exported as it ends to the
 * SDK's InMemorySpanExporter instead of a collector. `patchLoadedHttp` (e2e apps under jest)
 * applies the HTTP instrumentation to the loaded `http` module; `stop()` undoes it, so later
 * test files of the same worker see an unpatched `http`.
 */
export class SpanRecorder {
  readonly exporter = new InMemorySpanExporter();
  private readonly tracing: Tracing;

  constructor(options: { patchLoadedHttp?: boolean } = {}) {
    this.tracing = startTracing({ exporter: this.exporter, patchLoadedHttp: options.patchLoadedHttp });
  }

  /** Every span ended so far. */
  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  named(name: string): ReadableSpan[] {
    return this.spans().filter((s) => s.name === name);
  }

  /** The one ended span named `name` (fails the test when there are none or several). */
  one(name: string, where: (s: ReadableSpan) => boolean = () => true): ReadableSpan {
    const found = this.named(name).filter(where);
    if (found.length !== 1) throw new Error(`expected one '${name}' span, found ${found.length}: ${this.spans().map((s) => s.name).join(', ')}`);
    return found[0];
  }

  /** The ended spans whose parent is `parent`. */
  childrenOf(parent: ReadableSpan): ReadableSpan[] {
    return this.spans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
  }

  /** The spans of one trace. */
  inTrace(traceId: string): ReadableSpan[] {
    return this.spans().filter((s) => s.spanContext().traceId === traceId);
  }

  /** A span standing in for a transport's server span (what the HTTP instrumentation or the gRPC gate gives the data plane). */
  serverSpan(name = 'server'): Span {
    return trace.getTracer('test').startSpan(name);
  }

  reset(): void {
    this.exporter.reset();
  }

  stop(): Promise<void> {
    return this.tracing.shutdown();
  }
}

/** Every attribute and event attribute value of `spans`, as one string (to assert no stack or tensor data leaks). */
export const everyValue = (spans: ReadableSpan[]): string =>
  JSON.stringify(spans.map((s) => [s.attributes, s.events.map((e) => e.attributes), s.status]));
