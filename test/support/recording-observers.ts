import { CompletedRequest, RequestLog, RequestMetrics } from '../../src/common/observability/request-observers';

/** Records every completion line (the RequestLog port). */
export class RecordingRequestLog extends RequestLog {
  readonly lines: CompletedRequest[] = [];
  completed(request: CompletedRequest): void {
    this.lines.push(request);
  }
}

/** Records every HTTP observation (the RequestMetrics port); rate-limit and shedding counts are not looked at. */
export class RecordingRequestMetrics extends RequestMetrics {
  readonly http: { method: string; route: string; statusCode: number; seconds: number }[] = [];
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    this.http.push({ method, route, statusCode, seconds });
  }
  readonly rpc: { service: string; method: string; code: string; seconds: number }[] = [];
  rateLimit(): void {}
  memoryShed(): void {}
  admissionRefused(): void {}
  watchInflightBodies(): void {}
  observeRpc(service: string, method: string, code: string, seconds: number): void {
    this.rpc.push({ service, method, code, seconds });
  }
}
