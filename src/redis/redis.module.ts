import { Global, Inject, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

import { AllConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { RedisConnection } from './redis-connection';

/** DI token of the service's {@link RedisConnection}: the connection with REDIS_URL set, `null` without it. */
export const REDIS_CONNECTION = 'REDIS_CONNECTION';

/** Injects the {@link REDIS_CONNECTION} (`RedisConnection | null`). */
export const InjectRedis = (): ParameterDecorator => Inject(REDIS_CONNECTION);

/** For factory providers: the connection, or null (also when the module is not imported, as in specs wiring a feature module alone). */
export const OPTIONAL_REDIS = { token: REDIS_CONNECTION, optional: true } as const;

/**
 * How long a start waits for Redis before serving on its fallbacks (and resynchronising once
 * Redis answers): long enough for a Redis starting beside the service, short enough not to stall a rollout.
 */
export const startupWaitMs = (timeoutMs: number): number => Math.max(2000, 2 * timeoutMs);

/**
 * Redis for scale-out (REDIS_URL). Without the variable it provides `null` and nothing connects
 * (the embedded default); the adapters that use Redis (rate-limit storage, prediction cache,
 * registry state) are chosen by factory providers on that value.
 */
@Global()
@Module({
  providers: [
    {
      provide: REDIS_CONNECTION,
      inject: [ConfigService, MetricsService],
      useFactory: async (config: ConfigService<AllConfig, true>, metrics: MetricsService): Promise<RedisConnection | null> => {
        const { url, keyPrefix, timeoutMs } = config.getOrThrow('redis', { infer: true });
        if (!url) return null;
        const connection = new RedisConnection({ url, keyPrefix, timeoutMs }, metrics);
        await connection.open(startupWaitMs(timeoutMs));
        return connection;
      },
    },
  ],
  exports: [REDIS_CONNECTION],
})
export class RedisModule {}
