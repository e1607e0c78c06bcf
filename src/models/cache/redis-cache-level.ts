import { RedisConnection, RedisScript } from '../../redis/redis-connection';
import { modelIdOfKey } from './cache-key';
import { CachedPrediction } from './prediction-cache';
import { decodePrediction, encodePrediction } from './prediction-codec';

export interface RedisCacheLevelOptions {
  /** CACHE_TTL_SECONDS: how long an entry lives in Redis; 0 = until Redis evicts it (set a maxmemory policy). */
  ttlSeconds: number;
  /** REDIS_CACHE_MAX_ENTRY_KB in bytes: an encoded prediction larger than this is not stored in Redis. */
  maxEntryBytes: number;
}

/** The generation both scripts read: `<all>.<model>` (missing counters are 0). */
const GENERATION = `local g = (redis.call('GET', KEYS[1]) or '0') .. '.' .. (redis.call('GET', KEYS[2]) or '0')`;

/** KEYS: global and model generation counters. ARGV: entry key prefix, cache key. Replies {generation, value} ({generation} on a miss). */
const GET_SCRIPT = `${GENERATION}
return {g, redis.call('GET', ARGV[1] .. g .. ':' .. ARGV[2])}`;

/**
 * KEYS: as GET. ARGV: entry key prefix, cache key, value, TTL ms (0 = none), the generation the
 * value's lookup read ('' = any). Stores nothing (replies 0) when the model was cleared since.
 */
const SET_SCRIPT = `${GENERATION}
if ARGV[5] ~= '' and ARGV[5] ~= g then return 0 end
local k = ARGV[1] .. g .. ':' .. ARGV[2]
if tonumber(ARGV[4]) > 0 then return redis.call('SET', k, ARGV[3], 'PX', ARGV[4]) end
return redis.call('SET', k, ARGV[3])`;

/** KEYS: the generation counter to bump. ARGV: channel, message. One step, so no replica sees the new generation without the message. */
const CLEAR_SCRIPT = `local g = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return g`;

/** The message of a clear of every model. */
const ALL_MODELS = '*';

/**
 * The shared (second) level of the prediction cache, in Redis: the encoded prediction (see
 * prediction-codec) under `<prefix>cache:<generation>:<cache key>` with CACHE_TTL_SECONDS, where
 * the generation is `<all>.<model>` read from two counters (`<prefix>cache-gen` and
 * `<prefix>cache-gen:<model>`) in the same script as the read or write: one round trip each.
 * A read gives the generation it saw; a write given it stores only if the generation is still that
 * one, so an answer computed before a clear (a reload) and written after it is never served.
 * Clearing a model (every version) is one INCR of its counter, O(1) whatever it holds — the old
 * entries are unreachable at once and expire by their TTL — and is published on
 * `<prefix>cache-clear` so every replica drops its local level too.
 *
 * Never rejects and never waits beyond REDIS_TIMEOUT_MS: while Redis is unavailable `get` misses
 * and `set` does nothing at once; failures are counted (`cache_get`, `cache_set`, `cache_clear`).
 */
export class RedisCacheLevel {
  private readonly getScript: RedisScript;
  private readonly setScript: RedisScript;
  private readonly clearScript: RedisScript;
  private readonly ttlMs: number;
  private readonly entryPrefix: string;

  constructor(private readonly connection: RedisConnection, private readonly options: RedisCacheLevelOptions) {
    this.getScript = connection.script('nmsCacheGet', 2, GET_SCRIPT);
    this.setScript = connection.script('nmsCacheSet', 2, SET_SCRIPT);
    this.clearScript = connection.script('nmsCacheClear', 1, CLEAR_SCRIPT);
    this.ttlMs = Math.round(options.ttlSeconds * 1000);
    this.entryPrefix = connection.key('cache', '');
  }

  /**
   * The shared entry (undefined: absent, unreadable, or Redis unavailable) and the model's
   * generation read with it (undefined when Redis could not be read).
   */
  async read(key: string): Promise<{ value: CachedPrediction | undefined; generation: string | undefined }> {
    if (!this.connection.available) return { value: undefined, generation: undefined };
    try {
      const [generation, entry] = (await this.getScript.runBuffer(...this.generationKeys(key), this.entryPrefix, key)) as [Buffer, Buffer?];
      return { value: entry ? decodePrediction(entry) : undefined, generation: generation.toString() };
    } catch (e) {
      this.connection.failed('cache_get', e);
      return { value: undefined, generation: undefined };
    }
  }

  /**
   * Stores `value` in the background (the caller's answer never waits for it) if the model's
   * generation is still `readAt` (when given; see {@link read}); too large a value is not stored.
   */
  set(key: string, value: CachedPrediction, readAt?: string): void {
    if (!this.connection.available) return;
    const encoded = encodePrediction(value);
    if (encoded.length > this.options.maxEntryBytes) return;
    this.setScript.run(...this.generationKeys(key), this.entryPrefix, key, encoded, this.ttlMs, readAt ?? '')
      .catch((e: unknown) => this.connection.failed('cache_set', e));
  }

  /** Makes the entries of `modelId` (or of every model) unreachable for every replica, and tells them. Resolves false when Redis could not be reached. */
  async clear(modelId?: string): Promise<boolean> {
    if (!this.connection.available) return false;
    const counter = modelId === undefined ? this.connection.key('cache-gen') : this.connection.key('cache-gen', modelId);
    try {
      await this.clearScript.run(counter, this.connection.key('cache-clear'), modelId ?? ALL_MODELS);
      return true;
    } catch (e) {
      this.connection.failed('cache_clear', e);
      return false;
    }
  }

  /** Calls `listener` with the model id (undefined: every model) each time any replica clears. */
  onCleared(listener: (modelId: string | undefined) => void): void {
    this.connection.subscribe('cache-clear', (message) => listener(message === ALL_MODELS ? undefined : message));
  }

  private generationKeys(key: string): [string, string] {
    return [this.connection.key('cache-gen'), this.connection.key('cache-gen', modelIdOfKey(key))];
  }
}
