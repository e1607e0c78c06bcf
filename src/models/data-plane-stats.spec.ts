import { Logger } from '@nestjs/common';

import { captureAppError } from '../../test/support/capture-app-error';
import { bootModels } from '../../test/support/wire-models';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { DataPlane } from './data-plane.service';
import { ModelRegistryService } from './registry/model-registry.service';
import { DefaultRuntimeFactory } from './runtimes/default-runtime.factory';
import { ModelRuntime, ModelRuntimeFactory, RuntimeOptions, RuntimeSignature } from './runtimes/model-runtime';
import { NamedTensors } from './tensors/tensor';
import { InferenceStatsSnapshot } from './wrapper/inference-stats';
import { StatsClock } from './wrapper/stats-clock';

/** Each run of a runtime takes this long on the statistics clock; nothing else moves it. */
const RUN_NS = 1_000_000;
const EPOCH_MS = 1_700_000_000_000;

/** A statistics clock that moves only when a run moves it. */
class ManualClock extends StatsClock {
  ns = 0;
  epoch = EPOCH_MS;

  nowNs(): number {
    return this.ns;
  }

  epochMs(): number {
    return this.epoch;
  }
}

/** The real runtimes, each run advancing the manual clock by RUN_NS (inference itself stays real). */
class ClockedRuntime extends ModelRuntime {
  constructor(private readonly inner: ModelRuntime, private readonly clock: ManualClock) {
    super();
  }

  load(path: string, options?: RuntimeOptions): Promise<RuntimeSignature> {
    return this.inner.load(path, options);
  }

  run(inputs: NamedTensors): Promise<NamedTensors> {
    this.clock.ns += RUN_NS;
    return this.inner.run(inputs);
  }

  unload(): Promise<void> {
    return this.inner.unload();
  }
}

class ClockedRuntimeFactory extends ModelRuntimeFactory {
  private readonly real = new DefaultRuntimeFactory();

  constructor(private readonly clock: ManualClock) {
    super();
  }

  create(kind: string): ModelRuntime {
    return new ClockedRuntime(this.real.create(kind), this.clock);
  }
}

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA = [6.7, 3.0, 5.2, 2.3];
/** Finite FP32 inputs the bundled iris model answers with NaN probabilities. */
const OUT_OF_RANGE = [3e38, 3e38, 3e38, 3e38];
const irisRows = (rows: number[][]): NamedTensors => ({ input: { datatype: 'FP32', shape: [rows.length, 4], data: Float32Array.from(rows.flat()) } });

beforeAll(() => {
  Logger.overrideLogger(false);
});

describe.each([
  ['without the cache', 'false'],
  ['with the cache', 'true'],
])('DataPlane statistics extension %s (bundled models, injected clock)', (_, caching) => {
  let clock: ManualClock;
  let registry: ModelRegistryService;
  let sut: DataPlane;
  /** iris's version `n` statistics now. */
  const statsOf = (n: number): InferenceStatsSnapshot => registry.version(registry.get('iris'), n).inferenceStats.snapshot();

  beforeAll(async () => {
    clock = new ManualClock();
    ({ registry, plane: sut } = await bootModels(new ClockedRuntimeFactory(clock), { ENABLE_CACHING: caching }, clock));
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  it('starts every version at zero: the warm-up run is not counted', () => {
    // Act
    const stats = statsOf(1);

    // Assert
    expect(stats.execution_count).toBe(0);
    expect(stats.inference_stats.success.count).toBe(0);
  });

  it('counts a request as one success of its rows, one execution of that batch size, timed on the clock', async () => {
    // Arrange
    clock.epoch = EPOCH_MS + 5;

    // Act
    await sut.infer({ model: 'iris', version: 1, inputs: irisRows([SETOSA, VIRGINICA, SETOSA]), cache: false });

    // Assert
    const stats = statsOf(1);
    expect(stats.inference_count).toBe(3);
    expect(stats.execution_count).toBe(1);
    expect(stats.last_inference).toBe(EPOCH_MS + 5);
    expect(stats.inference_stats.success).toEqual({ count: 1, ns: RUN_NS });
    expect(stats.inference_stats.compute_infer).toEqual({ count: 1, ns: RUN_NS });
    expect(stats.inference_stats.queue).toEqual({ count: 1, ns: 0 });
    expect(stats.batch_stats).toEqual([
      { batch_size: 3, compute_input: { count: 1, ns: 0 }, compute_infer: { count: 1, ns: RUN_NS }, compute_output: { count: 1, ns: 0 } },
    ]);
  });

  it('counts requests merged by the batcher as requests and inferences, and their one run as one execution', async () => {
    // Arrange
    const before = statsOf(2);

    // Act: issued in one tick, the four go in one batch (iris waits 0 ms: the next macrotask)
    await Promise.all([SETOSA, VIRGINICA, SETOSA, VIRGINICA].map((row) => sut.infer({ model: 'iris', version: 2, inputs: irisRows([row]), cache: false })));

    // Assert
    const after = statsOf(2);
    expect(after.inference_count - before.inference_count).toBe(4);
    expect(after.execution_count - before.execution_count).toBe(1);
    expect(after.inference_stats.success.count - before.inference_stats.success.count).toBe(4);
    expect(after.inference_stats.compute_infer.ns - before.inference_stats.compute_infer.ns).toBe(4 * RUN_NS);
    expect(after.batch_stats.find((b) => b.batch_size === 4)?.compute_infer).toEqual({ count: 1, ns: RUN_NS });
  });

  it('counts a /predict/batch group (stacked requests) as one request of that many rows', async () => {
    // Arrange
    const before = statsOf(2);

    // Act
    await sut.infer({ model: 'iris', version: 2, inputs: irisRows([SETOSA, VIRGINICA]), stackedRequests: 2 });

    // Assert
    const after = statsOf(2);
    expect(after.inference_stats.success.count - before.inference_stats.success.count).toBe(1);
    expect(after.inference_count - before.inference_count).toBe(2);
  });

  it('counts a request whose outputs were refused (non-finite) as a failure, its run as an execution', async () => {
    // Arrange
    const before = statsOf(1);

    // Act
    const error = await captureAppError(sut.infer({ model: 'iris', version: 1, inputs: irisRows([OUT_OF_RANGE]), cache: false }));

    // Assert
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    const after = statsOf(1);
    expect(after.inference_stats.fail).toEqual({ count: before.inference_stats.fail.count + 1, ns: before.inference_stats.fail.ns + RUN_NS });
    expect(after.inference_stats.success).toEqual(before.inference_stats.success);
    expect(after.inference_count).toBe(before.inference_count);
    expect(after.execution_count).toBe(before.execution_count + 1);
  });

  it('leaves out a request a codec refused before inference', () => {
    // Arrange
    const before = statsOf(1);
    const route = sut.route('iris', 1);

    // Act
    sut.rejected(route, AppError.validation([{ field: 'inputs', message: 'bad' }]), performance.now());

    // Assert
    expect(statsOf(1)).toEqual(before);
  });

  if (caching === 'true') {
    it('counts a miss (lookup and insertion) then a hit (a success from the cache, no inference, no execution)', async () => {
      // Arrange
      const before = statsOf(2);
      const inputs = irisRows([[6.1, 2.8, 4.7, 1.2]]);

      // Act
      await sut.infer({ model: 'iris', version: 2, inputs });
      const hit = await sut.infer({ model: 'iris', version: 2, inputs });

      // Assert
      expect(hit.cached).toBe(true);
      const after = statsOf(2);
      expect(after.inference_stats.cache_miss.count - before.inference_stats.cache_miss.count).toBe(1);
      expect(after.inference_stats.cache_hit.count - before.inference_stats.cache_hit.count).toBe(1);
      expect(after.inference_stats.success.count - before.inference_stats.success.count).toBe(2);
      expect(after.inference_stats.queue.count - before.inference_stats.queue.count).toBe(2);
      expect(after.inference_count - before.inference_count).toBe(1);
      expect(after.execution_count - before.execution_count).toBe(1);
    });
  } else {
    it('counts no cache lookup while the cache is off', async () => {
      // Act
      await sut.infer({ model: 'iris', version: 2, inputs: irisRows([SETOSA]) });

      // Assert
      expect(statsOf(2).inference_stats.cache_hit.count + statsOf(2).inference_stats.cache_miss.count).toBe(0);
    });
  }
});
