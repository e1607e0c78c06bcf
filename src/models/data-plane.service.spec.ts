import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';

import { captureAppError } from '../../test/support/capture-app-error';
import { CountingRuntimeFactory, FaultInjectingFactory, FaultMode, FaultyRuntime, GatedRuntimeFactory, UnloadableRuntime } from '../../test/support/spec-runtimes';
import { bootModels } from '../../test/support/wire-models';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { MetricsService } from '../metrics/metrics.service';
import { DataPlane } from './data-plane.service';
import { ModelRegistryService } from './registry/model-registry.service';
import { RolloutService } from './rollout/rollout.service';
import { NamedTensors } from './tensors/tensor';

/** One iris row as every codec encodes it for the bundled iris models: FP32 [1, 4] on `input`. */
const irisRow = (values: number[]): NamedTensors => ({ input: { datatype: 'FP32', shape: [1, values.length], data: Float32Array.from(values) } });
const irisRows = (rows: number[][]): NamedTensors => ({ input: { datatype: 'FP32', shape: [rows.length, 4], data: Float32Array.from(rows.flat()) } });

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VERSICOLOR = [5.9, 3.0, 4.2, 1.5];
const VIRGINICA = [6.7, 3.0, 5.2, 2.3];
/** Finite FP32 inputs the bundled iris model answers with NaN probabilities. */
const OUT_OF_RANGE = [3e38, 3e38, 3e38, 3e38];
const ADELIE = [38.8, 18.3, 190, 3700];
/** A row the bundled iris versions classify differently (version 1: virginica, version 2: setosa). */
const VERSIONS_DISAGREE = [4.5, 3.0, 2.5, 2.4];

const probabilities = (outputs: NamedTensors): number[] => Array.from(outputs.probabilities.data as Float32Array);
const argmax = (values: number[]): number => values.indexOf(Math.max(...values));

/** A counter's value in the metrics registry (0 before its first increment). */
async function counter(metrics: MetricsService, name: string, labels: Record<string, string | number>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  const values = metric ? (await metric.get()).values : [];
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === String(want)));
  return match?.value ?? 0;
}

beforeAll(() => {
  // Load failures and prediction events are logged on purpose here; keep the test output readable.
  Logger.overrideLogger(false);
});

describe('DataPlane on the bundled models', () => {
  let factory: CountingRuntimeFactory;
  let registry: ModelRegistryService;
  let metrics: MetricsService;
  let sut: DataPlane;

  beforeAll(async () => {
    factory = new CountingRuntimeFactory();
    ({ registry, metrics, plane: sut } = await bootModels(factory));
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  describe('infer', () => {
    it("routes a request naming no model to the default model's active version and answers its outputs", async () => {
      // Act
      const result = await sut.infer({ inputs: irisRow(SETOSA) });

      // Assert
      expect(result).toMatchObject({ modelId: 'iris', version: 2, variant: 'stable', cached: false });
      expect(result.outputs.probabilities.shape).toEqual([1, 3]);
      const p = probabilities(result.outputs);
      expect(argmax(p)).toBe(0);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    });

    it("serves a pinned version as variant 'pinned', with its own model", async () => {
      // Act
      const v1 = await sut.infer({ model: 'iris', version: 1, inputs: irisRow(VERSICOLOR) });
      const v2 = await sut.infer({ model: 'iris', version: 2, inputs: irisRow(VERSICOLOR) });

      // Assert
      expect(v1).toMatchObject({ version: 1, variant: 'pinned' });
      expect(probabilities(v1.outputs)).not.toEqual(probabilities(v2.outputs));
    });

    it('runs on the route it is given, not on a new one', async () => {
      // Arrange
      const route = sut.route('iris', 1);

      // Act
      const result = await sut.infer({ route, model: 'penguins', version: 9, inputs: irisRow(SETOSA) });

      // Assert
      expect(result).toMatchObject({ modelId: 'iris', version: 1, variant: 'pinned' });
    });

    it('answers every row of a multi-row request', async () => {
      // Act
      const result = await sut.infer({ model: 'iris', inputs: irisRows([SETOSA, VERSICOLOR, VIRGINICA]) });

      // Assert
      expect(result.outputs.probabilities.shape).toEqual([3, 3]);
      const p = probabilities(result.outputs);
      expect([0, 1, 2].map((r) => argmax(p.slice(r * 3, r * 3 + 3)))).toEqual([0, 1, 2]);
    });

    it.each([
      ['an unknown model', { model: 'tulips' }, ErrorCode.MODEL_NOT_FOUND, 'tulips'],
      ['an unknown version', { model: 'iris', version: 9 }, ErrorCode.VERSION_NOT_FOUND, '9'],
    ])('refuses %s before running anything', async (_, target, code, named) => {
      // Arrange
      const callsBefore = factory.calls.length;

      // Act
      const error = await captureAppError(sut.infer({ ...target, inputs: irisRow(SETOSA) }));

      // Assert
      expect(error.code).toBe(code);
      expect(error.message).toContain(named);
      expect(factory.calls.length).toBe(callsBefore);
    });

    it('counts a success in the stats of the version that served it', async () => {
      // Arrange
      const stats = registry.get('iris').versions.get(1)!.stats;
      const before = stats.getHealthMetrics();

      // Act
      await sut.infer({ model: 'iris', version: 1, inputs: irisRow(SETOSA) });

      // Assert
      const after = stats.getHealthMetrics();
      expect(after.total_requests).toBe(before.total_requests + 1);
      expect(after.error_count).toBe(before.error_count);
    });

    it("refuses non-finite outputs with VALIDATION_FAILED naming them, counted in the metrics but not against the version's health (the inputs were the caller's)", async () => {
      // Arrange
      const stats = registry.get('iris').versions.get(2)!.stats;
      const errorsBefore = stats.getHealthMetrics().error_count;
      const labels = { model_id: 'iris', model_version: 2, reason: 'validation' };
      const countedBefore = await counter(metrics, 'ml_prediction_errors_total', labels);

      // Act
      const error = await captureAppError(sut.infer({ model: 'iris', inputs: irisRow(OUT_OF_RANGE) }));

      // Assert
      expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
      expect(error.details).toEqual([{ field: 'features', message: expect.stringContaining('not finite') }]);
      expect(stats.getHealthMetrics().error_count).toBe(errorsBefore);
      expect(await counter(metrics, 'ml_prediction_errors_total', labels)).toBe(countedBefore + 1);
    });
  });

  describe('stacked requests (/predict/batch)', () => {
    it('runs them in one call and counts each in the version stats', async () => {
      // Arrange
      const stats = registry.get('iris').versions.get(2)!.stats;
      const before = stats.getHealthMetrics().total_requests;
      const callsBefore = factory.calls.length;

      // Act
      const result = await sut.infer({ model: 'iris', inputs: irisRows([SETOSA, VIRGINICA, VERSICOLOR]), stackedRequests: 3 });

      // Assert
      expect(factory.calls.length - callsBefore).toBe(1);
      expect(result.outputs.probabilities.shape).toEqual([3, 3]);
      expect(stats.getHealthMetrics().total_requests).toBe(before + 3);
    });

    it('leaves non-finite rows to the caller: the others are answered', async () => {
      // Act
      const result = await sut.infer({ model: 'iris', inputs: irisRows([SETOSA, OUT_OF_RANGE]), stackedRequests: 2 });

      // Assert
      const p = probabilities(result.outputs);
      expect(p.slice(0, 3).every(Number.isFinite)).toBe(true);
      expect(p.slice(3).some(Number.isNaN)).toBe(true);
    });
  });

  describe('rejected', () => {
    it("counts a request the codec refused in the routed version's metrics (reason validation), not against its health, without running it", async () => {
      // Arrange
      const route = sut.route(undefined);
      const before = route.version.stats.getHealthMetrics();
      const callsBefore = factory.calls.length;
      const error = AppError.validation([{ field: 'features.x', message: 'is required' }], 'Invalid features');
      const labels = { model_id: route.entry.name, model_version: route.version.version, reason: 'validation' };
      const countedBefore = await counter(metrics, 'ml_prediction_errors_total', labels);

      // Act
      const returned = sut.rejected(route, error, performance.now());

      // Assert
      expect(returned).toBe(error);
      const after = route.version.stats.getHealthMetrics();
      expect(after.total_requests).toBe(before.total_requests);
      expect(after.error_count).toBe(before.error_count);
      expect(await counter(metrics, 'ml_prediction_errors_total', labels)).toBe(countedBefore + 1);
      expect(factory.calls.length).toBe(callsBefore);
    });
  });
});

describe('DataPlane: an answer computed across a clear of the cache (a reload)', () => {
  it('is not cached: the next request runs the model instead of getting the answer computed before the clear', async () => {
    // Arrange
    const factory = new GatedRuntimeFactory();
    const { registry, cache, plane: sut } = await bootModels(factory, { ENABLE_CACHING: 'true' });
    try {
      const gate = factory.hold();
      const inFlight = sut.infer({ model: 'iris', inputs: irisRow(SETOSA) });
      await gate.reached;

      // Act: the model is cleared from the cache (as a reload does) while the request runs on it
      await cache.clear('iris');
      gate.release();
      const first = await inFlight;
      const next = await sut.infer({ model: 'iris', inputs: irisRow(SETOSA) });

      // Assert
      expect([first.cached, next.cached]).toEqual([false, false]);
      expect((await sut.infer({ model: 'iris', inputs: irisRow(SETOSA) })).cached).toBe(true);
    } finally {
      await registry.onApplicationShutdown();
    }
  });
});

describe('DataPlane with CACHE_MAX_INPUT_KB', () => {
  let factory: CountingRuntimeFactory;
  let registry: ModelRegistryService;
  let metrics: MetricsService;
  let sut: DataPlane;

  beforeAll(async () => {
    factory = new CountingRuntimeFactory();
    ({ registry, metrics, plane: sut } = await bootModels(factory, { ENABLE_CACHING: 'true', CACHE_MAX_INPUT_KB: '1' }));
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  it('neither looks up nor stores inputs larger than the bound, and still caches smaller ones', async () => {
    // Arrange: 80 rows of 4 FP32 = 1,280 bytes, over 1 KiB; one row is 16 bytes
    const large = irisRows(Array.from({ length: 80 }, (_, i) => [5 + i / 100, 3.1, 1.6, 0.3]));
    const missesBefore = await counter(metrics, 'ml_cache_misses_total', { model_id: 'iris' });
    await sut.infer({ model: 'iris', inputs: large });
    await sut.infer({ model: 'iris', inputs: irisRow(SETOSA) });
    const callsBefore = factory.calls.length;

    // Act
    const [largeAgain, smallAgain] = [await sut.infer({ model: 'iris', inputs: large }), await sut.infer({ model: 'iris', inputs: irisRow(SETOSA) })];

    // Assert: the large request ran the model again and counted no miss; the small one was a hit
    expect([largeAgain.cached, smallAgain.cached]).toEqual([false, true]);
    expect(factory.calls.length).toBe(callsBefore + 1);
    expect(await counter(metrics, 'ml_cache_misses_total', { model_id: 'iris' })).toBe(missesBefore + 1);
  });
});

describe('DataPlane with the prediction cache on', () => {
  let factory: CountingRuntimeFactory;
  let registry: ModelRegistryService;
  let metrics: MetricsService;
  let sut: DataPlane;

  beforeAll(async () => {
    factory = new CountingRuntimeFactory();
    ({ registry, metrics, plane: sut } = await bootModels(factory, { ENABLE_CACHING: 'true' }));
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  it('answers the same tensors again from the cache without running the model, counted as a served hit', async () => {
    // Arrange
    const first = await sut.infer({ model: 'iris', inputs: irisRow(VIRGINICA) });
    const callsBefore = factory.calls.length;
    const stats = registry.get('iris').versions.get(2)!.stats;
    const servedBefore = stats.getHealthMetrics().total_requests;
    const hitsBefore = await counter(metrics, 'ml_cache_hits_total', { model_id: 'iris' });

    // Act
    const second = await sut.infer({ model: 'iris', inputs: irisRow(VIRGINICA) });

    // Assert
    expect([first.cached, second.cached]).toEqual([false, true]);
    expect(second.outputs).toEqual(first.outputs);
    expect(factory.calls.length).toBe(callsBefore);
    expect(stats.getHealthMetrics().total_requests).toBe(servedBefore + 1);
    expect(await counter(metrics, 'ml_cache_hits_total', { model_id: 'iris' })).toBe(hitsBefore + 1);
  });

  it('does not answer another version from the cache', async () => {
    // Arrange
    await sut.infer({ model: 'iris', version: 2, inputs: irisRow(SETOSA) });
    const callsBefore = factory.calls.length;

    // Act
    const other = await sut.infer({ model: 'iris', version: 1, inputs: irisRow(SETOSA) });

    // Assert
    expect(other).toMatchObject({ version: 1, cached: false });
    expect(factory.calls.length).toBe(callsBefore + 1);
  });

  it('bypasses the cache when the request says cache: false', async () => {
    // Arrange
    await sut.infer({ model: 'iris', inputs: irisRow(VERSICOLOR) });
    const callsBefore = factory.calls.length;

    // Act
    const again = await sut.infer({ model: 'iris', inputs: irisRow(VERSICOLOR), cache: false });

    // Assert
    expect(again.cached).toBe(false);
    expect(factory.calls.length).toBe(callsBefore + 1);
  });

  it('neither reads nor fills the cache for stacked requests', async () => {
    // Arrange
    const rows = irisRows([[5.0, 3.4, 1.5, 0.2], [6.3, 2.9, 5.6, 1.8]]);
    const missesBefore = await counter(metrics, 'ml_cache_misses_total', { model_id: 'iris' });
    await sut.infer({ model: 'iris', inputs: rows, stackedRequests: 2 });
    const callsBefore = factory.calls.length;

    // Act
    const again = await sut.infer({ model: 'iris', inputs: rows, stackedRequests: 2 });

    // Assert
    expect(again.cached).toBe(false);
    expect(factory.calls.length).toBe(callsBefore + 1);
    expect(await counter(metrics, 'ml_cache_misses_total', { model_id: 'iris' })).toBe(missesBefore);
  });

  it('does not cache a refused (non-finite) answer', async () => {
    // Arrange
    await captureAppError(sut.infer({ model: 'iris', inputs: irisRow(OUT_OF_RANGE) }));
    const callsBefore = factory.calls.length;

    // Act
    const error = await captureAppError(sut.infer({ model: 'iris', inputs: irisRow(OUT_OF_RANGE) }));

    // Assert
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(factory.calls.length).toBe(callsBefore + 1);
  });
});

describe('DataPlane shadow traffic', () => {
  let registry: ModelRegistryService;
  let rollout: RolloutService;
  let metrics: MetricsService;
  let sut: DataPlane;

  beforeAll(async () => {
    ({ registry, rollout, metrics, plane: sut } = await bootModels(new CountingRuntimeFactory()));
    await rollout.setShadow('iris', { version: 1, percentage: 100 });
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  /** Waits until the shadow has compared `count` answers (it runs after the caller's answer). */
  async function comparedReaches(count: number): Promise<number> {
    for (let i = 0; i < 100 && rollout.shadowStats('iris').compared < count; i += 1) await sleep(10);
    return rollout.shadowStats('iris').compared;
  }

  it("mirrors a stable request to the shadow version and compares the two answers' classes", async () => {
    // Arrange
    const before = rollout.shadowStats('iris').compared;

    // Act
    await sut.infer({ model: 'iris', inputs: irisRow(SETOSA) });

    // Assert: both iris versions call this row setosa.
    expect(await comparedReaches(before + 1)).toBe(before + 1);
    expect(rollout.shadowStats('iris')).toMatchObject({ requests: before + 1, errors: 0, agreement_rate: 1 });
  });

  it('compares every row of a multi-row request as one answer', async () => {
    // Arrange
    const before = rollout.shadowStats('iris').compared;

    // Act
    await sut.infer({ model: 'iris', inputs: irisRows([SETOSA, VIRGINICA]) });

    // Assert
    expect(await comparedReaches(before + 1)).toBe(before + 1);
    expect(rollout.shadowStats('iris').agreement_rate).toBe(1);
  });

  it('counts one disagreement when the shadow names another class for any row of the request', async () => {
    // Arrange
    const before = rollout.shadowStats('iris').compared;
    const disagreed = await counter(metrics, 'ml_shadow_agreement_total', { model_id: 'iris', agree: 'false' });

    // Act
    await sut.infer({ model: 'iris', inputs: irisRows([SETOSA, VERSIONS_DISAGREE]) });

    // Assert
    expect(await comparedReaches(before + 1)).toBe(before + 1);
    expect(await counter(metrics, 'ml_shadow_agreement_total', { model_id: 'iris', agree: 'false' })).toBe(disagreed + 1);
  });

  it('does not mirror stacked requests or pinned ones', async () => {
    // Arrange
    const before = rollout.shadowStats('iris');

    // Act: then one stable request that is mirrored, as a marker: shadows run in order, so once its
    // comparison is counted any shadow of the two before it would have been too (no fixed wait)
    await sut.infer({ model: 'iris', inputs: irisRows([SETOSA, VIRGINICA]), stackedRequests: 2 });
    await sut.infer({ model: 'iris', version: 2, inputs: irisRow(SETOSA) });
    // (a row no other test sends, so no cache entry answers it unmirrored)
    await sut.infer({ model: 'iris', inputs: irisRow([6.1, 2.8, 4.7, 1.2]) });
    await comparedReaches(before.compared + 1);

    // Assert
    expect(rollout.shadowStats('iris').requests).toBe(before.requests + 1);
  });
});

/** Short inference timeout; shutdown does not wait long for a batch that will never finish. */
const FAULT_ENV = { TIMEOUT_SECONDS: '0.05', SHUTDOWN_TIMEOUT_SECONDS: '0.1' };

describe('DataPlane with a runtime that fails', () => {
  const control: { mode: FaultMode } = { mode: 'ok' };
  let registry: ModelRegistryService;
  let sut: DataPlane;

  beforeAll(async () => {
    const factory = new FaultInjectingFactory({
      penguins: () => new FaultyRuntime(control),
      'car-mpg': () => new UnloadableRuntime(),
    });
    ({ registry, plane: sut } = await bootModels(factory, FAULT_ENV));
  });

  afterEach(() => {
    control.mode = 'ok';
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  const penguinStats = () => registry.get('penguins').versions.get(1)!.stats;
  const penguin = () => sut.infer({ model: 'penguins', inputs: irisRow(ADELIE) });

  it('turns a failing run into INFERENCE_FAILED without leaking the cause, and counts the error', async () => {
    // Arrange
    control.mode = 'reject';
    const before = penguinStats().getHealthMetrics();

    // Act
    const error = await captureAppError(penguin());

    // Assert
    expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(error.message).not.toContain('CUDA');
    const after = penguinStats().getHealthMetrics();
    expect(after.error_count).toBe(before.error_count + 1);
    expect(after.total_requests).toBe(before.total_requests + 1);
  });

  it('answers inputs the runtime refused with VALIDATION_FAILED and its message, counted as validation, not against the version\'s health', async () => {
    // Arrange
    control.mode = 'refuse';
    const before = penguinStats().getHealthMetrics();

    // Act
    const error = await captureAppError(penguin());

    // Assert
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.message).toBe("Inference failed for model 'penguins' version 1: the model cannot run these inputs: Invalid rank for input: input Got: 3 Expected: 2 (injected)");
    expect(penguinStats().getHealthMetrics().error_count).toBe(before.error_count);
  });

  it('answers another failure of the runtime\'s library with INFERENCE_FAILED and its public message, counted as an error', async () => {
    // Arrange
    control.mode = 'library';
    const before = penguinStats().getHealthMetrics();

    // Act
    const error = await captureAppError(penguin());

    // Assert
    expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(error.message).toBe("Inference failed for model 'penguins' version 1: Failed to allocate memory (injected)");
    expect(penguinStats().getHealthMetrics().error_count).toBe(before.error_count + 1);
  });

  it('counts every stacked request of a failed run as failed', async () => {
    // Arrange
    control.mode = 'reject';
    const before = penguinStats().getHealthMetrics().error_count;

    // Act
    const error = await captureAppError(sut.infer({ model: 'penguins', inputs: irisRows([ADELIE, ADELIE, ADELIE]), stackedRequests: 3 }));

    // Assert
    expect(error.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(penguinStats().getHealthMetrics().error_count).toBe(before + 3);
  });

  it('serves again once the runtime recovers', async () => {
    // Arrange
    control.mode = 'reject';
    await captureAppError(penguin());
    control.mode = 'ok';

    // Act
    const result = await penguin();

    // Assert
    expect(result).toMatchObject({ modelId: 'penguins', version: 1, cached: false });
  });

  it('refuses a version whose load() rejected as MODEL_NOT_READY', async () => {
    // Act
    const error = await captureAppError(sut.infer({ model: 'car-mpg', inputs: irisRow([4, 97, 88, 2130, 14.5, 1970]) }));

    // Assert
    expect(registry.get('car-mpg').versions.get(1)!.state).toBe('FAILED');
    expect(error.code).toBe(ErrorCode.MODEL_NOT_READY);
  });

  it('turns a stalled run into INFERENCE_TIMEOUT after TIMEOUT_SECONDS, and counts the error', async () => {
    // Arrange
    control.mode = 'stall';
    const before = penguinStats().getHealthMetrics();
    const started = Date.now();

    // Act
    const error = await captureAppError(penguin());

    // Assert
    expect(error.code).toBe(ErrorCode.INFERENCE_TIMEOUT);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(penguinStats().getHealthMetrics().error_count).toBe(before.error_count + 1);
  });
});
