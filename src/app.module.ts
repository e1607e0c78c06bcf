import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';

import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { ApiKeyGuard } from './common/guards/api-key.guard';
import { clientThrottleKey, clientTracker, ClientThrottlerGuard } from './common/guards/client-throttler.guard';
import { MemoryGuard } from './common/guards/memory.guard';
import { LatencyInterceptor } from './common/interceptors/latency.interceptor';
import { LoggingInterceptor } from './common/interceptors/logging.interceptor';
import { RequestCompletion } from './common/observability/request-completion';
import { AppValidationPipe } from './common/pipes/app-validation.pipe';
import { validationExceptionFactory } from './common/pipes/validation-exception.factory';
import { clientLimits } from './common/throttling/client-limits';
import { CounterThrottlerStorage } from './common/throttling/counter-throttler.storage';
import { AllConfig } from './config/app-config';
import { AppConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { GrpcModule } from './inference/grpc/grpc.module';
import { InferenceModule } from './inference/inference.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { RedisConnection } from './redis/redis-connection';
import { OPTIONAL_REDIS, RedisModule } from './redis/redis.module';
import { RedisThrottlerStorage } from './redis/redis-throttler.storage';
import { SerializationInterceptor } from './serialization/serialization.interceptor';
import { SerializationModule } from './serialization/serialization.module';
import { SerializationService } from './serialization/serialization.service';

/**
 * Feature modules plus every cross-cutting piece, registered here (in the order they run):
 * guards — API key, memory shedding, throttling; interceptors — logging (outermost), latency,
 * serialization; one validation pipe; one exception filter for every error.
 */
@Module({
  imports: [
    AppConfigModule,
    SerializationModule.registerAsync({
      inject: [ConfigService, SerializationService],
      useFactory: (config: ConfigService<AllConfig, true>, serialization: SerializationService) => {
        return serialization.resolve(config.getOrThrow('serialization.preset', { infer: true }));
      },
    }),
    LoggingModule,
    MetricsModule,
    RedisModule,
    ThrottlerModule.forRootAsync({
      inject: [ConfigService, OPTIONAL_REDIS],
      useFactory: (config: ConfigService<AllConfig, true>, redis: RedisConnection | null) => {
        // A limit of 0 disables that throttler (the library still needs a positive limit).
        return {
          throttlers: clientLimits(config.getOrThrow('limits', { infer: true })).map(({ enabled, ...limit }) => ({ ...limit, skipIf: () => !enabled })),
          // O(1) per request and per client (the library's default keeps a timestamp per hit);
          // with REDIS_URL one limit across replicas, counted in-process while Redis is down.
          storage: redis ? new RedisThrottlerStorage(redis) : new CounterThrottlerStorage(),
          generateKey: clientThrottleKey,
          getTracker: clientTracker,
        };
      },
    }),
    ModelsModule,
    HealthModule,
    InferenceModule,
    GrpcModule,
  ],
  providers: [
    RequestCompletion,
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_GUARD, useClass: MemoryGuard },
    { provide: APP_GUARD, useClass: ClientThrottlerGuard },
    { provide: APP_INTERCEPTOR, useClass: LoggingInterceptor },
    { provide: APP_INTERCEPTOR, useClass: LatencyInterceptor },
    { provide: APP_INTERCEPTOR, useClass: SerializationInterceptor },
    {
      provide: APP_PIPE,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AllConfig, true>) =>
        new AppValidationPipe(config.getOrThrow('limits', { infer: true }), {
          whitelist: true,
          forbidNonWhitelisted: true,
          transform: true,
          stopAtFirstError: false,
          exceptionFactory: validationExceptionFactory,
        }),
    },
  ],
})
export class AppModule {}
