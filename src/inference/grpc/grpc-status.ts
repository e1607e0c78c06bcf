import { status as GrpcStatus } from '@grpc/grpc-js';

import { ErrorCode } from '../../common/errors/error-code';
import { mapError } from '../../common/errors/error-mapper';

/** Maps an error code to its gRPC status. Exhaustive: a new code fails the build until mapped. */
export function grpcStatusOf(code: ErrorCode): GrpcStatus {
  switch (code) {
    case ErrorCode.BAD_REQUEST:
    case ErrorCode.MALFORMED_JSON:
    case ErrorCode.VALIDATION_FAILED:
    case ErrorCode.BATCH_TOO_LARGE:
    case ErrorCode.UNSUPPORTED_MEDIA_TYPE:
    case ErrorCode.HEADERS_TOO_LARGE:
    case ErrorCode.EXPECTATION_FAILED:
      return GrpcStatus.INVALID_ARGUMENT;
    case ErrorCode.UNAUTHORIZED:
      return GrpcStatus.UNAUTHENTICATED;
    case ErrorCode.FORBIDDEN:
      return GrpcStatus.PERMISSION_DENIED;
    case ErrorCode.NOT_FOUND:
    case ErrorCode.MODEL_NOT_FOUND:
    case ErrorCode.VERSION_NOT_FOUND:
      return GrpcStatus.NOT_FOUND;
    // The request was fine; the server's state refuses it (a version in use, a model that does not load).
    case ErrorCode.CONFLICT:
    case ErrorCode.MODEL_LOAD_FAILED:
      return GrpcStatus.FAILED_PRECONDITION;
    case ErrorCode.PAYLOAD_TOO_LARGE:
    case ErrorCode.RATE_LIMITED:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case ErrorCode.MODEL_NOT_READY:
    case ErrorCode.OVERLOADED:
    case ErrorCode.DEPENDENCY_UNAVAILABLE:
      return GrpcStatus.UNAVAILABLE;
    case ErrorCode.INFERENCE_TIMEOUT:
    case ErrorCode.REQUEST_TIMEOUT:
      return GrpcStatus.DEADLINE_EXCEEDED;
    case ErrorCode.INFERENCE_FAILED:
    case ErrorCode.INTERNAL:
      return GrpcStatus.INTERNAL;
    default: {
      const never: never = code;
      throw new Error(`unmapped error code ${String(never)}`);
    }
  }
}

/** What a failed call answers: its status, the message REST gives for the same error, and whether it was unexpected (log it). */
export interface GrpcFailure {
  code: GrpcStatus;
  /** The AppError code behind it, for the log line. */
  errorCode: ErrorCode;
  message: string;
  retryAfterSeconds?: number;
  unexpected: boolean;
}

/** Any thrown value as a gRPC status; an unexpected error is INTERNAL with a generic message (never its text or stack). */
export function grpcFailureOf(error: unknown): GrpcFailure {
  const mapped = mapError(error);
  return { code: grpcStatusOf(mapped.code), errorCode: mapped.code, message: mapped.message, retryAfterSeconds: mapped.retryAfterSeconds, unexpected: mapped.unexpected };
}

/** The status's name (`NOT_FOUND`), for log lines. */
export const grpcStatusName = (code: GrpcStatus): string => GrpcStatus[code] ?? String(code);
