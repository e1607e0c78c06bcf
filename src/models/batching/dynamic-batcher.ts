import type { Attributes, Span } from '@opentelemetry/api';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { endWith } from '../../common/observability/trace-spans';
import { NamedTensors, tensorBytes } from '../tensors/tensor';
import { RuntimeRunError } from '../runtimes/runtime-errors';
import { canStack, rowsOf, stack, unstack } from '../tensors/tensor-batching';
import { withTimeout } from '../wrapper/with-timeout';
import { traceBatch, traceLoneRun } from './batch-tracing';

/** Anything that runs one (possibly batched) inference keyed by tensor name; a `ModelRuntime` fits. */
export interface BatchRunner {
  run(inputs: NamedTensors): Promise<NamedTensors>;
}

/** Knobs of one batcher (one per model version). */
export interface DynamicBatcherOptions {
  /** false = pass-through: every request runs alone and at once; the queue bound and observer still apply. */
  enabled: boolean;
  /** Most rows (dim 0, summed over requests) in one batch; a flush starts as soon as this many rows are queued. */
  maxBatchSize: number;
  /** Longest the oldest queued request waits for company, in milliseconds; 0 = flush on the next macrotask. */
  maxQueueDelayMs: number;
  /** Most requests waiting or in flight; one more is refused with OVERLOADED (MAX_QUEUE). */
  maxQueue: number;
  /**
   * Most bytes of input tensors (summed over requests) merged into one batch; a request that
   * would pass it waits for a later batch, one larger on its own runs alone. Undefined = no cap.
   * The runtime's working memory grows with the batch (onnxruntime keeps its arena at the largest
   * batch it ran): image-sized requests are not worth merging into one large run.
   */
  maxBatchBytes?: number;
  /** Most batches executing at once (default 1). At the cap requests keep queuing, so the next batch is bigger. */
  maxConcurrentBatches?: number;
  /**
   * A runner call that has not settled after this many ms fails its batch with INFERENCE_TIMEOUT
   * and frees its slot, so one stalled call cannot block the version for good (the abandoned
   * call may still finish; its result is dropped). Undefined = wait forever.
   */
  runTimeoutMs?: number;
  /** Attributes of this batcher's `inference` spans (the model id and version), when requests are traced. */
  traceAttributes?: Attributes;
}

/** Metric hooks; the integrator maps them to ml_batch_size, ml_queue_wait_seconds and ml_queue_depth. */
export interface BatcherObserver {
  /** One batch was handed to the runner: how many requests it merged and their total rows. */
  onBatch?(requests: number, rows: number): void;
  /** One request left the queue for the runner after waiting this many seconds (0 in pass-through mode). */
  onQueueWait?(seconds: number): void;
  /** Requests now waiting or in flight (the same count that {@link DynamicBatcherOptions.maxQueue} bounds). */
  onQueueDepth?(depth: number): void;
}

/** Where a batcher reports its executions for the statistics extension (a version's InferenceStats fits). */
export interface ExecutionStats {
  /** One runtime execution for `requests` requests and `rows` rows succeeded; stacking, the run and splitting took these ns. */
  executed(requests: number, rows: number, inputNs: number, inferNs: number, outputNs: number): void;
  /** One request of a successful execution had waited `ns` in the queue (0 in pass-through mode). */
  waited(ns: number): void;
}

/** The statistics of a batcher's executions: where they go, on which clock, and how rows count. */
export interface BatchTiming {
  stats: ExecutionStats;
  /** A monotonic clock in nanoseconds (StatsClock.nowNs). */
  nowNs: () => number;
  /** false: the model has no batch dimension, so every execution counts as batch size 1 (Triton's max_batch_size 0). */
  batchDimension: boolean;
}

interface Waiter {
  inputs: NamedTensors;
  /** Rows in dim 0, or undefined when the request cannot share a batch (rank 0, or inputs disagreeing on dim 0). */
  rows: number | undefined;
  /** Bytes of its input tensors (strings counted at two bytes a character). */
  bytes: number;
  /** performance.now() at enqueue, in milliseconds. */
  enqueuedAt: number;
  /** The statistics clock at enqueue, and the wait it measured at dispatch (0 without statistics). */
  enqueuedNs: number;
  waitedNs: number;
  resolve(outputs: NamedTensors): void;
  reject(error: unknown): void;
  /** Removes the abort listener of the caller's signal (once the request leaves the queue). */
  detach?(): void;
  /** The request's `predict` span, when it is traced. */
  span?: Span;
}

interface ArmedTimer {
  head: Waiter;
  cancel(): void;
}

const now = (): number => performance.now();
const noClock = (): number => 0;

/** One request's failure in a batch whose requests were run again one by one. */
class Failed {
  constructor(readonly error: unknown) {}
}

/** What one request of a batch gets: its outputs, or its own failure. */
type Outcome = NamedTensors | Failed;

/** Rows shared by every input on dim 0, or undefined when the request must run alone. */
function batchRows(inputs: NamedTensors): number | undefined {
  const tensors = Object.values(inputs);
  if (tensors.length === 0 || tensors.some((t) => t.shape.length === 0)) return undefined;
  const rows = rowsOf(inputs);
  return tensors.every((t) => t.shape[0] === rows) ? rows : undefined;
}

function validate(o: DynamicBatcherOptions): void {
  const problems = [
    !(Number.isInteger(o.maxBatchSize) && o.maxBatchSize >= 1) && 'maxBatchSize must be an integer >= 1',
    !(Number.isFinite(o.maxQueueDelayMs) && o.maxQueueDelayMs >= 0) && 'maxQueueDelayMs must be a number >= 0',
    !(Number.isInteger(o.maxQueue) && o.maxQueue >= 1) && 'maxQueue must be an integer >= 1',
    o.maxConcurrentBatches !== undefined && !(Number.isInteger(o.maxConcurrentBatches) && o.maxConcurrentBatches >= 1) &&
      'maxConcurrentBatches must be an integer >= 1',
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) throw new RangeError(`Invalid DynamicBatcher options: ${problems.join('; ')}`);
}

/**
 * Dynamic batcher (Triton / MLServer style) wrapping a runner by composition. Concurrent `run`
 * calls queue; a batch flushes when the queued rows reach `maxBatchSize` or when the oldest
 * queued request has waited `maxQueueDelayMs` (one timer for the whole queue). A batch is one
 * `runner.run` on the inputs stacked along dim 0, and its output is split back per request in
 * order. Requests that cannot stack with the head of the queue, or would take the batch past
 * `maxBatchBytes`, wait for a later batch; a request with more rows than `maxBatchSize` runs
 * alone. A runner (or split) failure rejects every request of that batch with the same error and nothing else — except a RuntimeRunError (the
 * runtime's library failed the merged run): each request then runs again alone and gets its own outcome.
 */
export class DynamicBatcher {
  private queue: Waiter[] = [];
  /** Rows waiting in the queue; a request that cannot share a batch counts as one row. */
  private queuedRows = 0;
  private inFlight = 0;
  private runningBatches = 0;
  private timer: ArmedTimer | undefined;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly maxConcurrentBatches: number;

  /**
   * `timing`: where each successful execution's statistics go (queue, compute phases, batch
   * size); without it the batcher reads no statistics clock at all.
   * @throws RangeError when an option is out of range (a configuration bug, caught at boot).
   */
  constructor(
    private readonly runner: BatchRunner,
    private readonly options: DynamicBatcherOptions,
    private readonly observer: BatcherObserver = {},
    private readonly timing?: BatchTiming,
  ) {
    validate(options);
    this.maxConcurrentBatches = options.maxConcurrentBatches ?? 1;
  }

  /** Requests waiting or in flight. */
  get depth(): number {
    return this.queue.length + this.inFlight;
  }

  /**
   * Runs one request, possibly merged with others. Resolves with this request's own outputs
   * (its rows only). Rejects with AppError OVERLOADED (retry after 1 s) when `maxQueue` requests
   * are already waiting or in flight, MODEL_NOT_READY after {@link close}, or with the runner's
   * error when the batch it rode in failed. `signal`: the caller gave up (a gRPC deadline or
   * cancellation); a request still queued when it aborts leaves the queue unrun and is rejected
   * with INFERENCE_TIMEOUT (one already running finishes: a native run cannot be stopped).
   * `span`: the request's `predict` span; its `batch.wait` and the batch's `inference` span are
   * recorded under it (see {@link traceBatch}).
   */
  run(inputs: NamedTensors, signal?: AbortSignal, span?: Span): Promise<NamedTensors> {
    if (this.closed) return Promise.reject(shuttingDown());
    if (signal?.aborted) return Promise.reject(gaveUp());
    if (this.depth >= this.options.maxQueue) {
      return Promise.reject(new AppError(
        ErrorCode.OVERLOADED,
        `Model is overloaded: ${this.options.maxQueue} requests are already queued or running (MAX_QUEUE)`,
        [],
        1,
      ));
    }
    if (!this.options.enabled) return this.passThrough(inputs, span);
    return new Promise<NamedTensors>((resolve, reject) => {
      const rows = batchRows(inputs);
      const waiter: Waiter = { inputs, rows, bytes: tensorBytes(inputs), enqueuedAt: now(), enqueuedNs: this.timing?.nowNs() ?? 0, waitedNs: 0, resolve, reject, span };
      if (signal) {
        const onAbort = (): void => this.withdraw(waiter);
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(waiter);
      this.queuedRows += rows ?? 1;
      this.reportDepth();
      // Only a full batch goes now: with a delay of 0 the rest still waits for the next macrotask.
      this.pump(false);
    });
  }

  /** A queued request whose caller gave up: out of the queue, rejected, never run. */
  private withdraw(waiter: Waiter): void {
    const at = this.queue.indexOf(waiter);
    if (at < 0) return;
    this.queue.splice(at, 1);
    this.queuedRows -= waiter.rows ?? 1;
    waiter.reject(gaveUp());
    this.reportDepth();
    this.armTimer();
    this.settleIdle();
  }

  /** Resolves once nothing is queued or in flight (for shutdown and unload). Never rejects. */
  async drain(): Promise<void> {
    if (this.depth === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking work: queued requests (not those already running) and every later `run` are
   * rejected with AppError MODEL_NOT_READY ('shutting down'). Idempotent. Await {@link drain}
   * afterwards to let in-flight batches finish.
   */
  close(): void {
    this.closed = true;
    this.cancelTimer();
    const queued = this.queue;
    this.queue = [];
    this.queuedRows = 0;
    for (const w of queued) {
      w.detach?.();
      w.reject(shuttingDown());
    }
    this.reportDepth();
    this.settleIdle();
  }

  private async passThrough(inputs: NamedTensors, span: Span | undefined): Promise<NamedTensors> {
    this.inFlight += 1;
    this.reportDepth();
    this.notify((o) => {
      o.onBatch?.(1, rowsOf(inputs));
      o.onQueueWait?.(0);
    });
    try {
      const inference = span && traceLoneRun(span, rowsOf(inputs), this.options.traceAttributes);
      const work = this.runAlone(inputs);
      return await (inference ? endWith(inference, work) : work);
    } finally {
      this.inFlight -= 1;
      this.reportDepth();
      this.settleIdle();
    }
  }

  /** Starts every batch that is due while below the concurrency cap, then re-arms the timer. */
  private pump(flushOverdue: boolean): void {
    while (this.queue.length > 0 && this.runningBatches < this.maxConcurrentBatches) {
      const full = this.queuedRows >= this.options.maxBatchSize || this.cannotGrow(this.queue[0]);
      const overdue = flushOverdue && now() - this.queue[0].enqueuedAt >= this.options.maxQueueDelayMs;
      if (!full && !overdue) break;
      this.dispatch(this.take());
    }
    this.armTimer();
  }

  /**
   * True when no request can join `head`'s batch: it cannot share (rank 0, dims disagreeing), or one
   * more row of its size would pass maxBatchBytes (an image-sized request). Waiting the queue delay
   * for company would only add latency, so it goes at once (a 4.9 MB det request waited ~2 ms).
   */
  private cannotGrow(head: Waiter): boolean {
    if (head.rows === undefined) return true;
    const maxBytes = this.options.maxBatchBytes;
    return maxBytes !== undefined && head.rows > 0 && head.bytes + head.bytes / head.rows > maxBytes;
  }

  private onTimer(): void {
    this.timer = undefined;
    // The timer was armed for the current head, so it is due even if the clocks disagree by a fraction of a ms.
    if (this.queue.length > 0 && this.runningBatches < this.maxConcurrentBatches) this.dispatch(this.take());
    this.pump(true);
  }

  /** One timer for the whole queue: it tracks the oldest request; none while at the cap (a finishing batch pumps). */
  private armTimer(): void {
    const head = this.queue[0];
    const wanted = head !== undefined && this.runningBatches < this.maxConcurrentBatches;
    if (wanted && this.timer?.head === head) return;
    this.cancelTimer();
    if (!wanted) return;
    if (this.options.maxQueueDelayMs === 0) {
      const handle = setImmediate(() => this.onTimer());
      this.timer = { head, cancel: () => clearImmediate(handle) };
    } else {
      const wait = Math.max(0, this.options.maxQueueDelayMs - (now() - head.enqueuedAt));
      const handle = setTimeout(() => this.onTimer(), wait);
      this.timer = { head, cancel: () => clearTimeout(handle) };
    }
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Removes the next batch from the queue: the head plus every later request that stacks with it and fits. */
  private take(): Waiter[] {
    const [head, ...rest] = this.queue;
    const batch = [head];
    const remaining: Waiter[] = [];
    // A head that cannot share (or is oversize) takes nobody along.
    let rows = head.rows ?? Number.POSITIVE_INFINITY;
    let bytes = head.bytes;
    const maxBytes = this.options.maxBatchBytes ?? Number.POSITIVE_INFINITY;
    for (const w of rest) {
      if (w.rows !== undefined && rows + w.rows <= this.options.maxBatchSize && bytes + w.bytes <= maxBytes && canStack([head.inputs, w.inputs])) {
        batch.push(w);
        rows += w.rows;
        bytes += w.bytes;
      } else {
        remaining.push(w);
      }
    }
    this.queue = remaining;
    this.queuedRows -= batch.reduce((n, w) => n + (w.rows ?? 1), 0);
    return batch;
  }

  private dispatch(batch: Waiter[]): void {
    for (const w of batch) w.detach?.();
    this.runningBatches += 1;
    this.inFlight += batch.length;
    const startedAt = now();
    if (this.timing) {
      const startedNs = this.timing.nowNs();
      for (const w of batch) w.waitedNs = startedNs - w.enqueuedNs;
    }
    this.notify((o) => {
      o.onBatch?.(batch.length, batch.reduce((n, w) => n + (w.rows ?? rowsOf(w.inputs)), 0));
      for (const w of batch) o.onQueueWait?.((startedAt - w.enqueuedAt) / 1000);
    });
    const inference = batch.some((w) => w.span !== undefined)
      ? traceBatch(batch, startedAt, batch.reduce((n, w) => n + (w.rows ?? rowsOf(w.inputs)), 0), this.options.traceAttributes)
      : undefined;
    void this.execute(batch, inference);
  }

  /** Runs one batch and settles each of its requests exactly once; `inference` (its span, if traced) ends with the run. Never rejects. */
  private async execute(batch: Waiter[], inference: Span | undefined): Promise<void> {
    let settle: (w: Waiter, i: number) => void;
    try {
      const run = this.runBatch(batch);
      const outcomes = await (inference ? endWith(inference, run) : run);
      settle = (w, i) => {
        const outcome = outcomes[i];
        if (outcome instanceof Failed) w.reject(outcome.error);
        else w.resolve(outcome);
      };
    } catch (error) {
      settle = (w) => w.reject(error);
    }
    this.runningBatches -= 1;
    this.inFlight -= batch.length;
    // Start the next batch before waking this one's callers: requests that queued meanwhile go now, together.
    this.pump(true);
    batch.forEach(settle);
    this.reportDepth();
    this.settleIdle();
  }

  private async runBatch(batch: Waiter[]): Promise<Outcome[]> {
    const clock = this.timing?.nowNs ?? noClock;
    const started = clock();
    // A lone request runs untouched, exactly as it would without the batcher.
    const lone = batch.length === 1;
    const inputs = lone ? batch[0].inputs : stack(batch.map((w) => w.inputs));
    const stacked = clock();
    let outputs: NamedTensors;
    try {
      outputs = await this.runBounded(inputs);
    } catch (error) {
      if (lone || !(error instanceof RuntimeRunError)) throw error;
      return this.runEachAlone(batch);
    }
    const ran = clock();
    const split = lone ? [outputs] : unstack(outputs, batch.map((w) => w.rows as number));
    // Recorded before any caller is answered, so a client reading the statistics next sees its request.
    if (this.timing) this.recordBatch(this.timing, batch, stacked - started, ran - stacked, clock() - ran);
    return split;
  }

  /**
   * The runtime failed a merged batch (one request's values, or a graph that cannot take the
   * stacked shape): each request runs again on its own, so a bad request fails only itself. The
   * runs that succeed are recorded in the statistics as batches of one.
   */
  private async runEachAlone(batch: Waiter[]): Promise<Outcome[]> {
    const clock = this.timing?.nowNs ?? noClock;
    const outcomes: Outcome[] = [];
    for (const w of batch) {
      const started = clock();
      try {
        const outputs = await this.runBounded(w.inputs);
        if (this.timing) this.recordBatch(this.timing, [w], 0, clock() - started, 0);
        outcomes.push(outputs);
      } catch (error) {
        outcomes.push(new Failed(error));
      }
    }
    return outcomes;
  }

  /** Pass-through mode: the request straight to the runner (no stacking, splitting or wait), timed when statistics are kept. */
  private async runAlone(inputs: NamedTensors): Promise<NamedTensors> {
    const timing = this.timing;
    if (!timing) return this.runBounded(inputs);
    const started = timing.nowNs();
    const outputs = await this.runBounded(inputs);
    const inferNs = timing.nowNs() - started;
    try {
      timing.stats.executed(1, timing.batchDimension ? rowsOf(inputs) : 1, 0, inferNs, 0);
      timing.stats.waited(0);
    } catch {
      // Statistics are best effort, like the metrics: a failing sink never fails a prediction.
    }
    return outputs;
  }

  private recordBatch(timing: BatchTiming, batch: Waiter[], inputNs: number, inferNs: number, outputNs: number): void {
    let rows = 1;
    if (timing.batchDimension) {
      rows = 0;
      for (const w of batch) rows += w.rows ?? rowsOf(w.inputs);
    }
    try {
      timing.stats.executed(batch.length, rows, inputNs, inferNs, outputNs);
      for (const w of batch) timing.stats.waited(w.waitedNs);
    } catch {
      // Best effort, as in runAlone.
    }
  }

  private runBounded(inputs: NamedTensors): Promise<NamedTensors> {
    let work: Promise<NamedTensors>;
    try {
      work = this.runner.run(inputs);
    } catch (error) {
      work = Promise.reject(error);
    }
    const limit = this.options.runTimeoutMs;
    return limit === undefined ? work : withTimeout(work, limit);
  }

  private settleIdle(): void {
    if (this.depth > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private reportDepth(): void {
    this.notify((o) => o.onQueueDepth?.(this.depth));
  }

  private notify(call: (observer: BatcherObserver) => void): void {
    try {
      call(this.observer);
    } catch {
      // Metrics are best effort: a failing observer must never fail or strand a prediction.
    }
  }
}

function gaveUp(): AppError {
  return new AppError(ErrorCode.INFERENCE_TIMEOUT, "The caller's deadline passed (or it cancelled) before inference ran");
}

function shuttingDown(): AppError {
  return new AppError(ErrorCode.MODEL_NOT_READY, 'Model is shutting down', [], 1);
}
