/** Every error the service can answer with. The global filter maps each to one HTTP status. */
export enum ErrorCode {
  BAD_REQUEST = 'BAD_REQUEST',
  MALFORMED_JSON = 'MALFORMED_JSON',
  VALIDATION_FAILED = 'VALIDATION_FAILED',
  MODEL_LOAD_FAILED = 'MODEL_LOAD_FAILED',
  BATCH_TOO_LARGE = 'BATCH_TOO_LARGE',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  UNAUTHORIZED = 'UNAUTHORIZED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  /** The client did not send its request (headers, or headers and body) within the server's time. */
  REQUEST_TIMEOUT = 'REQUEST_TIMEOUT',
  /** The request's headers are larger than MAX_HEADER_BYTES. */
  HEADERS_TOO_LARGE = 'HEADERS_TOO_LARGE',
  /** An `Expect` header the server does not meet (only 100-continue is). */
  EXPECTATION_FAILED = 'EXPECTATION_FAILED',
  MODEL_NOT_FOUND = 'MODEL_NOT_FOUND',
  VERSION_NOT_FOUND = 'VERSION_NOT_FOUND',
  CONFLICT = 'CONFLICT',
  RATE_LIMITED = 'RATE_LIMITED',
  MODEL_NOT_READY = 'MODEL_NOT_READY',
  OVERLOADED = 'OVERLOADED',
  /** A store the change needs (Redis, with REDIS_URL) cannot be reached; the message names it. */
  DEPENDENCY_UNAVAILABLE = 'DEPENDENCY_UNAVAILABLE',
  INFERENCE_FAILED = 'INFERENCE_FAILED',
  INFERENCE_TIMEOUT = 'INFERENCE_TIMEOUT',
  INTERNAL = 'INTERNAL',
}

/** Maps an error code to its HTTP status. Exhaustive: a new code fails the build until mapped. */
export function statusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.BAD_REQUEST:
    case ErrorCode.MALFORMED_JSON:
    case ErrorCode.BATCH_TOO_LARGE:
      return 400;
    case ErrorCode.UNAUTHORIZED:
      return 401;
    case ErrorCode.FORBIDDEN:
      return 403;
    case ErrorCode.NOT_FOUND:
    case ErrorCode.MODEL_NOT_FOUND:
    case ErrorCode.VERSION_NOT_FOUND:
      return 404;
    case ErrorCode.REQUEST_TIMEOUT:
      return 408;
    case ErrorCode.CONFLICT:
      return 409;
    case ErrorCode.PAYLOAD_TOO_LARGE:
      return 413;
    case ErrorCode.UNSUPPORTED_MEDIA_TYPE:
      return 415;
    case ErrorCode.EXPECTATION_FAILED:
      return 417;
    case ErrorCode.VALIDATION_FAILED:
    case ErrorCode.MODEL_LOAD_FAILED:
      return 422;
    case ErrorCode.RATE_LIMITED:
      return 429;
    case ErrorCode.HEADERS_TOO_LARGE:
      return 431;
    case ErrorCode.INTERNAL:
    case ErrorCode.INFERENCE_FAILED:
      return 500;
    case ErrorCode.MODEL_NOT_READY:
    case ErrorCode.OVERLOADED:
    case ErrorCode.DEPENDENCY_UNAVAILABLE:
      return 503;
    case ErrorCode.INFERENCE_TIMEOUT:
      return 504;
    default: {
      const never: never = code;
      throw new Error(`unmapped error code ${String(never)}`);
    }
  }
}
