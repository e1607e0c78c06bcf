import { HttpException, HttpStatus } from '@nestjs/common';
import { STATUS_CODES as HTTP_STATUS_TEXT } from 'node:http';

import { AppError, ErrorDetail } from './app-error';
import { ErrorCode, statusOf } from './error-code';

/** What the filter needs to answer any thrown value. */
export interface MappedError {
  status: number;
  code: ErrorCode;
  message: string;
  details: ErrorDetail[];
  retryAfterSeconds?: number;
  /** True when the error was not expected: it is logged with its stack, the caller sees a generic message. */
  unexpected: boolean;
  /** A body to send as it is: Terminus's health report, whose format probes and dashboards expect. */
  passthrough?: object;
}

/** Terminus throws its report (`{status: 'error', info, error, details}`) inside a 503. */
function isHealthReport(body: unknown): body is object {
  return typeof body === 'object' && body !== null && 'details' in body && 'status' in body && 'error' in body;
}

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  [HttpStatus.BAD_REQUEST]: ErrorCode.BAD_REQUEST,
  [HttpStatus.UNAUTHORIZED]: ErrorCode.UNAUTHORIZED,
  [HttpStatus.FORBIDDEN]: ErrorCode.FORBIDDEN,
  [HttpStatus.NOT_FOUND]: ErrorCode.NOT_FOUND,
  [HttpStatus.CONFLICT]: ErrorCode.CONFLICT,
  [HttpStatus.PAYLOAD_TOO_LARGE]: ErrorCode.PAYLOAD_TOO_LARGE,
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  [HttpStatus.UNPROCESSABLE_ENTITY]: ErrorCode.VALIDATION_FAILED,
  [HttpStatus.TOO_MANY_REQUESTS]: ErrorCode.RATE_LIMITED,
  [HttpStatus.SERVICE_UNAVAILABLE]: ErrorCode.OVERLOADED,
  [HttpStatus.GATEWAY_TIMEOUT]: ErrorCode.INFERENCE_TIMEOUT,
};

/** Errors raised by body-parser (raw-body) carry a `type` and a status. */
interface BodyParserError {
  type: string;
  status?: number;
  limit?: number;
  charset?: string;
}

const isBodyParserError = (e: unknown): e is BodyParserError =>
  typeof e === 'object' && e !== null && typeof (e as BodyParserError).type === 'string' && 'status' in e;

function fromBodyParser(e: BodyParserError): MappedError | undefined {
  const base = { details: [], unexpected: false };
  switch (e.type) {
    case 'entity.parse.failed':
      return { ...base, status: 400, code: ErrorCode.MALFORMED_JSON, message: 'Malformed JSON in request body' };
    case 'entity.too.large':
      return { ...base, status: 413, code: ErrorCode.PAYLOAD_TOO_LARGE, message: `Request body exceeds the limit of ${e.limit} bytes (BODY_LIMIT; V2_BODY_LIMIT on /v2)` };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { ...base, status: 415, code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, message: `Unsupported body encoding or charset${e.charset ? ` '${e.charset}'` : ''}` };
    case 'request.aborted':
      return { ...base, status: 400, code: ErrorCode.BAD_REQUEST, message: 'Request aborted by the client' };
    default:
      // Other raw-body errors (e.g. request.size.invalid) carry their own 4xx status.
      return e.status !== undefined && e.status >= 400 && e.status < 500
        ? { ...base, status: e.status, code: ErrorCode.BAD_REQUEST, message: `Unreadable request body (${e.type})` }
        : undefined;
  }
}

/**
 * body-parser wraps a body that does not decode under its Content-Encoding (gzip, deflate, br) as
 * the zlib error itself with status 400 and no `type`: the client's fault, not ours.
 */
function fromDecompression(e: unknown): MappedError | undefined {
  if (!(e instanceof Error) || (e as { status?: unknown }).status !== 400) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^(Z_|ERR_)/.test(code)) return undefined;
  return { status: 400, code: ErrorCode.BAD_REQUEST, message: 'Request body does not decode under its Content-Encoding', details: [], unexpected: false };
}

const isClientStatus = (status: unknown): boolean => typeof status === 'number' && status >= 400 && status < 500;

/** Errors Fastify raises before a handler runs (body too large, bad Content-Length, bad URL) carry an FST_ code and a status. */
interface FastifyError {
  code: string;
  statusCode: number;
  message: string;
}

const isFastifyError = (e: unknown): e is FastifyError => {
  const f = e as Partial<FastifyError> | undefined;
  return e instanceof Error && typeof f?.code === 'string' && f.code.startsWith('FST_') && typeof f.statusCode === 'number';
};

function fromFastify(e: FastifyError): MappedError | undefined {
  const base = { details: [], unexpected: false };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { ...base, status: 413, code: ErrorCode.PAYLOAD_TOO_LARGE, message: 'Request body exceeds the limit (BODY_LIMIT; V2_BODY_LIMIT on /v2)' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { ...base, status: 415, code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, message: 'Content-Type is not supported; send application/json' };
    default:
      // Fastify's messages name the protocol problem (e.g. an invalid Content-Length) without internals.
      return e.statusCode >= 400 && e.statusCode < 500
        ? { ...base, status: e.statusCode, code: STATUS_CODES[e.statusCode] ?? ErrorCode.BAD_REQUEST, message: e.message }
        : undefined;
  }
}

function messageOfHttpException(e: HttpException): string {
  const body = e.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : e.message;
}

/** Turns any thrown value into status, code and a caller-safe message. Never exposes a stack. */
export function mapError(exception: unknown): MappedError {
  if (exception instanceof AppError) {
    const { code, message, details, retryAfterSeconds } = exception;
    return { status: statusOf(code), code, message, details, retryAfterSeconds, unexpected: false };
  }
  if (isBodyParserError(exception)) {
    const mapped = fromBodyParser(exception);
    if (mapped) return mapped;
  }
  if (isFastifyError(exception)) {
    const mapped = fromFastify(exception);
    if (mapped) return mapped;
  }
  const undecodable = fromDecompression(exception);
  if (undecodable) return undecodable;
  // A library error with a 4xx statusCode: a body the client stopped sending (Fastify passes the
  // socket error on as a 400), or a refusal of its own with its status (the static files of /docs
  // answer 403 to a dot-segment path): that status, with the status's own words, never the library's text.
  const clientStatus = exception instanceof Error && !(exception instanceof HttpException) ? (exception as { statusCode?: unknown; status?: unknown }).statusCode ?? (exception as { status?: unknown }).status : undefined;
  if (isClientStatus(clientStatus)) {
    const status = clientStatus as number;
    const aborted = status === 400 && (/^(ECONNRESET|ECONNABORTED|ERR_STREAM_PREMATURE_CLOSE)$/.test(String((exception as { code?: unknown }).code)) || /abort/i.test((exception as Error).message));
    if (aborted) return { status, code: ErrorCode.BAD_REQUEST, message: 'Request body could not be read (aborted by the client?)', details: [], unexpected: false };
    return { status, code: STATUS_CODES[status] ?? ErrorCode.BAD_REQUEST, message: HTTP_STATUS_TEXT[status] ?? 'Bad request', details: [], unexpected: false };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const body = exception.getResponse();
    if (isHealthReport(body)) {
      return { status, code: ErrorCode.MODEL_NOT_READY, message: 'health check failed', details: [], unexpected: false, passthrough: body };
    }
    const code = STATUS_CODES[status] ?? (status >= 500 ? ErrorCode.INTERNAL : ErrorCode.BAD_REQUEST);
    // A 5xx HttpException comes from a library (e.g. Nest wrapping an adapter's failure): its text stays in the log.
    const message = status >= 500 ? 'Internal server error' : messageOfHttpException(exception);
    return { status, code, message, details: [], unexpected: status >= 500 };
  }
  return { status: 500, code: ErrorCode.INTERNAL, message: 'Internal server error', details: [], unexpected: true };
}
