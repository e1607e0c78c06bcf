import { Module, ValidationPipe } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_FILTER, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';

import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { PredictionLogInterceptor } from './common/interceptors/prediction-log.interceptor';
import { validationExceptionFactory } from './common/pipes/validation-exception.factory';
import { AllConfig } from './config/app-config';
import { AppConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { InferenceModule } from './inference/inference.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { SerializationInterceptor } from './serialization/serialization.interceptor';
import { SerializationModule } from './serialization/serialization.module';
import { SerializationService } from './serialization/serialization.service';

/** Feature modules plus the cross-cutting wiring: one filter, one validation pipe, logging fields, response serialization. */
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
    ModelsModule,
    HealthModule,
    InferenceModule,
  ],
  providers: [
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
    {
      provide: APP_PIPE,
      useValue: new ValidationPipe({
        whitelist: true,
        forbidNonWhitelisted: true,
        transform: true,
        stopAtFirstError: false,
        exceptionFactory: validationExceptionFactory,
      }),
    },
    { provide: APP_INTERCEPTOR, useClass: PredictionLogInterceptor },
    { provide: APP_INTERCEPTOR, useClass: SerializationInterceptor },
  ],
})
export class AppModule {}
