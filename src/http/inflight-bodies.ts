import type { IncomingMessage } from 'node:http';

import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { AllConfig } from '../config/app-config';
import { bodyLimitOf, contentEncodingOf } from './request-bodies';

const MIB = 1024 * 1024;
/** Bodies in flight finish in about the time one takes to arrive and run: a second is the client's sensible wait. */
const RETRY_AFTER_SECONDS = 1;

type Limits = Pick<AllConfig['app'], 'bodyLimitBytes' | 'v2BodyLimitBytes'>;

/** What admission needs of a response: its 'close' event (a ServerResponse fits). */
export interface ClosingResponse {
  once(event: 'close', listener: () => void): unknown;
}

/**
 * The bytes a request's body may take in memory once read: its Content-Length for a plain body; the
 * route's limit (BODY_LIMIT, V2_BODY_LIMIT on /v2) when its size is unknown (chunked) or it is
 * compressed (it may inflate up to that limit). 0 without a body.
 */
export function bodyBytesOf(req: Pick<IncomingMessage, 'headers' | 'url'>, limits: Limits): number {
  const length = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || Number(length) === 0)) return 0;
  const limit = bodyLimitOf(req.url ?? '', limits).bytes;
  const encoding = contentEncodingOf(req.headers);
  if (chunked || encoding !== 'identity') return limit;
  return Math.min(Number(length), limit);
}

/**
 * Admission by the bytes of request bodies in flight (MAX_INFLIGHT_MB), so that many large
 * requests at once (eight 60 MB JSON tensors) cannot exhaust memory: a request whose body would
 * push the total above the cap is refused with 503 OVERLOADED and Retry-After before its body is
 * read; an admitted body's bytes count until its response has finished or its connection closed.
 * Requests without a body (probes, metadata) are always admitted. It runs in each adapter's
 * earliest hook (Fastify onRequest, the first Express middleware) because a Nest guard runs only
 * once the body has been buffered, too late to protect memory.
 */
export class InflightBodies {
  private bytes = 0;

  /**
   * @param capBytes MAX_INFLIGHT_MB in bytes (at least the largest body limit, checked at boot).
   * @param refused called for each refusal (ml_admission_refused_requests_total).
   */
  constructor(private readonly capBytes: number, private readonly limits: Limits, private readonly refused: () => void = () => undefined) {}

  /** Bytes of admitted bodies whose responses are not finished yet. */
  get inFlightBytes(): number {
    return this.bytes;
  }

  /**
   * Reserves the bytes `req`'s body may take ({@link bodyBytesOf}) until `res` closes. Throws
   * AppError OVERLOADED (503, Retry-After 1 s) when they would pass the cap.
   */
  admit(req: Pick<IncomingMessage, 'headers' | 'url'>, res: ClosingResponse): void {
    const bytes = bodyBytesOf(req, this.limits);
    if (bytes === 0) return;
    if (this.bytes + bytes > this.capBytes) {
      this.refused();
      throw new AppError(
        ErrorCode.OVERLOADED,
        `Request bodies in flight (${mb(this.bytes)} MB) and this one (${mb(bytes)} MB) would pass MAX_INFLIGHT_MB (${mb(this.capBytes)} MB); retry later`,
        [],
        RETRY_AFTER_SECONDS,
      );
    }
    this.bytes += bytes;
    // 'close' comes once the response has finished, or when the connection closed before it did.
    res.once('close', () => { this.bytes -= bytes; });
  }
}

const mb = (bytes: number): string => (bytes / MIB).toFixed(1);
