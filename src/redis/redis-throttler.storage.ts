import type { OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

import { CounterThrottlerStorage, ThrottlerStorageRecord } from '../common/throttling/counter-throttler.storage';
import { RedisConnection, RedisScript } from './redis-connection';

/**
 * One hit on a fixed window, atomically: CounterThrottlerStorage's rules on Redis's clock.
 * KEYS[1] the client's key (a hash: h = hits, b = 1 while blocked; its expiry is the end of the
 * window or of the block). ARGV: ttl ms, limit, block duration ms (<= 0: no block).
 * Replies {hits to report, ms until the window or block ends, 1 if refused}. O(1).
 */
export const THROTTLE_SCRIPT = `
local key = KEYS[1]
local ttl = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local block = tonumber(ARGV[3])
local left = redis.call('PTTL', key)
local hits = 0
local fresh = left <= 0
if fresh then
  redis.call('DEL', key)
  left = ttl
else
  local fields = redis.call('HMGET', key, 'h', 'b')
  hits = tonumber(fields[1]) or 0
  if fields[2] == '1' then return {hits, left, 1} end
end
if block <= 0 and hits >= limit then return {hits + 1, left, 1} end
hits = hits + 1
if block > 0 and hits > limit then
  redis.call('HSET', key, 'h', hits, 'b', 1)
  redis.call('PEXPIRE', key, block)
  return {hits, block, 1}
end
redis.call('HSET', key, 'h', hits)
if fresh then redis.call('PEXPIRE', key, ttl) end
return {hits, left, 0}
`;

/**
 * {@link ThrottlerStorage} on Redis (REDIS_URL), so a client's limits are one limit across every
 * replica: one Lua script per hit ({@link THROTTLE_SCRIPT}: HMGET/HSET/PEXPIRE on one small hash,
 * O(1)), with exactly {@link CounterThrottlerStorage}'s semantics and answer (fixed windows per key
 * starting at the first hit, the (N+1)-th hit blocks for `blockDuration`, whole seconds rounded
 * up), measured on Redis's clock so replicas agree. Keys are `<REDIS_KEY_PREFIX>throttle:<key>`.
 *
 * While Redis is unavailable (or a call fails or times out) hits are counted by an in-process
 * CounterThrottlerStorage instead: limits hold per replica, a request never waits on Redis
 * beyond REDIS_TIMEOUT_MS, and the failure is counted (`ml_redis_errors_total{operation="throttle"}`).
 */
export class RedisThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly hit: RedisScript;

  constructor(
    private readonly connection: RedisConnection,
    private readonly fallback: CounterThrottlerStorage = new CounterThrottlerStorage(),
  ) {
    this.hit = connection.script('nmsThrottleHit', 1, THROTTLE_SCRIPT);
  }

  /** See {@link CounterThrottlerStorage.increment}: same parameters, same answer. */
  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    if (!this.connection.available) return this.fallback.increment(key, ttl, limit, blockDuration, throttlerName);
    try {
      const [hits, leftMs, refused] = (await this.hit.run(this.connection.key('throttle', key), ttl, limit, blockDuration)) as [number, number, number];
      const seconds = Math.ceil(leftMs / 1000);
      return { totalHits: hits, timeToExpire: seconds, isBlocked: refused === 1, timeToBlockExpire: refused === 1 ? seconds : 0 };
    } catch (e) {
      this.connection.failed('throttle', e);
      return this.fallback.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }

  /** Stops the fallback's sweep. */
  onModuleDestroy(): void {
    this.fallback.onModuleDestroy();
  }
}
