import type { IncomingMessage } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { contextOf } from '../common/http/request-context';
import { isV2Path } from '../common/validation/input-limits';
import { AllConfig } from '../config/app-config';
import { headerLength, INFERENCE_HEADER_CONTENT_LENGTH } from '../inference/v2/v2-binary';
import { markMovable } from '../models/tensors/movable-memory';
import { InferJsonScanner, parseInferJson } from './infer-json';

/**
 * How request bodies are read, the same on every adapter: JSON (application/json, +json, and
 * untyped bodies on /v2, which tritonclient sends), the V2 binary tensor data extension (any
 * Content-Type, told by its `Inference-Header-Content-Length`), and 415 for anything else.
 */

/** As the routers match them: case-insensitive, an optional trailing slash. */
const INFER_PATH = /^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer\/?$/i;

/** A V2 inference request in the binary tensor data extension (tritonclient's default). */
export function isBinaryInferRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && req.headers[INFERENCE_HEADER_CONTENT_LENGTH] !== undefined && INFER_PATH.test((req.url ?? '').split('?')[0]);
}

/** A V2 inference request with a JSON body (not the binary extension): the tensor fast path may read it. */
export function isJsonInferRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && req.headers[INFERENCE_HEADER_CONTENT_LENGTH] === undefined && INFER_PATH.test((req.url ?? '').split('?')[0])
    && (isJsonMedia(req.headers['content-type']) || isUntypedV2Body(req));
}

/** A body on a /v2 route with no Content-Type at all: JSON, as the V2 protocol's clients send it. */
export function isUntypedV2Body(req: IncomingMessage): boolean {
  return req.headers['content-type'] === undefined && isV2Path(req.url ?? '');
}

/** application/json or application/<anything>+json, parameters (charset) aside. */
export function isJsonMedia(contentType: string | undefined): boolean {
  // What nearly every client sends, answered without building strings.
  if (contentType === 'application/json') return true;
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return media === 'application/json' || /^application\/[^/]+\+json$/.test(media);
}

/** The 415 for a body the service cannot read. */
export const unsupportedMediaType = (contentType: string | undefined): AppError =>
  new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Content-Type '${contentType ?? 'none'}' is not supported; send application/json`);

/** The first character of a strict JSON body (an object or an array), after whitespace. */
const STRICT_START = /^[\x20\x09\x0a\x0d]*[[{]/;

/**
 * Parses a JSON body as body-parser does for Express (strict: an object or an array; an empty
 * body is `{}`); malformed JSON is a 400 naming it.
 */
export function parseJson(text: string): unknown {
  if (text.length === 0) return {};
  if (!STRICT_START.test(text)) throw new AppError(ErrorCode.MALFORMED_JSON, 'Malformed JSON in request body');
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError(ErrorCode.MALFORMED_JSON, 'Malformed JSON in request body');
  }
}

/**
 * A JSON body's text under its Content-Type charset, as body-parser reads it: utf-8 by default,
 * any utf-* charset (a byte-order mark is dropped), 415 for another charset.
 */
export function decodeText(body: Buffer, contentType: string | undefined): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase() ?? 'utf-8';
  if (!charset.startsWith('utf-')) throw new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Unsupported body encoding or charset '${charset}'`);
  // UTF-8, the default: Buffer's own decoder (as lenient as TextDecoder's, no decoder built per body); the mark dropped as TextDecoder does.
  if (charset === 'utf-8') return body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? body.toString('utf8', 3) : body.toString('utf8');
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    throw new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Unsupported body encoding or charset '${charset}'`);
  }
}

/** A Content-Type whose charset is UTF-8 (or unnamed: JSON's default). */
const isUtf8 = (contentType: string | undefined): boolean => {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
};

/**
 * A JSON body's value: a V2 inference body in UTF-8 through the tensor fast path (its numeric
 * data arrays read straight into typed arrays, see infer-json.ts), anything else (or a body the
 * fast path leaves) as text under its charset through {@link parseJson}.
 */
export function readJsonBody(raw: IncomingMessage, body: Buffer, scanner?: InferJsonScanner): unknown {
  const type = raw.headers['content-type'];
  // A byte-order mark is for TextDecoder to drop.
  if (isJsonInferRequest(raw) && isUtf8(type) && !(body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf)) {
    // `scanner` walked the body as it arrived into this very buffer (see scansAsItArrives).
    const value = parseInferJson(body, parseJson, scanner && scanner.body === body ? scanner : undefined);
    if (value !== undefined) return value;
  }
  return parseJson(decodeText(body, type));
}

/**
 * True for a body that {@link readJsonBody} would read through the tensor fast path and that
 * arrives as it is (no Content-Encoding): it can be walked while it arrives (InferJsonScanner).
 */
export function scansAsItArrives(raw: IncomingMessage): boolean {
  return isJsonInferRequest(raw) && isUtf8(raw.headers['content-type'])
    && contentEncodingOf(raw.headers) === 'identity';
}

/**
 * A binary-extension body: the JSON header (returned, then validated like any JSON body) and the
 * tensor bytes after it, kept in the request context for the V2 controller.
 */
export function parseBinaryInferBody(req: object, raw: IncomingMessage, body: Buffer): unknown {
  const length = headerLength(raw.headers[INFERENCE_HEADER_CONTENT_LENGTH], body.length);
  if (typeof length === 'string') throw new AppError(ErrorCode.BAD_REQUEST, length);
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(0, length).toString('utf8'));
  } catch {
    throw new AppError(ErrorCode.MALFORMED_JSON, 'Malformed JSON in the inference header (the first Inference-Header-Content-Length bytes)');
  }
  // The body is this request's alone when it spans its own memory (Buffer.concat of a large body,
  // or one socket read): the tensors over it may move to a runtime's thread instead of being copied.
  if (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength) markMovable(body);
  contextOf(req).binary = body.subarray(length);
  return header;
}

const DECODERS: Record<string, (body: Buffer, options: { maxOutputLength: number }) => Buffer> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/** A request's Content-Encoding, trimmed and lowercased; `identity` when there is none. */
export const contentEncodingOf = (headers: IncomingMessage['headers']): string => (headers['content-encoding'] ?? 'identity').trim().toLowerCase();

/** A route's body limit: V2_BODY_LIMIT under /v2 (tensors), BODY_LIMIT elsewhere, with the variable's name for the 413. */
export interface BodyLimit {
  bytes: number;
  name: 'BODY_LIMIT' | 'V2_BODY_LIMIT';
}

/** The body limit of a request to `url` (see {@link BodyLimit}). */
export function bodyLimitOf(url: string, http: Pick<AllConfig['app'], 'bodyLimitBytes' | 'v2BodyLimitBytes'>): BodyLimit {
  return isV2Path(url) ? { bytes: http.v2BodyLimitBytes, name: 'V2_BODY_LIMIT' } : { bytes: http.bodyLimitBytes, name: 'BODY_LIMIT' };
}

/**
 * The body under its Content-Encoding (gzip, deflate, br; identity or none as it is), at most
 * `limit` bytes decoded, as body-parser does it for Express: 415 for an encoding it does not know,
 * 400 for bytes that do not decode, 413 past the limit.
 */
export function decodeContentEncoding(raw: IncomingMessage, body: Buffer, limit: BodyLimit): Buffer {
  const encoding = contentEncodingOf(raw.headers);
  if (encoding === 'identity') return body;
  const decode = DECODERS[encoding];
  if (!decode) throw new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Unsupported body encoding or charset '${encoding}'`);
  try {
    return decode(body, { maxOutputLength: limit.bytes });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `Request body exceeds the limit of ${limit.bytes} bytes (${limit.name})`);
    throw new AppError(ErrorCode.BAD_REQUEST, 'Request body does not decode under its Content-Encoding');
  }
}
