import { ErrorCode } from './error-code';
import { ErrorDetail } from './app-error';

/** DESIGN.md's error envelope, the body of every error response outside /v2. */
export interface ErrorEnvelope {
  status: 'error';
  error: { code: ErrorCode; message: string; details: ErrorDetail[] };
  request_id: string;
  timestamp: string;
}

export function errorEnvelope(code: ErrorCode, message: string, details: ErrorDetail[], requestId: string): ErrorEnvelope {
  return { status: 'error', error: { code, message, details }, request_id: requestId, timestamp: new Date().toISOString() };
}
