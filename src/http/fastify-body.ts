import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

import { errorCodes } from 'fastify';

/** From this Content-Length on, a body is read into one buffer of its size as it arrives. */
export const PREALLOCATE_BYTES = 256 * 1024;

/** The most memory the body pool (fastify.http.ts, BodyBufferPool) keeps while no request uses it. */
export const BODY_POOL_IDLE_BYTES = 64 * 1024 * 1024;

/**
 * Reads a request body as Fastify's own reader does for `parseAs: 'buffer'` (lib/content-type-parser.js
 * rawBody, Fastify 5), with its errors: FST_ERR_CTP_BODY_TOO_LARGE when the Content-Length or the
 * bytes read pass `limit`, FST_ERR_CTP_INVALID_CONTENT_LENGTH when the bytes read are not the
 * Content-Length, a stream error as itself with status 400. Two differences:
 * - a body whose Content-Length is at least {@link PREALLOCATE_BYTES} is copied into one buffer of
 *   that size as its chunks arrive (its own memory, as Buffer.concat's would be), instead of a list
 *   of chunks concatenated at the end: the copy is spread over the transfer, and the peak is one body,
 *   not two;
 * - `watch`, given that buffer before the first byte arrives, may answer a listener called with the
 *   count of bytes in after each chunk, so a parser can read the body while it is still arriving
 *   (see InferJsonScanner);
 * - `allocate`, when given, supplies that buffer (see BodyBufferPool) instead of fresh memory.
 */
export function readFastifyBody(
  payload: Readable,
  headers: IncomingHttpHeaders,
  limit: number,
  done: (error: Error | null, body?: Buffer) => void,
  watch?: (target: Buffer) => ((received: number) => void) | undefined,
  allocate: (size: number) => Buffer = Buffer.allocUnsafeSlow,
): void {
  const contentLength = Number(headers['content-length']);
  if (contentLength > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  const target = contentLength >= PREALLOCATE_BYTES ? allocate(contentLength) : undefined;
  const progress = target ? watch?.(target) : undefined;
  const chunks: Buffer[] = [];
  let received = 0;

  const stop = (): void => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
  };
  function onData(chunk: Buffer): void {
    if (received + chunk.length > limit) {
      stop();
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    if (!target) chunks.push(chunk);
    // Past the Content-Length (Node's parser never delivers that): counted, not copied; the length check refuses it.
    else if (received + chunk.length <= target.length) chunk.copy(target, received);
    received += chunk.length;
    if (progress && received <= contentLength) progress(received);
  }
  function onEnd(error?: Error & { statusCode?: number }): void {
    stop();
    if (error != null) {
      if (!(typeof error.statusCode === 'number' && error.statusCode >= 400)) error.statusCode = 400;
      done(error);
      return;
    }
    if (!Number.isNaN(contentLength) && received !== contentLength) {
      done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    done(null, target ?? Buffer.concat(chunks));
  }
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}
