import { NamedTensors } from '../tensors/tensor';

/**
 * What the cache keeps of one prediction: the model's output tensors (before any transport's
 * post-processing, so every transport can answer from it) and the version that produced them.
 */
export interface CachedPrediction {
  outputs: NamedTensors;
  model_version: string;
}

/**
 * Where a model's entries stood when a lookup was answered (opaque; each adapter has its own):
 * handed back to `set`, which then stores nothing if the model was cleared since.
 */
export type CacheGeneration = string;

/** What one lookup found: the cached prediction (undefined on a miss), and the generation it was read at. */
export interface CacheRead {
  value: CachedPrediction | undefined;
  generation: CacheGeneration;
}

/** Lookup counters of one model since start (or since this replica started, for a shared store). */
export interface CacheStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses), rounded to 4 decimals; 0 before the first lookup. */
  hit_rate: number;
  /** Entries of this model currently held. */
  size: number;
}

/**
 * The prediction cache port, also the DI token. Keys come from `cacheKey(modelId, version,
 * inputs)` (the encoded input tensors), so an entry belongs to one model version and a promotion never serves the old
 * version's answer. Values are shared, not copied: callers must not mutate what `get` returns.
 * The in-memory LRU is one adapter; a Redis adapter can sit behind the same contract.
 */
export abstract class PredictionCache {
  /** false = `get` always misses without counting, `set` and `clear` do nothing. */
  abstract readonly enabled: boolean;

  /**
   * The cached prediction for `key`, or undefined (counted as a miss for the key's model), with
   * the model's generation read at the same instant. Never rejects on a miss.
   */
  abstract read(key: string): Promise<CacheRead>;

  /** {@link read} without the generation. */
  async get(key: string): Promise<CachedPrediction | undefined> {
    return (await this.read(key)).value;
  }

  /**
   * Stores `value` under `key`, possibly evicting the least recently used entry. `readAt` is the
   * generation of the lookup that missed before `value` was computed: when the model was cleared
   * since (a reload), nothing is stored, since `value` may be the old model's answer. Without it
   * the value is stored as the current model's.
   */
  abstract set(key: string, value: CachedPrediction, readAt?: CacheGeneration): Promise<void>;

  /** Drops the entries of `modelId` (every version), or every entry when omitted. Hit and miss counters are kept. */
  abstract clear(modelId?: string): Promise<void>;

  /** Counters and current size for one model id; zeros for a model never seen. */
  abstract stats(modelId: string): CacheStats;
}
