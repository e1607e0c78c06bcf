import { SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';

import { SpanRecorder } from '../../../test/support/span-recorder';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';
import {
  childSpan, endSpan, endWith, failSpan, linkedRootSpan, linkTarget, markRequestError, nameHttpSpan, traceLogFields, traceparentOf, tracingActive,
} from './trace-spans';

describe('trace-spans', () => {
  let recorder: SpanRecorder;

  beforeAll(() => {
    recorder = new SpanRecorder();
  });

  afterEach(() => recorder.reset());

  afterAll(async () => {
    await recorder.stop();
  });

  it('is active while the SDK runs', () => {
    expect(tracingActive()).toBe(true);
  });

  describe('childSpan', () => {
    it('starts a child in the parent trace, with the given start time', () => {
      // Arrange
      const parent = recorder.serverSpan();
      const startedAt = performance.now() - 5;

      // Act
      const sut = childSpan(parent, 'predict', { startTime: startedAt, attributes: { 'model.id': 'iris' } })!;
      endSpan(sut);
      parent.end();

      // Assert
      const [child] = recorder.named('predict');
      expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
      expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      expect(child.attributes).toEqual({ 'model.id': 'iris' });
      // Ended on the monotonic clock: at least the 5 ms it was started back.
      expect(child.duration[0] * 1e3 + child.duration[1] / 1e6).toBeGreaterThanOrEqual(5);
    });

    it('builds nothing without a parent or under an unsampled one', () => {
      // Arrange
      const unsampled = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE });

      // Act / Assert
      expect(childSpan(undefined, 'predict')).toBeUndefined();
      expect(childSpan(unsampled, 'predict')).toBeUndefined();
    });
  });

  describe('failSpan', () => {
    it('records ERROR, error.type = the code and an exception event with the safe message, no stack', () => {
      // Arrange
      const sut = recorder.serverSpan('op');

      // Act
      failSpan(sut, new AppError(ErrorCode.INFERENCE_TIMEOUT, 'Inference timed out after 30 s'));
      sut.end();

      // Assert
      const [span] = recorder.named('op');
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Inference timed out after 30 s' });
      expect(span.attributes['error.type']).toBe('INFERENCE_TIMEOUT');
      expect(span.events.map((e) => [e.name, e.attributes])).toEqual([['exception', { 'exception.type': 'INFERENCE_TIMEOUT', 'exception.message': 'Inference timed out after 30 s' }]]);
    });

    it("records an unexpected error as INTERNAL with the generic message, never the error's own text or stack", () => {
      // Arrange
      const sut = recorder.serverSpan('op');

      // Act
      failSpan(sut, new Error('ENOENT /secret/path/model.onnx'));
      sut.end();

      // Assert
      const [span] = recorder.named('op');
      expect(span.attributes['error.type']).toBe('INTERNAL');
      expect(JSON.stringify([span.status, span.events])).not.toMatch(/secret|ENOENT|\bat .+:\d+/);
    });
  });

  it('endWith ends the span with the outcome of the work and passes it on', async () => {
    // Arrange
    const ok = recorder.serverSpan('ok');
    const bad = recorder.serverSpan('bad');

    // Act
    const value = await endWith(ok, Promise.resolve(42));
    const error = await endWith(bad, Promise.reject(new AppError(ErrorCode.OVERLOADED, 'Model is overloaded'))).catch((e: unknown) => e);

    // Assert
    expect(value).toBe(42);
    expect(error).toBeInstanceOf(AppError);
    expect(recorder.one('ok').status.code).toBe(SpanStatusCode.UNSET);
    expect(recorder.one('bad').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('linkedRootSpan starts a new trace linked to the caller, never its child', () => {
    // Arrange
    const caller = recorder.serverSpan('caller');
    const link = linkTarget(caller);
    caller.end();

    // Act
    const sut = linkedRootSpan(link, 'shadow', { 'model.variant': 'shadow' })!;
    sut.end();

    // Assert
    const shadow = recorder.one('shadow');
    expect(shadow.spanContext().traceId).not.toBe(caller.spanContext().traceId);
    expect(shadow.parentSpanContext).toBeUndefined();
    expect(shadow.links.map((l) => l.context.spanId)).toEqual([caller.spanContext().spanId]);
    expect(linkTarget(undefined)).toBeUndefined();
  });

  it('names an HTTP server span after its route template, never a raw path', () => {
    // Arrange
    const matched = recorder.serverSpan('POST');
    const unmatched = recorder.serverSpan('GET');

    // Act
    nameHttpSpan(matched, 'POST', '/models/:id');
    nameHttpSpan(unmatched, 'GET', 'unmatched');
    matched.end();
    unmatched.end();

    // Assert
    expect(recorder.one('POST /models/:id').attributes['http.route']).toBe('/models/:id');
    expect(recorder.one('GET').attributes['http.route']).toBeUndefined();
  });

  it('marks a request error: app.error_code always, error.type only for a server fault', () => {
    // Arrange
    const client = recorder.serverSpan('client');
    const server = recorder.serverSpan('server');

    // Act
    markRequestError(client, 'VALIDATION_FAILED', false);
    markRequestError(server, 'INFERENCE_FAILED', true);
    client.end();
    server.end();

    // Assert
    expect(recorder.one('client').attributes).toEqual({ 'app.error_code': 'VALIDATION_FAILED' });
    expect(recorder.one('server').attributes).toEqual({ 'app.error_code': 'INFERENCE_FAILED', 'error.type': 'INFERENCE_FAILED' });
  });

  it('formats traceparent and the log fields from the span context', () => {
    // Arrange
    const sampled = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED });
    const unsampled = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE });

    // Act / Assert
    expect(traceparentOf(sampled)).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(traceparentOf(unsampled)).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00');
    expect(traceLogFields(sampled)).toEqual({ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331', trace_flags: '01' });
    expect(traceLogFields(undefined)).toBeUndefined();
  });
});
