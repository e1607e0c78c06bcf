import { resolve } from 'node:path';

import type { Reply, Sent } from './wire';

/**
 * What every answer to hostile input must look like (README "Errors", "Security model and
 * limits"): never a 5xx; outside /v2 every error is the envelope `{status: "error", error: {code,
 * message, details}, request_id, timestamp}` with the code of its status; under /v2 exactly
 * `{error: "<message>"}` (the readiness routes' `{ready: false}` / `{name, ready: false}` 400s
 * aside); an X-Request-Id on every answer (the caller's when sane, else a UUID v4), equal to the
 * body's request_id; no stack frame, JS engine error name, source path or file content in a body.
 */

/** A stack frame ("at fn (/app/src/x.ts:12:3)", "at /app/x.js:1") or a JS engine error name leaking into a body. */
export const STACK_FRAME = /\bat\s+[^\n]*?[\w.-]+\.(?:ts|js|mjs|cjs):\d+/;
export const ENGINE_ERROR = /\b(?:TypeError|ReferenceError|RangeError|SyntaxError|EvalError|URIError|InternalError)\b/;
/** Where the server's code lives: a body that names it leaks internals. */
const SOURCE_ROOT = resolve(__dirname, '../../..');
/** Contents of files a path traversal would reach (/etc/passwd, the repository's package.json, a model file's ONNX header). */
const FILE_CONTENT = /root:x:0:0|"devDependencies"|"onnxruntime-node"|onnx-proto|skl2onnx/;

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The envelope's codes for each status an error may have (README "Errors"). */
export const CODES_BY_STATUS: Record<number, string[]> = {
  400: ['MALFORMED_JSON', 'BATCH_TOO_LARGE', 'BAD_REQUEST'],
  401: ['UNAUTHORIZED'],
  403: ['FORBIDDEN'],
  404: ['MODEL_NOT_FOUND', 'VERSION_NOT_FOUND', 'NOT_FOUND'],
  // Requests the HTTP parser refuses (src/http/client-limits.ts): a slow client, an unmet Expect, oversized headers.
  408: ['REQUEST_TIMEOUT'],
  409: ['CONFLICT'],
  413: ['PAYLOAD_TOO_LARGE'],
  // A path parameter over Fastify's maxParamLength (1000): not in the README's table, but the envelope, and a 4xx.
  414: ['BAD_REQUEST'],
  415: ['UNSUPPORTED_MEDIA_TYPE'],
  417: ['EXPECTATION_FAILED'],
  422: ['VALIDATION_FAILED', 'MODEL_LOAD_FAILED'],
  429: ['RATE_LIMITED'],
  431: ['HEADERS_TOO_LARGE'],
  503: ['MODEL_NOT_READY', 'OVERLOADED'],
};

/**
 * Statuses hostile input may get from the main app. 429 is absent (rate limits are off there; the
 * rate-limit property allows it) and so is 503: the suite is configured so that nothing is
 * overloaded or not ready (MAX_QUEUE above any burst, MAX_MEMORY_MB out of reach, no model
 * unloaded) — only requests aimed at the scratch model while an admin call has it unloaded may get
 * a 503 MODEL_NOT_READY, and those say so (`allow503`).
 */
export const ALLOWED_STATUSES = new Set([200, 201, 204, 304, 400, 401, 403, 404, 408, 409, 413, 414, 415, 417, 422, 431]);

export interface CheckOptions {
  /** Extra statuses this request may get (e.g. 429 in the rate-limit property, 503 for the scratch model while unloaded). */
  allow?: number[];
}

export class Violation extends Error {}

/** Exclusions of known findings that were hit, by name (printed with the count table). */
export const knownBugHits = new Map<string, number>();
export const knownBug = (name: string): void => {
  knownBugHits.set(name, (knownBugHits.get(name) ?? 0) + 1);
};


export const show = (sent: Sent, r: Reply): string =>
  `${sent.method} ${sent.path.length > 300 ? `${sent.path.slice(0, 300)}…(${sent.path.length} chars)` : sent.path}\n` +
  `  request headers: ${JSON.stringify(sent.headers ?? {}).slice(0, 400)}\n` +
  `  request body (${sent.body === undefined ? 0 : sent.body.length} bytes): ${JSON.stringify(String(sent.body ?? '').slice(0, 400))}\n` +
  `  got: HTTP ${r.status} (${r.contentType || 'no content-type'}) ${r.raw.toString('utf8').slice(0, 600)}`;

/** An assertion whose message carries the exchange, so fast-check's report shows what was sent and what came back. */
export function must(condition: unknown, why: string, sent: Sent, r: Reply): asserts condition {
  if (!condition) throw new Violation(`${why}\n  ${show(sent, r)}`);
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** As the server decides it (src/common/validation/input-limits.ts isV2Path): the request target starts with /v2, any case. */
export const isV2Target = (path: string): boolean => /^\/v2(\/|$|\?)/i.test(path);

/** The V2 readiness routes, whose "false" is a 400 with a `{ready: false}` body rather than `{error}`. */
const V2_READY_ROUTE = /^\/v2\/(health\/ready|models\/[^/?]+(\/versions\/[^/?]+)?\/ready)\/?(\?|$)/i;

export interface Envelope { status: string; error: { code: string; message: string; details: { field: string; message: string }[] }; request_id: string; timestamp: string }

export function assertNoLeak(sent: Sent, r: Reply): void {
  const text = r.raw.toString('utf8');
  must(!STACK_FRAME.test(text), 'the body carries a stack frame', sent, r);
  must(!ENGINE_ERROR.test(text), 'the body names a JS engine error', sent, r);
  // Only the code's location: error messages may echo the caller's own path or strings, and /health names the model repository on purpose.
  must(!text.includes(SOURCE_ROOT) && !/node:internal|\(node:/.test(text), 'the body names a path of the server\'s code', sent, r);
  must(!FILE_CONTENT.test(text), 'the body carries the content of a file', sent, r);
}

export function assertEnvelope(sent: Sent, r: Reply): Envelope {
  must(/^application\/json/i.test(r.contentType), 'an error must be JSON', sent, r);
  must(r.jsonError === undefined, `an error says JSON but does not parse (${r.jsonError})`, sent, r);
  const b = r.json as Envelope;
  must(isObject(b) && Object.keys(b).sort().join() === 'error,request_id,status,timestamp', 'the envelope is {status, error, request_id, timestamp}', sent, r);
  must(b.status === 'error', 'envelope.status must be "error"', sent, r);
  must(isObject(b.error) && Object.keys(b.error).sort().join() === 'code,details,message', 'envelope.error is {code, message, details}', sent, r);
  must(CODES_BY_STATUS[r.status]?.includes(b.error.code), `code ${b.error.code} does not belong to status ${r.status}`, sent, r);
  must(typeof b.error.message === 'string' && b.error.message.trim().length > 0, 'envelope.error.message must be non-empty', sent, r);
  must(Array.isArray(b.error.details), 'envelope.error.details must be an array', sent, r);
  for (const d of b.error.details) {
    must(isObject(d) && typeof d.field === 'string' && typeof d.message === 'string' && d.message.length > 0, 'every detail is {field, message}', sent, r);
  }
  if (r.status === 422 && b.error.code === 'VALIDATION_FAILED') must(b.error.details.length > 0, 'a 422 VALIDATION_FAILED names at least one problem in details', sent, r);
  must(typeof b.request_id === 'string' && b.request_id === r.headers['x-request-id'], 'request_id is the X-Request-Id', sent, r);
  must(typeof b.timestamp === 'string' && !Number.isNaN(Date.parse(b.timestamp)), 'timestamp is a date', sent, r);
  if (r.status === 429 || r.status === 503) must(/^\d+$/.test(String(r.headers['retry-after'] ?? '')), `a ${r.status} carries Retry-After`, sent, r);
  return b;
}

export function assertV2Error(sent: Sent, r: Reply): string {
  must(/^application\/json/i.test(r.contentType), 'a V2 error must be JSON', sent, r);
  must(r.jsonError === undefined, `a V2 error says JSON but does not parse (${r.jsonError})`, sent, r);
  const path = sent.path.split('?')[0];
  if (r.status === 400 && V2_READY_ROUTE.test(sent.path) && isObject(r.json) && r.json.ready === false) {
    const keys = Object.keys(r.json).sort().join();
    must(keys === 'ready' || keys === 'name,ready', 'a V2 "not ready" is {ready: false} or {name, ready: false}', sent, r);
    return `not ready: ${path}`;
  }
  must(isObject(r.json) && Object.keys(r.json).length === 1 && 'error' in r.json, 'a V2 error body must be exactly {error}', sent, r);
  const { error } = r.json as { error: unknown };
  must(typeof error === 'string' && error.trim().length > 0, 'a V2 error must be a non-empty string', sent, r);
  if (r.status === 429 || r.status === 503) must(/^\d+$/.test(String(r.headers['retry-after'] ?? '')), `a ${r.status} carries Retry-After`, sent, r);
  return error;
}

/** The universal rule, for every answer of every property. */
export function checkReply(sent: Sent, r: Reply, { allow = [] }: CheckOptions = {}): void {
  must(r.status < 500 || allow.includes(r.status), `HTTP ${r.status}: hostile input must never get a 5xx`, sent, r);
  must(ALLOWED_STATUSES.has(r.status) || allow.includes(r.status), `status ${r.status} is not one hostile input may get here`, sent, r);
  const bodyId = isObject(r.json) && typeof r.json.request_id === 'string' ? r.json.request_id : undefined;
  const id = r.headers['x-request-id'];
  must(typeof id === 'string' && id.length > 0, 'every answer carries X-Request-Id', sent, r);
  // The HTTP parser trims a header value's surrounding whitespace before the app sees it.
  const header = sent.headers?.['x-request-id'];
  const incoming = typeof header === 'string' ? header.replace(/^[ \t]+|[ \t]+$/g, '') : undefined;
  if (incoming !== undefined && SANE_REQUEST_ID.test(incoming)) must(id === incoming, 'a sane X-Request-Id is echoed', sent, r);
  else must(UUID_V4.test(id), 'without a sane X-Request-Id a UUID v4 is generated', sent, r);
  if (sent.method === 'HEAD') return;
  if (r.status >= 400) {
    if (isV2Target(sent.path)) assertV2Error(sent, r);
    else assertEnvelope(sent, r);
    assertNoLeak(sent, r);
    return;
  }
  if (/^application\/json/i.test(r.contentType)) {
    must(r.jsonError === undefined, `a 2xx says JSON but does not parse (${r.jsonError})`, sent, r);
    if (!/^\/docs-json/i.test(sent.path)) assertNoLeak(sent, r);
  }
}
