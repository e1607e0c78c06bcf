import { LRUCache } from 'lru-cache';

import { modelIdOfKey } from './cache-key';
import { CacheGeneration, CacheRead, CacheStats, CachedPrediction, PredictionCache } from './prediction-cache';

export interface LruPredictionCacheOptions {
  /** ENABLE_CACHING. */
  enabled: boolean;
  /** CACHE_SIZE: most entries over all models; the least recently used goes first. */
  maxEntries: number;
  /** CACHE_TTL_SECONDS: how long an entry lives after it is set; 0 = until evicted. */
  ttlSeconds: number;
  /** The clock TTLs are measured on, in ms (default: lru-cache's, performance.now); tests inject one. */
  now?: () => number;
  /** CACHE_MAX_MB in bytes: most bytes of cached outputs over all models (default: no byte bound). */
  maxBytes?: number;
}

/** What an entry holds, in bytes: its key and its output tensors' data (strings at 2 bytes a character). */
export function entryBytes(key: string, value: CachedPrediction): number {
  let bytes = key.length;
  for (const t of Object.values(value.outputs)) {
    bytes += Array.isArray(t.data) ? t.data.reduce((n, s) => n + 2 * s.length, 0) : t.data.byteLength;
  }
  return Math.max(1, bytes);
}

interface ModelCounters {
  hits: number;
  misses: number;
  size: number;
}

const round4 = (n: number): number => Math.round(n * 10_000) / 10_000;

/**
 * In-process adapter of {@link PredictionCache} over `lru-cache`: one LRU shared by every model,
 * with hits, misses and size kept per model id (taken from the key). Lookups are O(1).
 */
export class LruPredictionCache extends PredictionCache {
  readonly enabled: boolean;
  private readonly lru: LRUCache<string, CachedPrediction> | undefined;
  private readonly ttlMs: number;
  private readonly counters = new Map<string, ModelCounters>();
  /** Clears of every model, and per model: a model's generation is `<all>.<model>`. */
  private allClears = 0;
  private readonly clears = new Map<string, number>();

  /** @throws RangeError when enabled with maxEntries < 1 or a negative TTL (a configuration bug). */
  constructor(options: LruPredictionCacheOptions) {
    super();
    this.enabled = options.enabled;
    this.ttlMs = options.ttlSeconds > 0 ? Math.max(1, Math.round(options.ttlSeconds * 1000)) : 0;
    if (!options.enabled) return;
    if (!(Number.isInteger(options.maxEntries) && options.maxEntries >= 1) || !(options.ttlSeconds >= 0)) {
      throw new RangeError(`Invalid cache options: maxEntries ${options.maxEntries} (integer >= 1), ttlSeconds ${options.ttlSeconds} (>= 0)`);
    }
    this.lru = new LRUCache<string, CachedPrediction>({
      max: options.maxEntries,
      ttl: this.ttlMs,
      // Bounded in bytes too: entries hold output tensors, and a V2 answer may be megabytes.
      ...(options.maxBytes ? { maxSize: options.maxBytes, sizeCalculation: (value: CachedPrediction, key: string) => entryBytes(key, value) } : {}),
      // An injected clock is read on every check (lru-cache otherwise caches the time for 1 ms on a timer).
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
      // Sizes follow the LRU's own bookkeeping: +1 on a new key; -1 on evict, expire or delete.
      // A 'set' disposal is an overwrite of a key that stays, so it changes nothing.
      onInsert: (_value, key, reason) => {
        if (reason === 'add') this.countersOf(modelIdOfKey(key)).size += 1;
      },
      dispose: (_value, key, reason) => {
        if (reason !== 'set') this.countersOf(modelIdOfKey(key)).size -= 1;
      },
    });
  }

  async read(key: string): Promise<CacheRead> {
    const modelId = modelIdOfKey(key);
    const generation = this.generationOf(modelId);
    if (!this.lru) return { value: undefined, generation };
    const value = this.lru.get(key);
    this.countLookup(modelId, value !== undefined);
    return { value, generation };
  }

  /** The model's generation now (see {@link CacheRead}): it changes with every clear of the model or of every model. */
  generationOf(modelId: string): CacheGeneration {
    return `${this.allClears}.${this.clears.get(modelId) ?? 0}`;
  }

  /** The entry for `key` (made most recently used), without counting a hit or a miss: for a cache layered over this one. */
  lookup(key: string): CachedPrediction | undefined {
    return this.lru?.get(key);
  }

  /** Counts one lookup of `modelId` answered from any level (see {@link lookup}). */
  countLookup(modelId: string, hit: boolean): void {
    if (!this.lru) return;
    const counters = this.countersOf(modelId);
    if (hit) counters.hits += 1;
    else counters.misses += 1;
  }

  async set(key: string, value: CachedPrediction, readAt?: CacheGeneration): Promise<void> {
    if (readAt !== undefined && readAt !== this.generationOf(modelIdOfKey(key))) return;
    this.lru?.set(key, value);
  }

  async clear(modelId?: string): Promise<void> {
    if (modelId === undefined) this.allClears += 1;
    else this.clears.set(modelId, (this.clears.get(modelId) ?? 0) + 1);
    if (!this.lru) return;
    if (modelId === undefined) {
      this.lru.clear();
      return;
    }
    this.purgeExpired();
    for (const key of [...this.lru.keys()]) {
      if (modelIdOfKey(key) === modelId) this.lru.delete(key);
    }
  }

  /** O(entries) when a TTL is set (expired entries are purged first): for admin and stats routes, not per request. */
  stats(modelId: string): CacheStats {
    this.purgeExpired();
    const { hits, misses, size } = this.counters.get(modelId) ?? { hits: 0, misses: 0, size: 0 };
    const lookups = hits + misses;
    return { hits, misses, hit_rate: lookups === 0 ? 0 : round4(hits / lookups), size };
  }

  /** lru-cache drops an expired entry lazily, when touched; purge so sizes count live entries only. */
  private purgeExpired(): void {
    if (this.ttlMs > 0) this.lru?.purgeStale();
  }

  private countersOf(modelId: string): ModelCounters {
    let counters = this.counters.get(modelId);
    if (!counters) {
      counters = { hits: 0, misses: 0, size: 0 };
      this.counters.set(modelId, counters);
    }
    return counters;
  }
}
