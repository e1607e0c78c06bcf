import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

import { AllConfig } from '../config/app-config';
import { RedisConnection } from '../redis/redis-connection';
import { OPTIONAL_REDIS } from '../redis/redis.module';
import { LruPredictionCache } from './cache/lru-prediction-cache';
import { PredictionCache } from './cache/prediction-cache';
import { RedisCacheLevel } from './cache/redis-cache-level';
import { TwoLevelPredictionCache } from './cache/two-level-prediction-cache';
import { DataPlane } from './data-plane.service';
import { ModelCatalogService } from './model-catalog.service';
import { ModelRegistryService } from './registry/model-registry.service';
import { RegistryStateSync } from './registry/registry-state-sync.service';
import { FileRegistryStateStore } from './registry/state/file-registry-state.store';
import { RedisRegistryStateStore } from './registry/state/redis-registry-state.store';
import { RegistryStateStore } from './registry/state/registry-state.store';
import { VersionLoader } from './registry/version-loader';
import { ModelRepositoryService } from './repository/model-repository.service';
import { RolloutTrafficService } from './rollout/rollout-traffic.service';
import { RolloutService } from './rollout/rollout.service';
import { DefaultRuntimeFactory } from './runtimes/default-runtime.factory';
import { ModelRuntimeFactory } from './runtimes/model-runtime';
import { PredictionMonitor } from './wrapper/prediction-monitor';
import { MonotonicStatsClock, StatsClock } from './wrapper/stats-clock';

/** Model repository, runtimes, registry, rollout, prediction cache and the data plane over them. */
@Module({
  providers: [
    ModelRepositoryService,
    { provide: ModelRuntimeFactory, useClass: DefaultRuntimeFactory },
    VersionLoader,
    ModelRegistryService,
    RolloutService,
    RolloutTrafficService,
    RegistryStateSync,
    {
      provide: RegistryStateStore,
      inject: [ConfigService, OPTIONAL_REDIS],
      // With REDIS_URL the state lives in Redis, shared by every replica (no file: MODEL_REPOSITORY may be read-only).
      useFactory: (config: ConfigService<AllConfig, true>, redis: RedisConnection | null) =>
        redis ? new RedisRegistryStateStore(redis) : new FileRegistryStateStore(config.getOrThrow('models.registryStateFile', { infer: true })),
    },
    {
      provide: PredictionCache,
      inject: [ConfigService, OPTIONAL_REDIS],
      useFactory: (config: ConfigService<AllConfig, true>, redis: RedisConnection | null) => {
        const cache = config.getOrThrow('cache', { infer: true });
        const local = new LruPredictionCache({ enabled: cache.enabled, maxEntries: cache.size, ttlSeconds: cache.ttlSeconds, maxBytes: cache.maxBytes });
        if (!redis || !cache.enabled) return local;
        // With REDIS_URL: the LRU first, Redis shared by every replica behind it.
        const maxEntryBytes = config.getOrThrow('redis.cacheMaxEntryBytes', { infer: true });
        return new TwoLevelPredictionCache(local, new RedisCacheLevel(redis, { ttlSeconds: cache.ttlSeconds, maxEntryBytes }));
      },
    },
    DataPlane,
    PredictionMonitor,
    // The statistics extension's clock; specs override it to pin durations.
    { provide: StatsClock, useClass: MonotonicStatsClock },
    ModelCatalogService,
  ],
  exports: [DataPlane, ModelRegistryService, ModelRepositoryService, ModelCatalogService, RolloutService, RegistryStateSync],
})
export class ModelsModule {}
