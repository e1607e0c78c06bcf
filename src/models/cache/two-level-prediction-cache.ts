import { modelIdOfKey } from './cache-key';
import { LruPredictionCache } from './lru-prediction-cache';
import { CacheGeneration, CacheRead, CacheStats, CachedPrediction, PredictionCache } from './prediction-cache';
import { RedisCacheLevel } from './redis-cache-level';

/** A two-level generation: the LRU's, and Redis's after the separator ('' when Redis was not read). */
const SEPARATOR = '@';

/**
 * The prediction cache with REDIS_URL: this replica's LRU first, then the Redis level shared by
 * every replica (an answer computed by one is a hit on all). A Redis hit is copied into the LRU; a
 * new answer goes into the LRU at once and into Redis in the background. `clear(modelId)` drops
 * the model from this LRU, bumps its generation in Redis (O(1)) and, through pub/sub, drops it
 * from every other replica's LRU. With Redis unavailable it is the LRU alone, and never waits.
 *
 * A read's generation is both levels' (the LRU's, and Redis's read with the entry): an answer
 * stored with it goes into neither level once the model was cleared since — a Redis answer fetched
 * across a clear is not copied into the LRU either — so no answer of a model from before a reload
 * is kept after it. An answer whose lookup did not read Redis is not written there.
 *
 * Stats are this replica's: hits (from either level) and misses of its lookups, `size` = entries
 * in its LRU.
 */
export class TwoLevelPredictionCache extends PredictionCache {
  readonly enabled: boolean;

  constructor(private readonly local: LruPredictionCache, private readonly shared: RedisCacheLevel) {
    super();
    this.enabled = local.enabled;
    // Every replica's clears, this one's included (dropping an already dropped model is a no-op).
    shared.onCleared((modelId) => void local.clear(modelId));
  }

  async read(key: string): Promise<CacheRead> {
    const modelId = modelIdOfKey(key);
    const before = this.local.generationOf(modelId);
    if (!this.enabled) return { value: undefined, generation: before + SEPARATOR };
    const near = this.local.lookup(key);
    if (near !== undefined) {
      this.local.countLookup(modelId, true);
      return { value: near, generation: before + SEPARATOR };
    }
    const far = await this.shared.read(key);
    // Stored only if no clear came while the answer was on its way (a reload: it may be the old model's).
    if (far.value !== undefined) await this.local.set(key, far.value, before);
    this.local.countLookup(modelId, far.value !== undefined);
    return { value: far.value, generation: before + SEPARATOR + (far.generation ?? '') };
  }

  async set(key: string, value: CachedPrediction, readAt?: CacheGeneration): Promise<void> {
    if (!this.enabled) return;
    if (readAt === undefined) {
      await this.local.set(key, value);
      this.shared.set(key, value);
      return;
    }
    const at = readAt.indexOf(SEPARATOR);
    const [near, far] = [readAt.slice(0, at), readAt.slice(at + 1)];
    await this.local.set(key, value, near);
    if (far !== '') this.shared.set(key, value, far);
  }

  async clear(modelId?: string): Promise<void> {
    if (!this.enabled) return;
    await this.local.clear(modelId);
    await this.shared.clear(modelId);
  }

  stats(modelId: string): CacheStats {
    return this.local.stats(modelId);
  }
}
