import { ExecutionStats } from '../batching/dynamic-batcher';

/** A count and a cumulative duration in nanoseconds (Triton's `$duration_stat`). */
export interface DurationStat {
  count: number;
  ns: number;
}

/** One batch size's executions (Triton's `$batch_stats` entry). */
export interface BatchStat {
  batch_size: number;
  compute_input: DurationStat;
  compute_infer: DurationStat;
  compute_output: DurationStat;
}

/** Triton's `$inference_stats`. */
export interface InferStatistics {
  success: DurationStat;
  fail: DurationStat;
  queue: DurationStat;
  compute_input: DurationStat;
  compute_infer: DurationStat;
  compute_output: DurationStat;
  cache_hit: DurationStat;
  cache_miss: DurationStat;
}

/** One version's statistics as the extension reports them, without its name and version. */
export interface InferenceStatsSnapshot {
  /** Milliseconds since the epoch of the last request that reached inference or the cache (0: none yet). */
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: InferStatistics;
  batch_stats: BatchStat[];
}

const zero = (): DurationStat => ({ count: 0, ns: 0 });
const copy = (d: DurationStat): DurationStat => ({ count: d.count, ns: d.ns });

function add(stat: DurationStat, count: number, ns: number): void {
  stat.count += count;
  stat.ns += ns;
}

/**
 * Triton's per-version inference statistics (the statistics extension), kept since the version
 * was loaded: plain counters updated in place, no allocation per request (a batch size seen for
 * the first time adds one entry). Who records what:
 * - the data plane, per request that reached the cache or the batcher: `success` / `fail` (the
 *   request's time in the data plane), `inference_count` (its rows; 1 for a model without a
 *   batch dimension), `cache_hit` / `cache_miss` (lookup, and insertion after a miss);
 * - the dynamic batcher, per successful runtime execution: `execution_count`, `batch_stats`
 *   (once per execution, by its total rows), and for each of its requests `queue` (its own wait)
 *   and `compute_input` / `compute_infer` / `compute_output` (the whole execution's stacking, run
 *   and splitting, added to every request of the batch, as Triton does).
 * Nanosecond sums are Numbers: exact up to 2^53 ns (104 days of summed time), then to a few ns.
 */
export class InferenceStats implements ExecutionStats {
  private lastInference = 0;
  private inferenceCount = 0;
  private executionCount = 0;
  private readonly success = zero();
  private readonly fail = zero();
  private readonly queue = zero();
  private readonly computeInput = zero();
  private readonly computeInfer = zero();
  private readonly computeOutput = zero();
  private readonly cacheHit = zero();
  private readonly cacheMiss = zero();
  private readonly batches = new Map<number, BatchStat>();

  /** A request of `rows` rows was answered by inference after `ns` in the data plane, at `atMs` (epoch). */
  succeeded(rows: number, ns: number, atMs: number): void {
    this.inferenceCount += rows;
    add(this.success, 1, ns);
    this.touch(atMs);
  }

  /**
   * A request was answered from the prediction cache after `ns`: a success that never queued
   * (queue counted with 0 ns, as Triton counts cache hits in `queue`), not an inference.
   */
  answeredFromCache(ns: number, atMs: number): void {
    add(this.success, 1, ns);
    add(this.queue, 1, 0);
    this.touch(atMs);
  }

  /** A request that reached inference failed (runtime error, timeout, overload, non-finite outputs) after `ns`. */
  failed(ns: number, atMs: number): void {
    add(this.fail, 1, ns);
    this.touch(atMs);
  }

  /** A cache lookup took `ns`: a hit, or a miss (whose insertion is added by {@link cacheInserted}). */
  cacheLookedUp(hit: boolean, ns: number): void {
    add(hit ? this.cacheHit : this.cacheMiss, 1, ns);
  }

  /** The answer of a cache miss was stored in `ns` (Triton's cache_miss is lookup plus insertion). */
  cacheInserted(ns: number): void {
    this.cacheMiss.ns += ns;
  }

  executed(requests: number, rows: number, inputNs: number, inferNs: number, outputNs: number): void {
    this.executionCount += 1;
    add(this.computeInput, requests, requests * inputNs);
    add(this.computeInfer, requests, requests * inferNs);
    add(this.computeOutput, requests, requests * outputNs);
    const batch = this.batchStat(rows);
    add(batch.compute_input, 1, inputNs);
    add(batch.compute_infer, 1, inferNs);
    add(batch.compute_output, 1, outputNs);
  }

  waited(ns: number): void {
    add(this.queue, 1, ns);
  }

  /** A copy of the statistics now, `batch_stats` by batch size. */
  snapshot(): InferenceStatsSnapshot {
    return {
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: copy(this.success),
        fail: copy(this.fail),
        queue: copy(this.queue),
        compute_input: copy(this.computeInput),
        compute_infer: copy(this.computeInfer),
        compute_output: copy(this.computeOutput),
        cache_hit: copy(this.cacheHit),
        cache_miss: copy(this.cacheMiss),
      },
      batch_stats: [...this.batches.values()]
        .sort((a, b) => a.batch_size - b.batch_size)
        .map((b) => ({ batch_size: b.batch_size, compute_input: copy(b.compute_input), compute_infer: copy(b.compute_infer), compute_output: copy(b.compute_output) })),
    };
  }

  private touch(atMs: number): void {
    if (atMs > this.lastInference) this.lastInference = atMs;
  }

  private batchStat(rows: number): BatchStat {
    let batch = this.batches.get(rows);
    if (!batch) {
      batch = { batch_size: rows, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.batches.set(rows, batch);
    }
    return batch;
  }
}
