import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DestinationStream } from 'pino';

import { AllConfig } from '../config/app-config';
import { defaultLogDestination, LOG_DESTINATION } from './log-destination';
import { completionFields } from './request-log';

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
 * nestjs-pino: JSON lines, one completion line per request (request_id, method, route template,
 * status, duration_ms, client, and the prediction's model/version/variant/cached), the request id
 * bound to every line logged while handling it, and secrets redacted.
 */
@Module({
  imports: [
    LogDestinationModule,
    LoggerModule.forRootAsync({
      inject: [ConfigService, LOG_DESTINATION],
      useFactory: (config: ConfigService<AllConfig, true>, destination: DestinationStream) => ({
        pinoHttp: [{
          level: config.getOrThrow('app.logLevel', { infer: true }),
          redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
          genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? 'unknown',
          customAttributeKeys: { reqId: 'request_id', responseTime: 'duration_ms' },
          quietReqLogger: true,
          quietResLogger: true,
          customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
            err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
          customSuccessObject: (req: IncomingMessage, res: ServerResponse, val: { duration_ms: number }) => completionFields(req, res, val.duration_ms),
          customErrorObject: (req: IncomingMessage, res: ServerResponse, _err: Error, val: { duration_ms: number }) => completionFields(req, res, val.duration_ms),
          customSuccessMessage: () => 'request_completed',
          customErrorMessage: () => 'request_failed',
        }, destination],
      }),
    }),
  ],
  exports: [LoggerModule],
})
export class LoggingModule {}
