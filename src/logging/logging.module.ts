import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage } from 'node:http';
import type { DestinationStream } from 'pino';

import { contextOf } from '../common/http/request-context';
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
 * nestjs-pino for the application logger, with the request id bound to every line logged while
 * a request is handled (pino-http's child logger; its own per-request lines are off), and the
 * `RequestLog` port the logging interceptor and the exception filter write completion lines to.
 * Secrets are redacted.
 */
@Global()
@Module({
  imports: [
    LogDestinationModule,
    LoggerModule.forRootAsync({
      inject: [ConfigService, LOG_DESTINATION],
      useFactory: (config: ConfigService<AllConfig, true>, destination: DestinationStream) => ({
        pinoHttp: [{
          level: config.getOrThrow('app.logLevel', { infer: true }),
          redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
          genReqId: (req: IncomingMessage) => contextOf(req).id,
          customAttributeKeys: { reqId: 'request_id' },
          quietReqLogger: true,
          autoLogging: false,
        }, destination],
      }),
    }),
  ],
  providers: [{ provide: RequestLog, useClass: PinoRequestLog }],
  exports: [LoggerModule, RequestLog],
})
export class LoggingModule {}
