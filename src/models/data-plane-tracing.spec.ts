import { Logger } from '@nestjs/common';
import { SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

import { captureAppError } from '../../test/support/capture-app-error';
import { everyValue, SpanRecorder } from '../../test/support/span-recorder';
import { CountingRuntimeFactory, FaultInjectingFactory, FaultMode, FaultyRuntime } from '../../test/support/spec-runtimes';
import { bootModels } from '../../test/support/wire-models';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { DataPlane } from './data-plane.service';
import { ModelRegistryService } from './registry/model-registry.service';
import { RolloutService } from './rollout/rollout.service';
import { NamedTensors } from './tensors/tensor';

const irisRow = (values: number[]): NamedTensors => ({ input: { datatype: 'FP32', shape: [1, values.length], data: Float32Array.from(values) } });
const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA = [6.7, 3.0, 5.2, 2.3];

const idOf = (s: ReadableSpan): string => s.spanContext().spanId;

beforeAll(() => {
  Logger.overrideLogger(false);
});

describe('DataPlane tracing', () => {
  let recorder: SpanRecorder;

  beforeAll(() => {
    recorder = new SpanRecorder();
  });

  afterEach(() => recorder.reset());

  afterAll(async () => {
    await recorder.stop();
  });

  describe('on the bundled models, cache on', () => {
    let registry: ModelRegistryService;
    let rollout: RolloutService;
    let sut: DataPlane;

    beforeAll(async () => {
      ({ registry, rollout, plane: sut } = await bootModels(new CountingRuntimeFactory(), { ENABLE_CACHING: 'true' }));
    });

    afterAll(async () => {
      await registry.onApplicationShutdown();
    });

    it('records predict under the caller, with cache.lookup, batch.wait and inference under predict', async () => {
      // Arrange
      const server = recorder.serverSpan();

      // Act
      await sut.infer({ model: 'iris', inputs: irisRow(SETOSA), parentSpan: server, requestId: 'r-1' });
      server.end();

      // Assert
      const predict = recorder.one('predict');
      expect(predict.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
      expect(predict.attributes).toEqual({ 'model.id': 'iris', 'model.version': '2', 'model.variant': 'stable', 'prediction.requests': 1, 'prediction.cached': false });
      expect(recorder.childrenOf(predict).map((s) => s.name).sort()).toEqual(['batch.wait', 'cache.lookup', 'inference']);
      expect(recorder.one('cache.lookup').attributes).toEqual({ 'cache.hit': false });
      expect(recorder.one('inference').attributes).toMatchObject({ 'model.id': 'iris', 'model.version': '2', 'batch.size': 1, 'batch.rows': 1 });
      expect(predict.status.code).toBe(SpanStatusCode.UNSET);
      // No tensor data in any attribute (the row's 5.1 and 3.5 as whole numbers: a timing such as 3.5993 is not one).
      expect(everyValue(recorder.spans())).not.toMatch(/(^|[^\d.])(5\.1|3\.5)(?![\d])/);
    });

    it('a cache hit is predict (cached) with a hit lookup, and no batch or inference span', async () => {
      // Arrange: the first call fills the cache.
      await sut.infer({ model: 'iris', inputs: irisRow(VIRGINICA) });
      const server = recorder.serverSpan();

      // Act
      const result = await sut.infer({ model: 'iris', inputs: irisRow(VIRGINICA), parentSpan: server });
      server.end();

      // Assert
      expect(result.cached).toBe(true);
      const predict = recorder.one('predict');
      expect(predict.attributes['prediction.cached']).toBe(true);
      expect(recorder.childrenOf(predict).map((s) => [s.name, s.attributes])).toEqual([['cache.lookup', { 'cache.hit': true }]]);
    });

    it('under an unsampled caller builds no span and still answers', async () => {
      // Arrange
      const unsampled = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE });

      // Act
      const result = await sut.infer({ model: 'iris', inputs: irisRow([5.0, 3.4, 1.5, 0.2]), parentSpan: unsampled });

      // Assert
      expect(result.modelId).toBe('iris');
      expect(recorder.spans()).toEqual([]);
    });

    it('a request the codec refused is a failed predict span with VALIDATION_FAILED', () => {
      // Arrange
      const server = recorder.serverSpan();
      const route = sut.route('iris');

      // Act
      sut.rejected(route, AppError.validation([{ field: 'features', message: 'bad' }], 'Invalid features'), performance.now(), 'r-2', server);
      server.end();

      // Assert
      const predict = recorder.one('predict');
      expect(predict.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
      expect(predict.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Invalid features: features bad' });
      expect(predict.attributes['error.type']).toBe(ErrorCode.VALIDATION_FAILED);
    });

    it('a shadow run is the root of its own trace, linked to the caller, with its inference under it', async () => {
      // Arrange
      await rollout.setShadow('iris', { version: 1, percentage: 100 });
      const server = recorder.serverSpan();
      const { exporter } = recorder;
      const original = exporter.export.bind(exporter);
      const shadowEnded = new Promise<void>((resolve) => {
        exporter.export = (spans, done) => {
          original(spans, done);
          if (spans.some((s) => s.name === 'shadow')) resolve();
        };
      });

      try {
        // Act
        await sut.infer({ model: 'iris', inputs: irisRow([4.9, 3.0, 1.4, 0.2]), parentSpan: server });
        server.end();
        await shadowEnded;
      } finally {
        exporter.export = original;
        await rollout.clearShadow('iris');
      }

      // Assert
      const predict = recorder.one('predict');
      const shadow = recorder.one('shadow');
      expect(shadow.parentSpanContext).toBeUndefined();
      expect(shadow.spanContext().traceId).not.toBe(server.spanContext().traceId);
      expect(shadow.links.map((l) => l.context.spanId)).toEqual([idOf(predict)]);
      expect(shadow.attributes).toMatchObject({ 'model.id': 'iris', 'model.version': '1', 'model.variant': 'shadow', 'shadow.agree': true });
      const shadowInference = recorder.one('inference', (s) => s.spanContext().traceId === shadow.spanContext().traceId);
      expect(shadowInference.parentSpanContext?.spanId).toBe(idOf(shadow));
      // The caller's trace holds no shadow work.
      expect(recorder.inTrace(server.spanContext().traceId).map((s) => s.name).sort()).toEqual(['batch.wait', 'cache.lookup', 'inference', 'predict', 'server']);
    });
  });

  describe('with a runtime that fails', () => {
    const control: { mode: FaultMode } = { mode: 'ok' };
    let registry: ModelRegistryService;
    let sut: DataPlane;

    beforeAll(async () => {
      ({ registry, plane: sut } = await bootModels(new FaultInjectingFactory({ penguins: () => new FaultyRuntime(control) })));
    });

    afterAll(async () => {
      await registry.onApplicationShutdown();
    });

    it('fails predict with INFERENCE_FAILED and inference with the runtime error as INTERNAL, never its message or stack', async () => {
      // Arrange
      control.mode = 'reject';
      const server = recorder.serverSpan();

      // Act
      const error = await captureAppError(sut.infer({ model: 'penguins', inputs: irisRow(SETOSA), parentSpan: server }));
      server.end();
      control.mode = 'ok';

      // Assert
      expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
      const predict = recorder.one('predict');
      expect(predict.status.code).toBe(SpanStatusCode.ERROR);
      expect(predict.attributes['error.type']).toBe(ErrorCode.INFERENCE_FAILED);
      expect(recorder.one('inference').status.code).toBe(SpanStatusCode.ERROR);
      expect(everyValue(recorder.spans())).not.toMatch(/CUDA|injected|\bat .+:\d+/);
    });
  });
});
