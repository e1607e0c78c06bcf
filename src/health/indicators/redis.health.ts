import { Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

import { RedisConnection } from '../../redis/redis-connection';
import { InjectRedis } from '../../redis/redis.module';

/**
 * Redis (REDIS_URL) in the full health report: up with the PING latency, down while it cannot be
 * reached. Not part of readiness: a replica keeps serving predictions on its local fallbacks, so
 * taking it out of rotation would turn a Redis outage into a service outage.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(private readonly health: HealthIndicatorService, @Optional() @InjectRedis() private readonly redis: RedisConnection | null) {}

  /** False without REDIS_URL: there is no Redis to report. */
  get configured(): boolean {
    return this.redis !== null && this.redis !== undefined;
  }

  async check(): Promise<HealthIndicatorResult> {
    const session = this.health.check('redis');
    const redis = this.redis!;
    const down = (why: string) => session.down({
      connection: redis.status,
      message: `${why}: rate limits count per replica, the prediction cache is local, admin changes answer 503`,
    });
    if (!redis.available) return down(`Redis at ${redis.location} is unavailable`);
    try {
      const latencyMs = await redis.ping();
      if (!redis.ready) return down(`Redis at ${redis.location}: the pub/sub connection is down`);
      return session.up({ connection: redis.status, latency_ms: latencyMs });
    } catch {
      return down(`Redis at ${redis.location} does not answer PING`);
    }
  }
}
