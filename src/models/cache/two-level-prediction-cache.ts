import { modelIdOfKey } from './cache-key';
import { LruPredictionCache } from './lru-prediction-cache';
import { CacheStats, CachedPrediction, PredictionCache } from './prediction-cache';
import { RedisCacheLevel } from './redis-cache-level';

/**
 * The prediction cache with REDIS_URL: this replica's LRU first, then the Redis level shared by
 * every replica (an answer computed by one is a hit on all). A Redis hit is copied into the LRU; a
 * new answer goes into the LRU at once and into Redis in the background. `clear(modelId)` drops
 * the model from this LRU, bumps its generation in Redis (O(1)) and, through pub/sub, drops it
 * from every other replica's LRU. With Redis unavailable it is the LRU alone, and never waits.
 *
 * Stats are this replica's: hits (from either level) and misses of its lookups, `size` = entries
 * in its LRU.
 */
export class TwoLevelPredictionCache extends PredictionCache {
  readonly enabled: boolean;
  /** Clears seen here, per model and of everything: a Redis answer fetched across a clear is not copied into the LRU. */
  private readonly clears = new Map<string, number>();
  private allClears = 0;

  constructor(private readonly local: LruPredictionCache, private readonly shared: RedisCacheLevel) {
    super();
    this.enabled = local.enabled;
    // Every replica's clears, this one's included (dropping an already dropped model is a no-op).
    shared.onCleared((modelId) => {
      this.noteClear(modelId);
      void local.clear(modelId);
    });
  }

  async get(key: string): Promise<CachedPrediction | undefined> {
    if (!this.enabled) return undefined;
    const modelId = modelIdOfKey(key);
    const near = this.local.lookup(key);
    if (near !== undefined) {
      this.local.countLookup(modelId, true);
      return near;
    }
    const before = this.clearsOf(modelId);
    const far = await this.shared.get(key);
    // A clear while the answer was on its way (a reload): the answer may be the old model's.
    if (far !== undefined && this.clearsOf(modelId) === before) await this.local.set(key, far);
    this.local.countLookup(modelId, far !== undefined);
    return far;
  }

  async set(key: string, value: CachedPrediction): Promise<void> {
    if (!this.enabled) return;
    await this.local.set(key, value);
    this.shared.set(key, value);
  }

  async clear(modelId?: string): Promise<void> {
    if (!this.enabled) return;
    this.noteClear(modelId);
    await this.local.clear(modelId);
    await this.shared.clear(modelId);
  }

  private noteClear(modelId: string | undefined): void {
    if (modelId === undefined) this.allClears += 1;
    else this.clears.set(modelId, (this.clears.get(modelId) ?? 0) + 1);
  }

  private clearsOf(modelId: string): string {
    return `${this.allClears}.${this.clears.get(modelId) ?? 0}`;
  }

  stats(modelId: string): CacheStats {
    return this.local.stats(modelId);
  }
}
