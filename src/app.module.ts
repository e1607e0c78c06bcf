import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';

import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { ApiKeyGuard } from './common/guards/api-key.guard';
import { clientThrottleKey, clientTracker } from './common/guards/client-throttler.guard';
import { AppValidationPipe } from './common/pipes/app-validation.pipe';
import { validationExceptionFactory } from './common/pipes/validation-exception.factory';
import { AllConfig } from './config/app-config';
import { AppConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { InferenceModule } from './inference/inference.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { SerializationModule } from './serialization/serialization.module';
import { SerializationService } from './serialization/serialization.service';

/** Feature modules plus the cross-cutting wiring: API-key guard, one filter, one validation pipe. */
@Module({
  imports: [
    AppConfigModule,
    SerializationModule.registerAsync({
      inject: [ConfigService, SerializationService],
      useFactory: (config: ConfigService<AllConfig, true>, serialization: SerializationService) => {
        const s = config.getOrThrow('serialization', { infer: true });
        return { ...serialization.resolve(s.preset), uuid_format: s.uuidFormat, parse_uuids: s.parseUuids };
      },
    }),
    LoggingModule,
    MetricsModule,
    ThrottlerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AllConfig, true>) => {
        const { requestsPerMinute: minute, requestsPerHour: hour } = config.getOrThrow('limits', { infer: true });
        // A limit of 0 disables that throttler (the library still needs a positive limit).
        return {
          throttlers: [
            { name: 'minute', ttl: 60_000, limit: Math.max(1, minute), skipIf: () => minute === 0 },
            { name: 'hour', ttl: 3_600_000, limit: Math.max(1, hour), skipIf: () => hour === 0 },
          ],
          generateKey: clientThrottleKey,
          getTracker: clientTracker,
        };
      },
    }),
    ModelsModule,
    HealthModule,
    InferenceModule,
  ],
  providers: [
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    {
      provide: APP_PIPE,
      useValue: new AppValidationPipe({
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
