import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';

import { RequestLog } from '../common/observability/request-observers';
import { AllConfig } from '../config/app-config';
import { defaultLogDestination, LOG_DESTINATION } from './log-destination';
import { PinoRequestLog } from './pino-request-log';

/** Header values that must never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
];

@Global()
@Module({
  providers: [{
    provide: LOG_DESTINATION,
    inject: [ConfigService],
    useFactory: (config: ConfigService<AllConfig, true>) => defaultLogDestination(config.getOrThrow('app.logFormat', { infer: true })),
  }],
  exports: [LOG_DESTINATION],
})
class LogDestinationModule {}

/**
 * nestjs-pino for the application logger, and the `RequestLog` port the logging interceptor and
 * the exception filter write completion lines to. Lines about a request carry its request_id
 * explicitly (the data plane is given it): no pino-http middleware, so no child logger and no
 * AsyncLocalStorage context per request (under load they cost ~8% of CPU: pino's child(), and
 * the promise hooks AsyncLocalStorage turns on for every promise). Secrets are redacted.
 */
@Global()
@Module({
  imports: [
    LogDestinationModule,
    LoggerModule.forRootAsync({
      inject: [ConfigService, LOG_DESTINATION],
      useFactory: (config: ConfigService<AllConfig, true>, destination: DestinationStream) => ({
        pinoHttp: [{ level: config.getOrThrow('app.logLevel', { infer: true }), redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' } }, destination],
        // The root logger only: no per-request middleware (see above).
        forRoutes: [],
      }),
    }),
  ],
  providers: [{ provide: RequestLog, useClass: PinoRequestLog }],
  exports: [LoggerModule, RequestLog],
})
export class LoggingModule {}
