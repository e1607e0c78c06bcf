import { NamedTensors } from '../tensors/tensor';

/**
 * What the cache keeps of one prediction: the model's output tensors (before any transport's
 * post-processing, so every transport can answer from it) and the version that produced them.
 */
export interface CachedPrediction {
  outputs: NamedTensors;
  model_version: string;
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

  /** The cached prediction for `key`, or undefined (counted as a miss for the key's model). Never rejects on a miss. */
  abstract get(key: string): Promise<CachedPrediction | undefined>;

  /** Stores `value` under `key`, possibly evicting the least recently used entry. */
  abstract set(key: string, value: CachedPrediction): Promise<void>;

  /** Drops the entries of `modelId` (every version), or every entry when omitted. Hit and miss counters are kept. */
  abstract clear(modelId?: string): Promise<void>;

  /** Counters and current size for one model id; zeros for a model never seen. */
  abstract stats(modelId: string): CacheStats;
}
