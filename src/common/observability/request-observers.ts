import type { PredictionLogFields } from '../http/request-context';
import type { TraceLogFields } from './trace-spans';

/** One answered request, as its completion line and HTTP metrics see it. */
export interface CompletedRequest {
  requestId: string;
  /** The HTTP method, or the gRPC method (`ModelInfer`). */
  method: string;
  /** The route template (`/models/:id`), never the raw path; `unmatched` when no route took it. gRPC: the full method path. */
  route: string;
  /** The HTTP status; for a gRPC call the HTTP status of the same outcome (200, or the error code's), which sets the line's level. */
  status: number;
  /** Set for gRPC calls only: the status code's name (`OK`, `NOT_FOUND`, …). */
  grpcStatus?: string;
  durationMs: number;
  /** The API-key name, else the client IP. */
  client: string;
  prediction?: PredictionLogFields;
  /** The request's server span (trace_id, span_id, trace_flags), when tracing is on. */
  trace?: TraceLogFields;
}

/**
 * Port: where completion lines go (one per request). The logging module provides it; common
 * depends on this abstraction only, so it imports no feature folder.
 */
export abstract class RequestLog {
  /** Writes the request's one completion line (info, warn for 4xx, error for 5xx). */
  abstract completed(request: CompletedRequest): void;
}

/** Port: the HTTP-level metrics the guards, interceptors and filter record. The metrics module provides it. */
export abstract class RequestMetrics {
  /** `http_requests_total` and `http_request_duration_seconds` for one answered request. */
  abstract observeHttp(method: string, route: string, statusCode: number, seconds: number): void;
  /** A request refused by the named rate limit (`minute`, `hour`). */
  abstract rateLimit(limit: string): void;
  /** A prediction refused because RSS is above MAX_MEMORY_MB. */
  abstract memoryShed(): void;
  /** A request refused before its body was read: the bodies in flight and its own would pass MAX_INFLIGHT_MB. */
  abstract admissionRefused(): void;
  /** Where the bytes of request bodies in flight (what MAX_INFLIGHT_MB caps) are read at scrape time. */
  abstract watchInflightBodies(bytes: () => number): void;
  /** `grpc_server_handled_total` and `grpc_server_handling_seconds` (go-grpc-prometheus' names) for one gRPC call. */
  abstract observeRpc(service: string, method: string, code: string, seconds: number): void;
}
