import { INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { request as httpRequest, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import request from 'supertest';

import { createApp, REPO_MODELS } from './support/create-app';

/**
 * Property-based robustness tests over real HTTP on the real AppModule and the bundled ONNX
 * models. The rule under test (README "Errors"): bad input gets a clear error, never a crash —
 * every error is the JSON error body with the right 4xx status, every problem named, and no
 * stack trace. Every property runs with a fixed seed, so a failure reproduces exactly; fast-check
 * prints the shrunk counterexample (and the seed/path to replay it).
 */

const ENV = { REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };
const SEED = 20_260_101;
/** Guards against a hang only (a hung request fails the property instead of the whole file timing out); no latency is asserted. */
const REQUEST_TIMEOUT_MS = 15_000;

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;
/** The magnitude from which FP32 rounds to infinity (the service refuses values at or above it). */
const FP32_LIMIT = 3.4028235677973366e38;
/** Keys the input-limits middleware refuses anywhere in a body (a different 422 than the one a property is about). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Labels of each bundled classifier, read from its model.json. */
const LABELS: Record<string, string[]> = Object.fromEntries(
  ['iris', 'penguins'].map((id) => [id, (JSON.parse(readFileSync(join(REPO_MODELS, id, 'model.json'), 'utf8')) as { labels: string[] }).labels]),
);
const IRIS_LABELS = LABELS.iris;

/** Statuses a bad request may get (503 = not ready / overloaded); anything else, above all a 5xx, breaks the rule. */
const CLIENT_ERROR_STATUSES = new Set([400, 404, 413, 415, 422, 503]);
/** The envelope's code for each status /predict may answer a bad request with. */
const CODES_BY_STATUS: Record<number, string[]> = {
  400: ['MALFORMED_JSON', 'BATCH_TOO_LARGE', 'BAD_REQUEST'],
  404: ['MODEL_NOT_FOUND', 'VERSION_NOT_FOUND', 'NOT_FOUND'],
  413: ['PAYLOAD_TOO_LARGE'],
  415: ['UNSUPPORTED_MEDIA_TYPE'],
  422: ['VALIDATION_FAILED'],
  503: ['MODEL_NOT_READY', 'OVERLOADED'],
};

/** A stack frame ("at fn (/app/src/x.ts:12:3)", "at /app/x.js:1") or a JS engine error name leaking into a body. */
const STACK_FRAME = /\bat\s+[^\n]*?[\w.-]+\.(?:ts|js|mjs|cjs):\d+/;
const ENGINE_ERROR = /\b(?:TypeError|ReferenceError|RangeError|SyntaxError)\b/;

// ---------------------------------------------------------------------------------------------
// Raw JSON literals. JSON.stringify cannot write 1e999 or -0; a marker string is put in the value
// and replaced by the literal in the text, so bodies can carry numbers that parse to ±Infinity.
// ---------------------------------------------------------------------------------------------

const RAW = '\u0000RAW:';
const raw = (literal: string): string => `${RAW}${literal}\u0000`;
const RAW_IN_TEXT = /"\\u0000RAW:([^"\\]*)\\u0000"/g;
/** JSON text of `value`, with the raw-literal markers replaced by their literals. */
const jsonText = (value: unknown): string => (JSON.stringify(value) ?? 'null').replace(RAW_IN_TEXT, '$1');
/** What the server's JSON parser makes of `value` (1e999 → Infinity, NaN → null, -0 → -0). */
const asParsed = (value: unknown): unknown => JSON.parse(jsonText(value));
/** A feature value /predict accepts for an FP32 model: a boolean, or a finite number that does not round to infinity. */
const usableFeature = (value: unknown): boolean => {
  const v = asParsed(value);
  return typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < FP32_LIMIT);
};
const RAW_LITERALS = ['1e999', '-1e999', '1e39', '-1e39', '3.5e38', '1e-400', '-0', '123456789012345678901234567890', '1E+2', '0.0000000'];

// ---------------------------------------------------------------------------------------------
// HTTP: every answer is read raw and decoded here, so JSON, octet-stream and anything else alike
// can be checked (and a body that claims JSON but is not is a failure, not a parser crash).
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  contentType: string;
  headers: Record<string, string>;
  raw: Buffer;
  /** The parsed body when the answer says it is JSON. */
  json: unknown;
}

const rawParser = (res: request.Response, done: (err: Error | null, body: Buffer) => void) => {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
};

async function reply(test: request.Test, payload: string | Buffer): Promise<Reply> {
  const res = await test.timeout(REQUEST_TIMEOUT_MS).buffer(true).parse(rawParser).send(payload);
  const body = res.body as Buffer;
  const contentType = String(res.headers['content-type'] ?? '');
  let json: unknown;
  if (/^application\/json/.test(contentType)) {
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new Error(`HTTP ${res.status} says application/json but its body is not JSON: ${body.toString('utf8').slice(0, 300)}`);
    }
  }
  return { status: res.status, contentType, headers: res.headers as Record<string, string>, raw: body, json };
}

/**
 * One POST over plain node:http, bytes as given. superagent (supertest) does not send a body with a
 * Content-Encoding header through unchanged (a correctly gzipped body arrived undecodable), so the
 * Content-Encoding property talks to the listening server directly.
 */
async function rawPost(server: Server, path: string, headers: Record<string, string>, body: Buffer): Promise<Reply> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const contentType = String(res.headers['content-type'] ?? '');
        const json = /^application\/json/.test(contentType) ? JSON.parse(raw.toString('utf8')) : undefined;
        resolve({ status: res.statusCode ?? 0, contentType, headers: res.headers as Record<string, string>, raw, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

const show = (r: Reply): string => `HTTP ${r.status} (${r.contentType || 'no content-type'}) ${r.raw.toString('utf8').slice(0, 600)}`;

/** An assertion whose message carries the answer, so fast-check's report shows what came back. */
function must(condition: unknown, why: string, r: Reply): asserts condition {
  if (!condition) throw new Error(`${why}\n  got: ${show(r)}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function assertNoStack(r: Reply): void {
  const text = r.raw.toString('utf8');
  must(!STACK_FRAME.test(text), 'the body carries a stack frame', r);
  must(!ENGINE_ERROR.test(text), 'the body names a JS engine error', r);
}

/** The V2 protocol's error: an allowed 4xx/503, JSON, exactly `{error: <non-empty string>}`, no stack. */
function assertV2Error(r: Reply): string {
  must(CLIENT_ERROR_STATUSES.has(r.status), `status ${r.status} is not one of 200/${[...CLIENT_ERROR_STATUSES].join('/')}`, r);
  must(/^application\/json/.test(r.contentType), 'a V2 error must be JSON', r);
  must(isObject(r.json) && Object.keys(r.json).length === 1 && 'error' in r.json, 'a V2 error body must be exactly {error}', r);
  const { error } = r.json as { error: unknown };
  must(typeof error === 'string' && error.trim().length > 0, 'a V2 error must be a non-empty string', r);
  assertNoStack(r);
  return error;
}

interface Envelope { status: string; error: { code: string; message: string; details: { field: string; message: string }[] }; request_id: string; timestamp: string }

/** The /predict error envelope with the code of its status, every detail named, no stack. */
function assertEnvelope(r: Reply): Envelope {
  must(CLIENT_ERROR_STATUSES.has(r.status), `status ${r.status} is not one of 200/${[...CLIENT_ERROR_STATUSES].join('/')}`, r);
  must(/^application\/json/.test(r.contentType), 'an error must be JSON', r);
  const b = r.json as Envelope;
  must(isObject(b) && Object.keys(b).sort().join() === 'error,request_id,status,timestamp', 'the envelope is {status, error, request_id, timestamp}', r);
  must(b.status === 'error', 'envelope.status must be "error"', r);
  must(isObject(b.error) && Object.keys(b.error).sort().join() === 'code,details,message', 'envelope.error is {code, message, details}', r);
  must(CODES_BY_STATUS[r.status]?.includes(b.error.code), `code ${b.error.code} does not belong to status ${r.status}`, r);
  must(typeof b.error.message === 'string' && b.error.message.trim().length > 0, 'envelope.error.message must be non-empty', r);
  must(Array.isArray(b.error.details), 'envelope.error.details must be an array', r);
  for (const d of b.error.details) {
    must(isObject(d) && typeof d.field === 'string' && typeof d.message === 'string' && d.message.length > 0, 'every detail is {field, message}', r);
  }
  if (r.status === 422) must(b.error.details.length > 0, 'a 422 names at least one problem in details', r);
  must(typeof b.request_id === 'string' && b.request_id.length > 0 && b.request_id === r.headers['x-request-id'], 'request_id is the X-Request-Id', r);
  must(!Number.isNaN(Date.parse(b.timestamp)), 'timestamp is a date', r);
  assertNoStack(r);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/** Mostly `usual`, sometimes `unusual`: near-valid bodies keep most of a valid request. */
const mostly = <T, U>(usual: fc.Arbitrary<T>, unusual: fc.Arbitrary<U>, weight = 6): fc.Arbitrary<T | U> =>
  fc.oneof({ weight, arbitrary: usual }, { weight: 1, arbitrary: unusual });

/** Absent (the usual case) or a mutation. */
const sometimes = <T>(mutation: fc.Arbitrary<T>, weight = 6): fc.Arbitrary<T | undefined> => mostly(fc.constant(undefined), mutation, weight);

/** A measurement a client might send. */
const goodNumber = fc.double({ min: -50, max: 50, noNaN: true, noDefaultInfinity: true });

/** Values that are not a usable number: NaN-like strings, raw huge literals, wrong types. */
const weirdValue = fc.oneof(
  fc.constantFrom(...RAW_LITERALS).map(raw),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e39', '1.5', '', '0x10', ' 2 ', 'null', 'true'),
  fc.constantFrom<unknown>(null, true, false, [], {}, [1], [[1, 2]], { value: 1 }),
  fc.double(), // NaN and ±Infinity become null in JSON; ±1.7e308 stays a number
  fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
  fc.string({ maxLength: 8 }),
);

/** Finite values at the top of the FP32 range: accepted by the input checks (they do not round to infinity). */
const hugeFp32 = fc.constantFrom(3.4028234663852886e38, -3.4028234663852886e38, 3e38, -1e38, 1e38);

/** A tensor cell: mostly a measurement, sometimes any FP32 value (up to ±3.4e38), sometimes garbage. */
const cell = fc.oneof(
  { weight: 12, arbitrary: goodNumber },
  { weight: 2, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: hugeFp32 },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: weirdValue },
);

/** Any JSON-ish value for a field (bounded, so bodies stay small). */
const anyJson = fc.jsonValue({ maxDepth: 3 });
const safeKey = fc.string({ maxLength: 12 }).filter((k) => !FORBIDDEN_KEYS.has(k));

function chunk<T>(values: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

/** Lays out flat cells as `data`: flat, nested by rows of 4, wrongly nested, or nested too deep. */
function layout(values: unknown[], how: 'flat' | 'nested' | 'byTwo' | 'wrapped' | 'deep'): unknown[] {
  switch (how) {
    case 'flat': return values;
    case 'nested': return chunk(values, 4);
    case 'byTwo': return chunk(values, 2);
    case 'wrapped': return [values];
    case 'deep': return chunk(values, 4).map((row) => row.map((v) => [v]));
  }
}

const DATATYPES = ['FP32', 'FP64', 'FP16', 'INT8', 'INT32', 'INT64', 'UINT8', 'UINT64', 'BOOL', 'BYTES'];

/** A KServe V2 request for iris derived from a valid one by a few mutations (most bodies keep most of it valid). */
const v2NearValid = fc
  .record({
    rows: fc.integer({ min: 0, max: 5 }),
    cells: fc.array(cell, { maxLength: 24 }),
    count: mostly(fc.constant('exact' as const), fc.constantFrom('asIs' as const, 'oneLess' as const, 'oneMore' as const)),
    how: mostly(fc.constantFrom('flat' as const, 'nested' as const), fc.constantFrom('byTwo' as const, 'wrapped' as const, 'deep' as const)),
    shape: sometimes(fc.oneof(
      fc.array(fc.oneof(fc.integer({ min: -2, max: 9 }), fc.constantFrom<unknown>(1.5, '4', null, 2 ** 31, 1e21, raw('-0'), raw('1e999'))), { maxLength: 4 }),
      anyJson,
    )),
    datatype: mostly(fc.constant('FP32'), fc.oneof(fc.constantFrom(...DATATYPES, 'fp32', 'FLOAT', ''), anyJson)),
    name: sometimes(fc.oneof(fc.constantFrom('probabilities', 'INPUT', 'input '), fc.string({ maxLength: 10 }), anyJson)),
    drop: sometimes(fc.subarray(['name', 'shape', 'datatype', 'data'], { minLength: 1 })),
    inputExtras: sometimes(fc.dictionary(safeKey, anyJson, { maxKeys: 2 })),
    inputParameters: sometimes(fc.oneof(fc.record({ binary_data_size: fc.oneof(fc.nat(64), anyJson) }), anyJson)),
    duplicate: sometimes(fc.constantFrom('same', 'other', 'junk')),
    outputs: sometimes(fc.oneof(
      fc.constantFrom<unknown>(
        [{ name: 'probabilities' }], [{ name: 'nope' }], [], [{}], 'probabilities', null,
        [{ name: 'probabilities' }, { name: 'probabilities' }],
        [{ name: 'probabilities', parameters: { binary_data: true } }],
        [{ name: 'probabilities', parameters: { binary_data: 'yes' } }],
      ),
      anyJson,
    )),
    id: sometimes(fc.oneof(fc.string({ maxLength: 12 }), anyJson)),
    parameters: sometimes(fc.oneof(fc.constantFrom<unknown>({}, null, [], { binary_data_output: true }, { binary_data_output: 'true' }), anyJson)),
    topExtras: sometimes(fc.dictionary(safeKey, anyJson, { maxKeys: 2 })),
    inputs: sometimes(fc.oneof(fc.constantFrom<unknown>([], {}, null, 'input', [null], [[]]), anyJson), 12),
  })
  .map((m) => {
    let values = m.cells.slice(0, m.rows * 4);
    if (m.count !== 'asIs') while (values.length < m.rows * 4) values.push(1.5);
    if (m.count === 'oneLess') values = values.slice(0, -1);
    if (m.count === 'oneMore') values = [...values, 2.5];
    if (m.count === 'asIs') values = m.cells;
    const input: Record<string, unknown> = { name: 'input', datatype: m.datatype, shape: [m.rows, 4], data: layout(values, m.how) };
    if (m.shape !== undefined) input.shape = m.shape;
    if (m.name !== undefined) input.name = m.name;
    for (const key of m.drop ?? []) delete input[key];
    Object.assign(input, m.inputExtras);
    if (m.inputParameters !== undefined) input.parameters = m.inputParameters;
    const inputs: unknown[] = [input];
    if (m.duplicate === 'same') inputs.push({ ...input });
    if (m.duplicate === 'other') inputs.push({ ...input, name: 'other' });
    if (m.duplicate === 'junk') inputs.push(42);
    const body: Record<string, unknown> = { inputs };
    if (m.inputs !== undefined) body.inputs = m.inputs;
    if (m.outputs !== undefined) body.outputs = m.outputs;
    if (m.id !== undefined) body.id = m.id;
    if (m.parameters !== undefined) body.parameters = m.parameters;
    Object.assign(body, m.topExtras);
    return body;
  });

/** Bodies with no relation to a valid request: any JSON, any value, any text. */
const arbitraryBodyText = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.anything({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''),
  fc.dictionary(fc.constantFrom('inputs', 'outputs', 'id', 'parameters', 'features', 'model_id', 'model_version', 'options', 'data', 'shape'), fc.jsonValue({ maxDepth: 3 })).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
);

/** /predict features: good by name or in order, or mutated (missing, unknown, wrong type, huge, nested). */
const predictNearValid = fc
  .record({
    values: fc.tuple(cell, cell, cell, cell),
    form: mostly(fc.constantFrom('object' as const, 'array' as const), fc.constantFrom('nested' as const, 'wrapped' as const, 'short' as const, 'long' as const, 'missing' as const, 'other' as const)),
    other: anyJson,
    drop: sometimes(fc.subarray([...FEATURES], { minLength: 1 })),
    unknown: sometimes(fc.dictionary(safeKey, fc.oneof(goodNumber, anyJson), { minKeys: 1, maxKeys: 2 })),
    model_id: mostly(fc.constantFrom(undefined, 'iris'), fc.oneof(fc.constantFrom<unknown>('car-mpg', 'penguins', 'bench-mlp', 'nope', '../etc', '', 'IRIS', 'a'.repeat(65)), anyJson), 5),
    model_version: sometimes(fc.constantFrom<unknown>(1, 2, '1', '2', 0, -1, 9, '9', 1.5, 'abc', null, [], 1e10, raw('1e999'), true)),
    options: sometimes(fc.constantFrom<unknown>({ cache: false }, { cache: true }, { cache: 'yes' }, null, [], { x: 1 }, 'no', [{ cache: 1 }])),
    topExtras: sometimes(fc.dictionary(safeKey, anyJson, { maxKeys: 2 })),
  })
  .map((m) => {
    const byName: Record<string, unknown> = Object.fromEntries(FEATURES.map((f, i) => [f, m.values[i]]));
    for (const f of m.drop ?? []) delete byName[f];
    Object.assign(byName, m.unknown);
    const features = {
      object: byName,
      array: m.values,
      nested: [m.values],
      wrapped: { features: byName },
      short: m.values.slice(0, 3),
      long: [...m.values, 1],
      missing: undefined,
      other: m.other,
    }[m.form];
    const body: Record<string, unknown> = {};
    if (features !== undefined) body.features = features;
    if (m.model_id !== undefined) body.model_id = m.model_id;
    if (m.model_version !== undefined) body.model_version = m.model_version;
    if (m.options !== undefined) body.options = m.options;
    Object.assign(body, m.topExtras);
    return body;
  });

describe('fuzz: bad input gets a clear error, never a crash (real AppModule, real ONNX models)', () => {
  let app: INestApplication;
  beforeAll(async () => { app = await createApp({ env: ENV }); });
  afterAll(async () => { await app.close(); });
  const server = () => app.getHttpServer();

  const postJson = (path: string, text: string): Promise<Reply> =>
    reply(request(server()).post(path).set('Content-Type', 'application/json'), text);
  const inferText = (text: string) => postJson('/v2/models/iris/infer', text);
  const predictText = (text: string) => postJson('/predict', text);

  // -------------------------------------------------------------------------------------------
  // KServe V2 JSON
  // -------------------------------------------------------------------------------------------

  /** The outputs of a 200 V2 answer, JSON or binary (binary_data output parameters), as flat numbers. */
  function v2Outputs(r: Reply): { name: string; shape: number[]; data: (number | null)[] }[] {
    if (r.contentType.startsWith('application/octet-stream')) {
      const n = Number(r.headers['inference-header-content-length']);
      must(Number.isInteger(n) && n >= 0 && n <= r.raw.length, 'a binary answer carries Inference-Header-Content-Length', r);
      const header = JSON.parse(r.raw.subarray(0, n).toString('utf8')) as { outputs: { name: string; shape: number[]; data?: number[]; parameters?: { binary_data_size?: number } }[] };
      let offset = n;
      return header.outputs.map((o) => {
        if (o.data) return { name: o.name, shape: o.shape, data: o.data };
        const size = o.parameters?.binary_data_size ?? 0;
        const bytes = new Uint8Array(r.raw.subarray(offset, offset + size));
        offset += size;
        must(offset <= r.raw.length, 'binary outputs run past the body', r);
        return { name: o.name, shape: o.shape, data: Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, size / 4)) };
      });
    }
    must(/^application\/json/.test(r.contentType), 'a V2 answer is JSON or octet-stream', r);
    const body = r.json as { outputs?: unknown };
    must(isObject(body) && Array.isArray(body.outputs), 'a V2 answer has outputs', r);
    return body.outputs as { name: string; shape: number[]; data: (number | null)[] }[];
  }

  describe('POST /v2/models/iris/infer (KServe V2 JSON)', () => {
    it('any body, arbitrary or near-valid: 200 or an allowed 4xx/503 with exactly {error}, never a stack', async () => {
      const body = fc.oneof({ weight: 2, arbitrary: arbitraryBodyText }, { weight: 3, arbitrary: v2NearValid.map(jsonText) });
      // Express routes case-insensitively and with a trailing slash: those spellings must answer the same way.
      const route = mostly(fc.constant('/v2/models/iris/infer'), fc.constantFrom(
        '/v2/models/iris/infer/', '/V2/models/iris/infer', '/v2/Models/iris/Infer', '/v2/models/iris/versions/1/infer',
        '/v2/models/iris/versions/0/infer', '/v2/models/iris/versions/x/infer', '/v2/models/nope/infer', '/v2/models/ir%20is/infer',
      ), 5);
      await fc.assert(
        fc.asyncProperty(body, route, async (text, path) => {
          const r = await postJson(path, text);
          if (r.status === 200) {
            for (const o of v2Outputs(r)) must(o.name === 'probabilities' && Array.isArray(o.shape) && Array.isArray(o.data), 'a 200 answers iris outputs', r);
            return;
          }
          assertV2Error(r);
        }),
        { seed: SEED, numRuns: 300 },
      );
    });

    it('every 200 is a well-formed answer: outputs[0].shape [rows, 3], rows*3 data, each row a probability distribution', async () => {
      let answered = 0;
      await fc.assert(
        fc.asyncProperty(v2NearValid, async (body) => {
          const r = await inferText(jsonText(body));
          if (r.status !== 200) return;
          answered += 1;
          const input = (body.inputs as { name?: unknown; shape: number[] }[]).find((i) => i.name === 'input')!;
          const rows = input.shape[0];
          const outputs = v2Outputs(r);
          // No requested outputs (absent or an empty list) means every output, as the protocol says.
          const asked = Array.isArray(body.outputs) && body.outputs.length > 0
            ? [...new Set((body.outputs as { name: string }[]).map((o) => o.name))]
            : ['probabilities'];
          must(outputs.map((o) => o.name).join() === asked.join(), `outputs are the ones asked for (${asked.join()})`, r);
          for (const o of outputs) {
            must(o.shape.length === 2 && o.shape[0] === rows && o.shape[1] === 3, `outputs[].shape is [${rows}, 3]`, r);
            must(o.data.length === rows * 3, `outputs[].data has ${rows * 3} values`, r);
            for (let row = 0; row < rows; row += 1) {
              const p = o.data.slice(row * 3, row * 3 + 3);
              must(p.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1), `row ${row} holds probabilities in [0, 1]`, r);
              const sum = (p as number[]).reduce((a, b) => a + b, 0);
              must(Math.abs(sum - 1) < 1e-4, `row ${row} sums to 1 (got ${sum})`, r);
            }
          }
        }),
        { seed: SEED + 1, numRuns: 200 },
      );
      expect(answered).toBeGreaterThan(20); // the generator must keep reaching the model
    });

    it('names every problem of a request at once (top-level fields, outputs, first-stage input fields)', async () => {
      const problems = fc.record({
        id: fc.option(fc.constantFrom<unknown>(1, true, [], {}, null), { nil: undefined }),
        parameters: fc.option(fc.constantFrom<unknown>(1, 'x', [], true), { nil: undefined }),
        outputs: fc.option(fc.array(fc.oneof(fc.constant({ name: 'nope' }), fc.constant({}), fc.constant(3)), { minLength: 1, maxLength: 3 }), { nil: undefined }),
        inputName: fc.option(fc.constantFrom<unknown>(7, null, [], {}), { nil: undefined }),
        inputShape: fc.option(fc.constantFrom<unknown>('x', [-1, 4], [1.5, 4], ['1', 4], null), { nil: undefined }),
        inputDatatype: fc.option(fc.constantFrom<unknown>('FLOAT', 'fp32', 3, null), { nil: undefined }),
        inputData: fc.option(fc.constantFrom<unknown>('1,2,3,4', 7, null, { a: 1 }), { nil: undefined }),
      }).filter((p) => Object.values(p).some((v) => v !== undefined));
      await fc.assert(
        fc.asyncProperty(problems, async (p) => {
          const input: Record<string, unknown> = { name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] };
          const expected: string[] = [];
          if (p.inputName !== undefined) { input.name = p.inputName; expected.push('inputs[0].name'); }
          if (p.inputShape !== undefined) { input.shape = p.inputShape; expected.push('inputs[0].shape'); }
          if (p.inputDatatype !== undefined) { input.datatype = p.inputDatatype; expected.push('inputs[0].datatype'); }
          if (p.inputData !== undefined) { input.data = p.inputData; expected.push('inputs[0].data'); }
          const body: Record<string, unknown> = { inputs: [input] };
          if (p.id !== undefined) { body.id = p.id; expected.push('id'); }
          if (p.parameters !== undefined) { body.parameters = p.parameters; expected.push('parameters'); }
          if (p.outputs !== undefined) { body.outputs = p.outputs; p.outputs.forEach((_, i) => expected.push(`outputs[${i}].name`)); }
          const r = await inferText(JSON.stringify(body));
          must(r.status === 400, 'an invalid V2 request is a 400', r);
          const message = assertV2Error(r);
          for (const field of expected) must(message.includes(`${field} `), `the error names ${field}`, r);
        }),
        { seed: SEED + 2, numRuns: 100 },
      );
    });
  });

  // -------------------------------------------------------------------------------------------
  // /predict
  // -------------------------------------------------------------------------------------------

  describe('POST /predict', () => {
    it('any body, arbitrary or near-valid: 200 with a known class, or the error envelope with its 4xx/503, never a stack', async () => {
      const body = fc.oneof({ weight: 2, arbitrary: arbitraryBodyText }, { weight: 3, arbitrary: predictNearValid.map(jsonText) });
      const route = mostly(fc.constant('/predict'), fc.constantFrom('/predict/', '/PREDICT', '/Predict?model_id=x'), 8);
      await fc.assert(
        fc.asyncProperty(body, route, async (text, path) => {
          const r = await postJson(path, text);
          if (r.status !== 200) {
            assertEnvelope(r);
            return;
          }
          const b = r.json as { model_id: string; prediction: { class?: unknown } };
          must(isObject(b) && isObject(b.prediction), 'a 200 carries a prediction', r);
          const labels = LABELS[b.model_id];
          if (labels) must(labels.includes(b.prediction.class as string), `prediction.class is one of ${labels.join(', ')}`, r);
          if (b.model_id === 'iris') must(IRIS_LABELS.includes(b.prediction.class as string), 'an iris class', r);
        }),
        { seed: SEED + 3, numRuns: 300 },
      );
    });

    it('every iris 200 is a well-formed prediction: confidence = the top probability, probabilities sum to 1', async () => {
      let answered = 0;
      await fc.assert(
        fc.asyncProperty(predictNearValid, async (body) => {
          const r = await predictText(jsonText(body));
          if (r.status !== 200) return;
          const b = r.json as { model_id: string; prediction: { class: string; confidence: unknown; probabilities: Record<string, unknown> } };
          if (b.model_id !== 'iris') return;
          answered += 1;
          const { prediction } = b;
          must(isObject(prediction.probabilities) && Object.keys(prediction.probabilities).join() === IRIS_LABELS.join(), 'probabilities by iris label', r);
          const p = IRIS_LABELS.map((l) => prediction.probabilities[l]);
          must(p.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1), 'probabilities are numbers in [0, 1]', r);
          const sum = (p as number[]).reduce((a, c) => a + c, 0);
          must(Math.abs(sum - 1) < 1e-4, `probabilities sum to 1 (got ${sum})`, r);
          must(prediction.confidence === Math.max(...(p as number[])) && prediction.probabilities[prediction.class] === prediction.confidence, 'confidence is the class\'s, the top, probability', r);
        }),
        { seed: SEED + 4, numRuns: 200 },
      );
      expect(answered).toBeGreaterThan(20);
    });

    it('names every feature problem: missing, unknown, wrong type, non-finite, out of FP32 range — exactly those fields', async () => {
      const featureValue = fc.oneof(
        { weight: 3, arbitrary: fc.oneof(goodNumber, fc.boolean()) },
        { weight: 2, arbitrary: fc.oneof(weirdValue, fc.constant('absent')) },
      );
      const features = fc.record({
        values: fc.tuple(featureValue, featureValue, featureValue, featureValue),
        unknown: fc.dictionary(safeKey.filter((k) => !(FEATURES as readonly string[]).includes(k)), goodNumber, { maxKeys: 2 }),
      });
      await fc.assert(
        fc.asyncProperty(features, async ({ values, unknown }) => {
          const byName: Record<string, unknown> = { ...unknown };
          FEATURES.forEach((f, i) => { if (values[i] !== 'absent') byName[f] = values[i]; });
          const r = await predictText(jsonText({ model_id: 'iris', features: byName }));
          const expected = [
            ...Object.keys(unknown),
            ...FEATURES.filter((f) => !Object.hasOwn(byName, f) || !usableFeature(byName[f])),
          ].map((f) => `features.${f}`).sort();
          if (expected.length === 0) {
            must(r.status === 200, 'valid features are a 200', r);
            return;
          }
          must(r.status === 422, 'invalid features are a 422', r);
          const env = assertEnvelope(r);
          must(env.error.code === 'VALIDATION_FAILED', 'VALIDATION_FAILED', r);
          const named = [...new Set(env.error.details.map((d) => d.field))].sort();
          must(named.join('|') === expected.join('|'), `details name exactly ${expected.join(', ')}`, r);
          for (const field of expected) must(env.error.message.includes(field), `the message names ${field}`, r);
        }),
        { seed: SEED + 5, numRuns: 150 },
      );
    });
  });

  // -------------------------------------------------------------------------------------------
  // /predict/batch
  // -------------------------------------------------------------------------------------------

  describe('POST /predict/batch?model_id=iris', () => {
    type Item = { good: boolean; item: unknown; features?: Record<string, number | boolean> };
    const goodFeature = fc.oneof({ weight: 9, arbitrary: fc.double({ min: -1e4, max: 1e4, noNaN: true, noDefaultInfinity: true }) }, { weight: 1, arbitrary: fc.boolean() });
    const goodItem: fc.Arbitrary<Item> = fc
      .record({ values: fc.tuple(goodFeature, goodFeature, goodFeature, goodFeature), form: fc.constantFrom('object', 'array', 'wrappedObject', 'wrappedArray') })
      .map(({ values, form }) => {
        const features = Object.fromEntries(FEATURES.map((f, i) => [f, values[i]])) as Record<string, number | boolean>;
        const item = { object: features, array: values, wrappedObject: { features }, wrappedArray: { features: values } }[form];
        return { good: true, item, features };
      });
    const badItem: fc.Arbitrary<Item> = fc
      .oneof(
        fc.record({ slot: fc.nat(3), value: weirdValue.filter((v) => !usableFeature(v)) })
          .map(({ slot, value }) => ({ ...Object.fromEntries(FEATURES.map((f) => [f, 1])), [FEATURES[slot]]: value })),
        fc.nat(3).map((slot) => Object.fromEntries(FEATURES.filter((_, i) => i !== slot).map((f) => [f, 1]))),
        safeKey.filter((k) => !(FEATURES as readonly string[]).includes(k)).map((k) => ({ ...Object.fromEntries(FEATURES.map((f) => [f, 1])), [k]: 1 })),
        fc.array(goodNumber, { maxLength: 6 }).filter((a) => a.length !== 4),
        fc.constantFrom<unknown>(42, 'x', null, true, {}, [], { features: null }, { features: 'x' }, [[1, 2, 3, 4]], { features: [[1, 2, 3, 4]] }),
      )
      .map((item) => ({ good: false, item }));

    it('mixed good and bad items: 200 with one slot per item; good slots equal /predict, bad slots name their error', async () => {
      const items = fc.array(fc.oneof({ weight: 3, arbitrary: goodItem }, { weight: 2, arbitrary: badItem }), { minLength: 1, maxLength: 8 });
      await fc.assert(
        fc.asyncProperty(items, async (batch) => {
          const r = await postJson('/predict/batch?model_id=iris', jsonText(batch.map((b) => b.item)));
          if (r.status !== 200) {
            assertEnvelope(r);
            throw new Error(`a batch of ≤ 8 items for iris is accepted as a whole\n  got: ${show(r)}`);
          }
          const b = r.json as { model_version: string; results: { index: number; status: string; prediction?: { class: string; probabilities: Record<string, number> }; error?: { code: string; message: string; details: unknown[] } }[]; batch_size: number; succeeded: number; failed: number };
          must(Array.isArray(b.results) && b.results.length === batch.length, `results has one slot per item (${batch.length})`, r);
          must(b.batch_size === batch.length && b.succeeded + b.failed === batch.length, 'batch_size = succeeded + failed = items', r);
          must(b.succeeded === batch.filter((x) => x.good).length, 'succeeded counts the good items', r);
          assertNoStack(r);
          for (const [i, item] of batch.entries()) {
            const slot = b.results[i];
            must(slot.index === i && (slot.status === 'success' || slot.status === 'error'), `results[${i}] is slot ${i}, success or error`, r);
            if (!item.good) {
              must(slot.status === 'error' && slot.error?.code === 'VALIDATION_FAILED' && slot.error.message.length > 0 && slot.error.details.length > 0, `bad item ${i} gets a named VALIDATION_FAILED`, r);
              continue;
            }
            must(slot.status === 'success' && slot.prediction, `good item ${i} succeeds`, r);
            const single = await predictText(JSON.stringify({ model_id: 'iris', features: item.features }));
            must(single.status === 200, `/predict answers good item ${i}`, single);
            const one = single.json as { model_version: string; prediction: { class: string; probabilities: Record<string, number> } };
            must(one.model_version === b.model_version, 'the same version answers', single);
            for (const label of IRIS_LABELS) {
              const [x, y] = [slot.prediction.probabilities[label], one.prediction.probabilities[label]];
              must(x === y || (typeof x === 'number' && typeof y === 'number' && Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(y))),
                `item ${i}: batch p(${label}) = ${x}, /predict says ${y}`, r);
            }
            const sorted = Object.values(one.prediction.probabilities).sort((p, q) => q - p);
            if (sorted[0] - sorted[1] > 1e-6) must(slot.prediction.class === one.prediction.class, `item ${i}: batch class ${slot.prediction.class}, /predict says ${one.prediction.class}`, r);
          }
        }),
        { seed: SEED + 6, numRuns: 60 },
      );
    });
  });

  // -------------------------------------------------------------------------------------------
  // V2 binary tensor data extension
  // -------------------------------------------------------------------------------------------

  describe('V2 binary tensor data extension (Inference-Header-Content-Length)', () => {
    const binaryCase = fc.record({
      route: mostly(fc.constantFrom('/v2/models/iris/infer', '/v2/models/iris/versions/1/infer'), fc.constantFrom('/v2/models/iris/versions/9/infer', '/v2/models/nope/infer', '/v2/models/bench-mlp/infer', '/v2/models/iris/versions/0/infer')),
      rows: fc.integer({ min: 0, max: 4 }),
      datatype: mostly(fc.constant('FP32'), fc.constantFrom('FP64', 'FP16', 'INT32', 'BOOL', 'BYTES', 'UINT8', 'fp32')),
      shape: sometimes(fc.array(fc.integer({ min: -1, max: 6 }), { maxLength: 3 }), 3),
      size: mostly(fc.constant('exact' as const), fc.oneof(fc.nat(120), fc.constantFrom<unknown>(-1, 1.5, '16', null, 1e12, 2 ** 53, true)), 3),
      payload: mostly(fc.constant('floats' as const), fc.uint8Array({ maxLength: 96 }), 3),
      floats: fc.array(fc.oneof({ weight: 8, arbitrary: fc.float({ min: -50, max: 50, noNaN: true }) }, { weight: 1, arbitrary: fc.float() }), { minLength: 16, maxLength: 16 }),
      header: mostly(fc.constant('object' as const), fc.constantFrom('truncated' as const, 'garbage' as const, 'array' as const, 'null' as const, 'withData' as const, 'noInputs' as const), 4),
      headerLength: mostly(fc.constant('exact' as const), fc.oneof(fc.nat(400), fc.constantFrom('-1', 'abc', '1.5', ' 12 ', '99999999999', '', '0x10', '1e2', '12, 13')), 3),
      contentType: fc.constantFrom(undefined, 'application/octet-stream', 'application/json', 'text/plain'),
      binaryOutput: fc.constantFrom(undefined, 'all', 'own', 'ownFalse'),
    });

    it('any header/bytes combination: never a 5xx; errors are exactly {error}; a 200 has [rows, 3] outputs', async () => {
      await fc.assert(
        fc.asyncProperty(binaryCase, async (c) => {
          const values = Float32Array.from(c.floats.slice(0, c.rows * 4));
          const tail = c.payload === 'floats' ? Buffer.from(values.buffer) : Buffer.from(c.payload);
          const input: Record<string, unknown> = {
            name: 'input', datatype: c.datatype, shape: c.shape ?? [c.rows, 4],
            parameters: { binary_data_size: c.size === 'exact' ? tail.length : c.size },
          };
          if (c.header === 'withData') input.data = Array.from(values);
          const json: Record<string, unknown> = c.header === 'noInputs' ? {} : { inputs: [input] };
          if (c.binaryOutput === 'all') json.parameters = { binary_data_output: true };
          if (c.binaryOutput === 'own' || c.binaryOutput === 'ownFalse') json.outputs = [{ name: 'probabilities', parameters: { binary_data: c.binaryOutput === 'own' } }];
          let headerText = JSON.stringify(json);
          if (c.header === 'truncated') headerText = headerText.slice(0, Math.floor(headerText.length / 2));
          if (c.header === 'garbage') headerText = '\u0000{not json';
          if (c.header === 'array') headerText = '[1,2]';
          if (c.header === 'null') headerText = 'null';
          const head = Buffer.from(headerText, 'utf8');
          const body = Buffer.concat([head, tail]);
          const lengthHeader = c.headerLength === 'exact' ? String(head.length) : String(c.headerLength);
          const test = request(server()).post(c.route).set('Inference-Header-Content-Length', lengthHeader);
          if (c.contentType) test.set('Content-Type', c.contentType);
          const r = await reply(test, body);
          if (r.status !== 200) {
            assertV2Error(r);
            return;
          }
          const rows = (input.shape as number[])[0];
          for (const o of v2Outputs(r)) {
            must(o.shape.length === 2 && o.shape[1] === (c.route.includes('bench-mlp') ? 10 : 3) && o.shape[0] === rows, 'a 200 answers [rows, classes]', r);
            must(o.data.length === o.shape[0] * o.shape[1], 'data fills the shape', r);
          }
        }),
        { seed: SEED + 7, numRuns: 250 },
      );
    });
  });

  // -------------------------------------------------------------------------------------------
  // Bodies that cannot be read: malformed JSON, wrong content type, undecodable Content-Encoding
  // -------------------------------------------------------------------------------------------

  describe('unreadable bodies', () => {
    it.each([
      ['/predict', 'predict'],
      ['/predict/batch?model_id=iris', 'predict'],
      ['/v2/models/iris/infer', 'v2'],
    ] as const)('%s: malformed JSON → 400, a body that is not JSON → 415', async (path, kind) => {
      const malformed = await postJson(path, '{"features": {');
      expect(malformed.status).toBe(400);
      const wrongType = await reply(request(server()).post(path).set('Content-Type', 'text/plain'), '{"features":[5.1,3.5,1.4,0.2]}');
      expect(wrongType.status).toBe(415);
      const form = await reply(request(server()).post(path).set('Content-Type', 'application/x-www-form-urlencoded'), 'features=1');
      expect(form.status).toBe(415);
      if (kind === 'v2') {
        expect(assertV2Error(malformed)).toMatch(/Malformed JSON/);
        expect(assertV2Error(wrongType)).toMatch(/Content-Type 'text\/plain' is not supported/);
        assertV2Error(form);
      } else {
        expect(assertEnvelope(malformed).error.code).toBe('MALFORMED_JSON');
        expect(assertEnvelope(wrongType).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
        expect(assertEnvelope(form).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      }
    });

    it('a body that does not decode under its Content-Encoding → 400 (a correctly encoded one → 200), never a 5xx', async () => {
      const VALID: Record<string, string> = {
        '/predict': JSON.stringify({ model_id: 'iris', features: [5.1, 3.5, 1.4, 0.2] }),
        '/predict/batch?model_id=iris': JSON.stringify([[5.1, 3.5, 1.4, 0.2]]),
        '/v2/models/iris/infer': JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] }),
      };
      const encoders: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };
      const cases = fc.record({
        path: fc.constantFrom(...Object.keys(VALID)),
        encoding: fc.constantFrom('gzip', 'deflate', 'br'),
        payload: fc.oneof(
          fc.constant({ kind: 'valid' as const }),
          fc.record({ kind: fc.constant('truncated' as const), keep: fc.double({ min: 0, max: 0.9, noNaN: true }) }),
          fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
        ),
      });
      await fc.assert(
        fc.asyncProperty(cases, async ({ path, encoding, payload }) => {
          const encoded = encoders[encoding](Buffer.from(VALID[path]));
          const body = payload.kind === 'valid' ? encoded
            : payload.kind === 'truncated' ? encoded.subarray(0, Math.floor(encoded.length * payload.keep))
              : Buffer.from(payload.bytes);
          const r = await rawPost(server(), path, { 'content-type': 'application/json', 'content-encoding': encoding }, body);
          if (payload.kind === 'valid') {
            must(r.status === 200, 'a correctly encoded body is read', r);
            return;
          }
          if (r.status === 200) return; // random bytes may, rarely, decode to a valid body
          must(r.status === 400 || r.status === 415, 'an undecodable body is a 400 (or 415), not a server error', r);
          if (path.startsWith('/v2')) assertV2Error(r);
          else assertEnvelope(r);
        }),
        { seed: SEED + 8, numRuns: 60 },
      );
    });
  });
});
