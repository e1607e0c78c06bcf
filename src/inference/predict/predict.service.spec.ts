import { Logger } from '@nestjs/common';

import { captureAppError } from '../../../test/support/capture-app-error';
import { CountingRuntimeFactory, FaultInjectingFactory, FaultMode, FaultyRuntime, UnloadableRuntime } from '../../../test/support/spec-runtimes';
import { bootModels } from '../../../test/support/wire-models';
import { ErrorCode } from '../../common/errors/error-code';
import { ModelRegistryService } from '../../models/registry/model-registry.service';
import { ModelRuntimeFactory } from '../../models/runtimes/model-runtime';
import { ClassPrediction, RegressionPrediction } from '../../models/wrapper/postprocess';
import { PredictService } from './predict.service';
import { BatchItemResult } from './predict.types';

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VERSICOLOR = [5.9, 3.0, 4.2, 1.5];
const VIRGINICA = [6.7, 3.0, 5.2, 2.3];

/** The /predict transport over the data plane wired on the bundled models (cache off unless asked for). */
async function boot(runtimes: ModelRuntimeFactory, env: Record<string, string> = {}) {
  const { registry, plane, config } = await bootModels(runtimes, env);
  return { registry, sut: new PredictService(plane, config) };
}

beforeAll(() => {
  // Load failures and prediction events are logged on purpose here; keep the test output readable.
  Logger.overrideLogger(false);
});

const successOf = (result: BatchItemResult) => {
  if (result.status !== 'success') throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.prediction;
};

const errorOf = (result: BatchItemResult) => {
  if (result.status !== 'error') throw new Error('expected an error slot');
  return result.error;
};

describe('PredictService on the bundled models', () => {
  let factory: CountingRuntimeFactory;
  let registry: ModelRegistryService;
  let sut: PredictService;

  beforeAll(async () => {
    factory = new CountingRuntimeFactory();
    ({ registry, sut } = await boot(factory));
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  describe('predict', () => {
    it('predicts setosa on the default model (iris, active version 2)', async () => {
      // Act
      const result = await sut.predict({ features: SETOSA }, 'req-1');

      // Assert
      const prediction = result.prediction as ClassPrediction;
      expect(prediction.class).toBe('setosa');
      expect(prediction.confidence).toBeGreaterThan(0.9);
      expect(Object.keys(prediction.probabilities)).toEqual(['setosa', 'versicolor', 'virginica']);
      expect(Object.values(prediction.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(result).toMatchObject({ request_id: 'req-1', model_id: 'iris', model_version: '2', cached: false, variant: 'stable' });
      expect(result.processing_time_ms).toBeGreaterThanOrEqual(0);
    });

    it.each([
      ['versicolor', VERSICOLOR],
      ['virginica', VIRGINICA],
    ])('predicts %s', async (species, features) => {
      // Act
      const result = await sut.predict({ features, model_id: 'iris' }, 'req');

      // Assert
      expect((result.prediction as ClassPrediction).class).toBe(species);
    });

    it('gives the same answer for features by name as for features in order', async () => {
      // Arrange
      const byName = { petal_width: 0.2, petal_length: 1.4, sepal_width: 3.5, sepal_length: 5.1 };

      // Act
      const named = await sut.predict({ features: byName }, 'req');
      const ordered = await sut.predict({ features: SETOSA }, 'req');

      // Assert
      expect(named.prediction).toEqual(ordered.prediction);
    });

    it("serves a pinned version as variant 'pinned'", async () => {
      // Act
      const result = await sut.predict({ features: SETOSA, model_id: 'iris', model_version: 1 }, 'req');

      // Assert
      expect(result.model_version).toBe('1');
      expect(result.variant).toBe('pinned');
      expect((result.prediction as ClassPrediction).class).toBe('setosa');
    });

    it('answers version 1 and version 2 with different models', async () => {
      // Act
      const v1 = await sut.predict({ features: VERSICOLOR, model_version: 1 }, 'req');
      const v2 = await sut.predict({ features: VERSICOLOR, model_version: 2 }, 'req');

      // Assert
      expect((v1.prediction as ClassPrediction).confidence).not.toBe((v2.prediction as ClassPrediction).confidence);
    });

    it('predicts the penguin species', async () => {
      // Act
      const adelie = await sut.predict({ features: [38.8, 18.3, 190, 3700], model_id: 'penguins' }, 'req');
      const gentoo = await sut.predict({ features: [47.5, 15, 217, 5000], model_id: 'penguins' }, 'req');

      // Assert
      expect((adelie.prediction as ClassPrediction).class).toBe('Adelie');
      expect((gentoo.prediction as ClassPrediction).class).toBe('Gentoo');
    });

    it('answers a regression value in miles per gallon', async () => {
      // Arrange
      const datsun = { cylinders: 4, displacement: 97, horsepower: 88, weight_lbs: 2130, acceleration: 14.5, model_year: 1970 };
      const chevelle = { cylinders: 8, displacement: 307, horsepower: 130, weight_lbs: 3504, acceleration: 12, model_year: 1970 };

      // Act
      const light = await sut.predict({ features: datsun, model_id: 'car-mpg' }, 'req');
      const heavy = await sut.predict({ features: chevelle, model_id: 'car-mpg' }, 'req');

      // Assert
      const lightMpg = (light.prediction as RegressionPrediction).value as number;
      const heavyMpg = (heavy.prediction as RegressionPrediction).value as number;
      expect(typeof lightMpg).toBe('number');
      expect(lightMpg).toBeGreaterThan(20);
      expect(lightMpg).toBeLessThan(40);
      expect(heavyMpg).toBeLessThan(lightMpg);
    });

    it('answers the raw output tensor of a tensor model', async () => {
      // Arrange
      const features = { input: [Array.from({ length: 256 }, (_, i) => (i % 7) / 7)] };

      // Act
      const result = await sut.predict({ features, model_id: 'bench-mlp' }, 'req');

      // Assert
      const output = (result.prediction as { output: number[][] }).output;
      expect(output).toHaveLength(1);
      expect(output[0]).toHaveLength(10);
      expect(output[0].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    });

    it('rejects an unknown model with MODEL_NOT_FOUND', async () => {
      // Act
      const error = await captureAppError(sut.predict({ features: SETOSA, model_id: 'tulips' }, 'req'));

      // Assert
      expect(error.code).toBe(ErrorCode.MODEL_NOT_FOUND);
      expect(error.message).toContain('tulips');
    });

    it('rejects an unknown version with VERSION_NOT_FOUND', async () => {
      // Act
      const error = await captureAppError(sut.predict({ features: SETOSA, model_id: 'iris', model_version: 9 }, 'req'));

      // Assert
      expect(error.code).toBe(ErrorCode.VERSION_NOT_FOUND);
      expect(error.message).toContain('9');
    });

    it("rejects invalid features with VALIDATION_FAILED naming each, without running the model, and leaves the version's health alone", async () => {
      // Arrange
      const stats = registry.get('iris').versions.get(2)!.stats;
      const errorsBefore = stats.getHealthMetrics().error_count;
      const callsBefore = factory.calls.length;

      // Act
      const error = await captureAppError(sut.predict({ features: { sepal_length: 'long', petal_width: 0.2 } }, 'req'));

      // Assert
      expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
      expect(error.details.map((d) => d.field).sort()).toEqual(['features.petal_length', 'features.sepal_length', 'features.sepal_width']);
      expect(factory.calls.length).toBe(callsBefore);
      // The caller's fault: /health must not call the version degraded for it.
      expect(stats.getHealthMetrics().error_count).toBe(errorsBefore);
    });

    it('counts a success in the stats of the version that served it', async () => {
      // Arrange
      const stats = registry.get('iris').versions.get(1)!.stats;
      const before = stats.getHealthMetrics();

      // Act
      await sut.predict({ features: SETOSA, model_version: 1 }, 'req');

      // Assert
      const after = stats.getHealthMetrics();
      expect(after.total_requests).toBe(before.total_requests + 1);
      expect(after.error_count).toBe(before.error_count);
    });
  });

  describe('predictBatch', () => {
    it('puts an error in the slot of a bad item and runs the valid ones in exactly one inference call', async () => {
      // Arrange
      const items = [SETOSA, [5.1, 'wide', 1.4, 0.2], { features: VIRGINICA }, { features: { sepal_length: 5.9, sepal_width: 3, petal_length: 4.2, petal_width: 1.5 } }];
      const callsBefore = factory.calls.length;

      // Act
      const result = await sut.predictBatch(items, 'iris');

      // Assert
      const calls = factory.calls.slice(callsBefore);
      expect(calls).toHaveLength(1);
      expect(calls[0].input.shape).toEqual([3, 4]);
      expect(result.results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
      expect((successOf(result.results[0]) as ClassPrediction).class).toBe('setosa');
      const slot = errorOf(result.results[1]);
      expect(slot.code).toBe(ErrorCode.VALIDATION_FAILED);
      expect(slot.message).toMatch(/^Invalid features/);
      expect(slot.details).toEqual([{ field: 'features[1] (sepal_width)', message: 'must be a number, got string' }]);
      expect((successOf(result.results[2]) as ClassPrediction).class).toBe('virginica');
      expect((successOf(result.results[3]) as ClassPrediction).class).toBe('versicolor');
      expect(result).toMatchObject({ model_id: 'iris', model_version: '2', batch_size: 4, succeeded: 3, failed: 1 });
    });

    it('gives each item the same prediction as a single request', async () => {
      // Act
      const batch = await sut.predictBatch([VERSICOLOR, SETOSA], 'iris');
      const single = await sut.predict({ features: VERSICOLOR, model_id: 'iris' }, 'req');

      // Assert
      expect(successOf(batch.results[0])).toEqual(single.prediction);
    });

    it('runs a pinned version', async () => {
      // Act
      const result = await sut.predictBatch([SETOSA], 'iris', 1);

      // Assert
      expect(result.model_version).toBe('1');
    });

    it('uses the default model when none is named', async () => {
      // Act
      const result = await sut.predictBatch([SETOSA], undefined);

      // Assert
      expect(result.model_id).toBe('iris');
    });

    it('does not run the model when every item is invalid', async () => {
      // Arrange
      const callsBefore = factory.calls.length;

      // Act
      const result = await sut.predictBatch([null, 'x', [1, 2]], 'iris');

      // Assert
      expect(factory.calls.length).toBe(callsBefore);
      expect(result).toMatchObject({ succeeded: 0, failed: 3 });
      expect(result.results.every((r) => r.status === 'error' && r.error.code === ErrorCode.VALIDATION_FAILED)).toBe(true);
    });

    it('accepts MAX_BATCH_ITEMS (100) items in one inference call', async () => {
      // Arrange
      const items = Array.from({ length: 100 }, () => SETOSA);
      const callsBefore = factory.calls.length;

      // Act
      const result = await sut.predictBatch(items, 'iris');

      // Assert
      expect(result.succeeded).toBe(100);
      expect(factory.calls.length - callsBefore).toBe(1);
    });

    it('rejects more than MAX_BATCH_ITEMS items with BATCH_TOO_LARGE before running anything', async () => {
      // Arrange
      const items = Array.from({ length: 101 }, () => SETOSA);
      const callsBefore = factory.calls.length;

      // Act
      const error = await captureAppError(sut.predictBatch(items, 'iris'));

      // Assert
      expect(error.code).toBe(ErrorCode.BATCH_TOO_LARGE);
      expect(error.message).toContain('101');
      expect(factory.calls.length).toBe(callsBefore);
    });

    it('rejects an unknown model with MODEL_NOT_FOUND', async () => {
      // Act
      const error = await captureAppError(sut.predictBatch([SETOSA], 'tulips'));

      // Assert
      expect(error.code).toBe(ErrorCode.MODEL_NOT_FOUND);
    });

    it('stacks tensor requests of different row counts into one call and splits the output back per request', async () => {
      // Arrange
      const row = (seed: number) => Array.from({ length: 256 }, (_, i) => ((i * seed) % 11) / 11);
      const items = [{ input: [row(1)] }, { input: [row(2), row(3)] }];
      const callsBefore = factory.calls.length;

      // Act
      const result = await sut.predictBatch(items, 'bench-mlp');

      // Assert
      const calls = factory.calls.slice(callsBefore);
      expect(calls).toHaveLength(1);
      expect(calls[0].input.shape).toEqual([3, 256]);
      const first = successOf(result.results[0]) as { output: number[][] };
      const second = successOf(result.results[1]) as { output: number[][] };
      expect(first.output).toHaveLength(1);
      expect(second.output).toHaveLength(2);
      const single = await sut.predict({ features: { input: [row(2)] }, model_id: 'bench-mlp' }, 'req');
      const expected = (single.prediction as { output: number[][] }).output[0];
      second.output[0].forEach((p, i) => expect(p).toBeCloseTo(expected[i], 5));
    });
  });
});

describe('PredictService with the prediction cache on', () => {
  let factory: CountingRuntimeFactory;
  let registry: ModelRegistryService;
  let sut: PredictService;

  beforeAll(async () => {
    factory = new CountingRuntimeFactory();
    ({ registry, sut } = await boot(factory, { ENABLE_CACHING: 'true' }));
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  it('answers a repeated request from the cache without running the model', async () => {
    // Arrange
    const first = await sut.predict({ features: VIRGINICA, model_id: 'iris' }, 'req-1');
    const callsBefore = factory.calls.length;

    // Act
    const second = await sut.predict({ features: VIRGINICA, model_id: 'iris' }, 'req-2');

    // Assert
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.prediction).toEqual(first.prediction);
    expect(second.request_id).toBe('req-2');
    expect(factory.calls.length).toBe(callsBefore);
  });

  it('does not answer another version from the cache', async () => {
    // Arrange
    await sut.predict({ features: SETOSA, model_id: 'iris', model_version: 2 }, 'req');
    const callsBefore = factory.calls.length;

    // Act
    const other = await sut.predict({ features: SETOSA, model_id: 'iris', model_version: 1 }, 'req');

    // Assert
    expect(other.cached).toBe(false);
    expect(other.model_version).toBe('1');
    expect(factory.calls.length).toBe(callsBefore + 1);
  });

  it('bypasses the cache when the request says options.cache = false', async () => {
    // Arrange
    await sut.predict({ features: VERSICOLOR, model_id: 'iris' }, 'req');
    const callsBefore = factory.calls.length;

    // Act
    const again = await sut.predict({ features: VERSICOLOR, model_id: 'iris', options: { cache: false } }, 'req');

    // Assert
    expect(again.cached).toBe(false);
    expect(factory.calls.length).toBe(callsBefore + 1);
  });
});

/** Short inference timeout; shutdown does not wait long for a batch that will never finish. */
const FAULT_ENV = { TIMEOUT_SECONDS: '0.05', SHUTDOWN_TIMEOUT_SECONDS: '0.1' };
const ADELIE = [38.8, 18.3, 190, 3700];
const GENTOO = [47.5, 15, 217, 5000];

describe('PredictService with a runtime that fails', () => {
  const control: { mode: FaultMode } = { mode: 'ok' };
  let registry: ModelRegistryService;
  let sut: PredictService;

  beforeAll(async () => {
    const factory = new FaultInjectingFactory({
      penguins: () => new FaultyRuntime(control),
      'car-mpg': () => new UnloadableRuntime(),
    });
    ({ registry, sut } = await boot(factory, FAULT_ENV));
  });

  afterEach(() => {
    control.mode = 'ok';
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  const penguinStats = () => registry.get('penguins').versions.get(1)!.stats;

  it("serves the fault runtime's answer while it behaves", async () => {
    // Act
    const result = await sut.predict({ features: ADELIE, model_id: 'penguins' }, 'req');

    // Assert
    expect((result.prediction as ClassPrediction).class).toBe('Gentoo');
  });

  it('turns a failing run into INFERENCE_FAILED without leaking the cause, and counts the error', async () => {
    // Arrange
    control.mode = 'reject';
    const before = penguinStats().getHealthMetrics();

    // Act
    const error = await captureAppError(sut.predict({ features: ADELIE, model_id: 'penguins' }, 'req'));

    // Assert
    expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(error.message).not.toContain('CUDA');
    const after = penguinStats().getHealthMetrics();
    expect(after.error_count).toBe(before.error_count + 1);
    expect(after.total_requests).toBe(before.total_requests + 1);
    expect(after.status).toBe('degraded');
  });

  it('puts INFERENCE_FAILED in every valid slot of a batch whose inference fails, counting each (not the invalid item)', async () => {
    // Arrange
    control.mode = 'reject';
    const before = penguinStats().getHealthMetrics();

    // Act
    const result = await sut.predictBatch([ADELIE, 'bad', GENTOO], 'penguins');

    // Assert
    expect(result.results.map((r) => errorOf(r).code)).toEqual([
      ErrorCode.INFERENCE_FAILED,
      ErrorCode.VALIDATION_FAILED,
      ErrorCode.INFERENCE_FAILED,
    ]);
    expect(result).toMatchObject({ succeeded: 0, failed: 3 });
    expect(penguinStats().getHealthMetrics().error_count).toBe(before.error_count + 2);
  });

  it('serves again once the runtime recovers', async () => {
    // Arrange
    control.mode = 'reject';
    await captureAppError(sut.predict({ features: ADELIE, model_id: 'penguins' }, 'req'));
    control.mode = 'ok';

    // Act
    const result = await sut.predict({ features: ADELIE, model_id: 'penguins' }, 'req');

    // Assert
    expect((result.prediction as ClassPrediction).class).toBe('Gentoo');
  });

  it('marks a version whose load() rejects FAILED with the reason, and refuses it as MODEL_NOT_READY', async () => {
    // Act
    const error = await captureAppError(sut.predict({ features: [4, 97, 88, 2130, 14.5, 1970], model_id: 'car-mpg' }, 'req'));

    // Assert
    const version = registry.get('car-mpg').versions.get(1)!;
    expect(version.state).toBe('FAILED');
    // The runtime's own text (here 'out of memory while loading') stays in the log; the reason is ours.
    expect(version.reason).toBe('onnxruntime could not load model.onnx (its message is in the server log)');
    expect(error.code).toBe(ErrorCode.MODEL_NOT_READY);
  });

  it('keeps the other models READY and serving', async () => {
    // Act
    const result = await sut.predict({ features: SETOSA, model_id: 'iris' }, 'req');

    // Assert
    expect((result.prediction as ClassPrediction).class).toBe('setosa');
    expect([...registry.get('iris').versions.values()].map((v) => v.state)).toEqual(['READY', 'READY']);
    expect(registry.get('bench-mlp').versions.get(1)!.state).toBe('READY');
    expect(registry.get('penguins').versions.get(1)!.state).toBe('READY');
  });
});

describe('PredictService with a runtime that never answers', () => {
  // Stalls only after the warm-up at load, which must succeed for the version to be READY.
  const control: { mode: FaultMode } = { mode: 'ok' };
  let registry: ModelRegistryService;
  let sut: PredictService;

  beforeAll(async () => {
    ({ registry, sut } = await boot(new FaultInjectingFactory({ penguins: () => new FaultyRuntime(control) }), FAULT_ENV));
    control.mode = 'stall';
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  const penguinStats = () => registry.get('penguins').versions.get(1)!.stats;

  it('turns a stalled run into INFERENCE_TIMEOUT after TIMEOUT_SECONDS, and counts the error', async () => {
    // Arrange
    const before = penguinStats().getHealthMetrics();

    // Act: the run never returns, so only the timeout can answer (its timing is with-timeout.spec's, on fake timers)
    const error = await captureAppError(sut.predict({ features: ADELIE, model_id: 'penguins' }, 'req'));

    // Assert
    expect(error.code).toBe(ErrorCode.INFERENCE_TIMEOUT);
    expect(penguinStats().getHealthMetrics().error_count).toBe(before.error_count + 1);
  });

  it('puts INFERENCE_TIMEOUT in every valid slot of a batch whose inference stalls', async () => {
    // Act
    const result = await sut.predictBatch([ADELIE, GENTOO], 'penguins');

    // Assert
    expect(result.results.map((r) => errorOf(r).code)).toEqual([ErrorCode.INFERENCE_TIMEOUT, ErrorCode.INFERENCE_TIMEOUT]);
    expect(result.failed).toBe(2);
  });

  it('keeps the other models serving', async () => {
    // Act
    const result = await sut.predict({ features: SETOSA, model_id: 'iris' }, 'req');

    // Assert
    expect((result.prediction as ClassPrediction).class).toBe('setosa');
  });
});
