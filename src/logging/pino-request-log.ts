import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import pino, { Logger } from 'pino';
import type { DestinationStream } from 'pino';

import { CompletedRequest, RequestLog } from '../common/observability/request-observers';
import { AllConfig } from '../config/app-config';
import { LOG_DESTINATION } from './log-destination';

/**
 * The completion lines: one JSON line per request, `request_completed` (info; warn for 4xx) or
 * `request_failed` (error, 5xx), with request_id, method, route template, status, duration_ms,
 * client and the prediction's model_id/model_version/variant/cached (and trace_id/span_id/trace_flags
 * of the server span when tracing is on); for a gRPC call
 * `grpc_call_completed` / `grpc_call_failed` with `transport: "grpc"` and `grpc_status` besides. A
 * logger of its own on the same destination: the line needs no per-request child logger.
 */
@Injectable()
export class PinoRequestLog extends RequestLog {
  private readonly logger: Logger;

  constructor(config: ConfigService<AllConfig, true>, @Inject(LOG_DESTINATION) destination: DestinationStream) {
    super();
    this.logger = pino({ level: config.getOrThrow('app.logLevel', { infer: true }) }, destination);
  }

  completed(r: CompletedRequest): void {
    const level = r.status >= 500 ? 'error' : r.status >= 400 ? 'warn' : 'info';
    if (!this.logger.isLevelEnabled(level)) return;
    const line = { request_id: r.requestId, method: r.method, route: r.route, status: r.status, duration_ms: r.durationMs, client: r.client, ...r.prediction, ...r.trace };
    if (r.grpcStatus !== undefined) {
      this.logger[level]({ ...line, transport: 'grpc', grpc_status: r.grpcStatus }, r.status >= 500 ? 'grpc_call_failed' : 'grpc_call_completed');
      return;
    }
    this.logger[level](line, r.status >= 500 ? 'request_failed' : 'request_completed');
  }
}
