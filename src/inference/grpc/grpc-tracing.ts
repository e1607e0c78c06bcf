import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { propagation, ROOT_CONTEXT, Span, SpanStatusCode, TextMapGetter } from '@opentelemetry/api';
import {
  ATTR_NETWORK_PEER_ADDRESS, ATTR_RPC_METHOD, ATTR_RPC_STATUS_CODE, ATTR_RPC_SYSTEM_NAME, RPC_SYSTEM_NAME_VALUE_GRPC,
} from '@opentelemetry/semantic-conventions';

import { ATTR_APP_REQUEST_ID, endSpan, markRequestError, serverSpan } from '../../common/observability/trace-spans';
import { grpcStatusName } from './grpc-status';

/** Reads W3C `traceparent` / `tracestate` from gRPC metadata (grpc-js lower-cases keys). */
const METADATA_GETTER: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).filter((v): v is string => typeof v === 'string');
    return values.length === 0 ? undefined : values;
  },
};

/** Probes are not traced (as HTTP's /health routes): they would bury the predictions. */
const UNTRACED_METHODS = new Set(['ServerLive', 'ServerReady']);

/** The codes that mean the server failed (the gRPC semantic conventions' list for server spans): the span's status is ERROR. */
const SERVER_FAULTS = new Set([
  GrpcStatus.UNKNOWN, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.UNIMPLEMENTED, GrpcStatus.INTERNAL, GrpcStatus.UNAVAILABLE, GrpcStatus.DATA_LOSS,
]);

/**
 * The server span of one gRPC call (`inference.GRPCInferenceService/ModelInfer`, kind SERVER,
 * `rpc.system.name` grpc, `rpc.method`), continuing the caller's trace from `traceparent` /
 * `tracestate` metadata. Undefined for the probe methods. Only called while tracing is on.
 */
export function startGrpcSpan(path: string, metadata: Metadata, peer: string, requestId: string): Span | undefined {
  const fullMethod = path.slice(1);
  if (UNTRACED_METHODS.has(fullMethod.slice(fullMethod.lastIndexOf('/') + 1))) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, metadata, METADATA_GETTER);
  return serverSpan(fullMethod, parent, {
    [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME_VALUE_GRPC,
    [ATTR_RPC_METHOD]: fullMethod,
    [ATTR_NETWORK_PEER_ADDRESS]: peer,
    [ATTR_APP_REQUEST_ID]: requestId,
  });
}

/** Ends a call's span with its status: `rpc.status_code`, and for a failure its error code (ERROR status for the server-side codes). */
export function endGrpcSpan(span: Span, code: GrpcStatus, failure?: { errorCode: string; message: string }): void {
  span.setAttribute(ATTR_RPC_STATUS_CODE, grpcStatusName(code));
  if (failure) {
    const serverFault = SERVER_FAULTS.has(code);
    markRequestError(span, failure.errorCode, serverFault);
    if (serverFault) span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
  }
  endSpan(span);
}
