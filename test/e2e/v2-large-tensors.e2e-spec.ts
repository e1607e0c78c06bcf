import { INestApplication } from '@nestjs/common';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { ClientRequest, request as httpRequest, type Server } from 'node:http';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import request from 'supertest';

import { GraphBuilder } from '../../scripts/lib/onnx-graph';
import { DET_MODEL } from '../support/det-model';
import { createApp, expectEnvelope, REPO_MODELS } from './support/create-app';
import { listeningPort, rawRequest } from './support/raw-http';
import { binaryBody, rawParser } from './support/v2-binary-body';
import { until } from '../support/until';
import { MetricsService } from '../../src/metrics/metrics.service';

const ENV = { REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };

/** Width of the `scale` model's rows. */
const SCALE_WIDTH = 4096;

/** A one-node ONNX model, y = x · 1.5 on [-1, 4096] FP32: dense, full-precision outputs of any size. */
function scaleModel(): Uint8Array {
  const graph = new GraphBuilder({ name: 'x', datatype: 'FP32', shape: [-1, SCALE_WIDTH] });
  graph.node('Mul', ['x', graph.constant('factor', [1], [1.5])], 'y');
  return graph.toModel('scale', { name: 'y', datatype: 'FP32', shape: [-1, SCALE_WIDTH] }, 1, 'y = 1.5 x (e2e)');
}

/**
 * A model repository with the bundled iris, PaddleOCR's text detector `det` (x: [N, 3, H, W]
 * FP32, H and W multiples of 32; model.json names it only, the signature comes from the file)
 * and `scale` ({@link scaleModel}).
 */
function detRepository(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nms-large-'));
  cpSync(join(REPO_MODELS, 'iris'), join(dir, 'iris'), { recursive: true });
  mkdirSync(join(dir, 'det', '1'), { recursive: true });
  cpSync(DET_MODEL, join(dir, 'det', '1', 'model.onnx'));
  writeFileSync(join(dir, 'det', 'model.json'), JSON.stringify({ name: 'det' }));
  mkdirSync(join(dir, 'scale', '1'), { recursive: true });
  writeFileSync(join(dir, 'scale', '1', 'model.onnx'), scaleModel());
  writeFileSync(join(dir, 'scale', 'model.json'), JSON.stringify({ name: 'scale' }));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A det input of [1, 3, h, w] as V2 JSON (nested as the shape says), every pixel 0.5. */
function detJson(h: number, w: number): object {
  const row = new Array<number>(w).fill(0.5);
  const plane = Array.from({ length: h }, () => row);
  return { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, h, w], data: [[plane, plane, plane]] }] };
}

/** `n` pixels in [0, 1) from a 32-bit LCG, the same every run. */
function noise(n: number, seed = 7): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  });
}

/** A det request [1, 3, h, w] in the binary tensor data extension, the output asked for as binary too. */
function detBinary(h: number, w: number, pixels = new Float32Array(3 * h * w).fill(0.5)): { body: Buffer; headerLength: number } {
  return binaryBody({
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, h, w], parameters: { binary_data_size: pixels.byteLength } }],
    outputs: [{ name: 'sigmoid_0.tmp_0', parameters: { binary_data: true } }],
  }, pixels);
}

/** Sends a binary-extension request. */
const sendBinary = (server: unknown, path: string, b: { body: Buffer; headerLength: number }) =>
  request(server as never).post(path).set('Inference-Header-Content-Length', String(b.headerLength)).set('Content-Type', 'application/octet-stream')
    .buffer(true).parse(rawParser).send(b.body);

/** The `{error}` of a binary-route answer read raw. */
const rawError = (res: request.Response): string => (JSON.parse((res.body as Buffer).toString('utf8')) as { error: string }).error;

/** Asserts the V2 protocol's error body (exactly `{error}`, no stack, no source path) and returns its message. */
function v2Error(res: request.Response): string {
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.(ts|js):\d+|onnxruntime_src|\.(h|cc):\d+/);
  return res.body.error as string;
}

describe('V2 with image-sized tensors (PaddleOCR det, real AppModule)', () => {
  let repository: { dir: string; remove: () => void };
  let app: INestApplication;
  beforeAll(async () => {
    repository = detRepository();
    app = await createApp({ env: { ...ENV, MODEL_REPOSITORY: repository.dir } });
  });
  afterAll(async () => {
    await app?.close();
    repository?.remove();
  });
  const server = () => app.getHttpServer();

  describe('image-sized requests under the default limits (BODY_LIMIT 1mb, V2_BODY_LIMIT 64mb)', () => {
    it('takes a 4.9 MB binary [1, 3, 640, 640] request and answers the binary output', async () => {
      // Arrange
      const b = detBinary(640, 640);
      expect(b.body.length).toBeGreaterThan(4.9e6);

      // Act
      const res = await sendBinary(server(), '/v2/models/det/infer', b).expect(200);

      // Assert
      const all = res.body as Buffer;
      const n = Number(res.headers['inference-header-content-length']);
      const header = JSON.parse(all.subarray(0, n).toString('utf8'));
      expect(header.outputs).toEqual([{ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [1, 1, 640, 640], parameters: { binary_data_size: 640 * 640 * 4 } }]);
      expect(all.length).toBe(n + 640 * 640 * 4);
    });

    it('takes a 7 MB JSON [1, 3, 384, 384] request, far above BODY_LIMIT, and answers what the binary route answers', async () => {
      // Arrange
      const json = JSON.stringify(detJson(384, 384));
      expect(json.length).toBeGreaterThan(1024 * 1024);

      // Act
      const res = await request(server()).post('/v2/models/det/infer').set('Content-Type', 'application/json').send(json).expect(200);
      const bin = await sendBinary(server(), '/v2/models/det/infer', detBinary(384, 384)).expect(200);

      // Assert
      const n = Number(bin.headers['inference-header-content-length']);
      const floats = new Float32Array(new Uint8Array((bin.body as Buffer).subarray(n)).buffer);
      expect(res.body.outputs[0].shape).toEqual([1, 1, 384, 384]);
      expect(res.body.outputs[0].data).toEqual(Array.from(floats));
    });
  });

  it('answers each large JSON body from its own numbers while bodies re-use one another\'s memory, in turn and at once', async () => {
    // Arrange: bodies of ~1.2 MB (past the 256 KiB from which a body's memory is pooled), each
    // different; every third one has values that are not float32 exactly (their body is read
    // again for the exact doubles, so it is not given back).
    const rows = 16;
    const n = rows * SCALE_WIDTH;
    const xs = Array.from({ length: 12 }, (_, k) => (k % 3 === 2 ? Float64Array.from({ length: n }, (_, i) => ((i + k) % 997) / 10) : noise(n, 100 + k)));
    const send = (x: ArrayLike<number>) => request(server()).post('/v2/models/scale/infer').set('Content-Type', 'application/json')
      .send(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, SCALE_WIDTH], data: Array.from(x) }] }));
    // onnxruntime's float32 product of the float32 input and 1.5.
    const expected = (x: ArrayLike<number>) => Array.from(x, (v) => Math.fround(Math.fround(v) * 1.5));

    // Act
    const inTurn: request.Response[] = [];
    for (const x of xs) inTurn.push(await send(x));
    const atOnce = await Promise.all(xs.map(send));

    // Assert
    for (const [k, res] of [...inTurn, ...atOnce].entries()) {
      expect(res.status).toBe(200);
      expect(res.body.outputs[0].data).toEqual(expected(xs[k % xs.length]));
    }
  });

  it('keeps two large JSON bodies arriving piece by piece in turn apart (each answered from its own numbers)', async () => {
    // Arrange: two ~2.4 MB bodies on two connections, written 256 KB at a time, A and B in turn,
    // each piece flushed and the server given event-loop turns to read it before the next.
    const rows = 32;
    const xs = [noise(rows * SCALE_WIDTH, 201), noise(rows * SCALE_WIDTH, 202)];
    const bodies = xs.map((x) => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, SCALE_WIDTH], data: Array.from(x) }] })));
    const port = await listeningPort(server());
    const turn = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));
    const answers = bodies.map(() => ({}) as { req?: ClientRequest; done?: Promise<Buffer> });
    for (const [k, body] of bodies.entries()) {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/v2/models/scale/infer', method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } });
      answers[k].req = req;
      answers[k].done = new Promise<Buffer>((resolve, reject) => {
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`status ${res.statusCode}: ${Buffer.concat(chunks).toString()}`))));
        });
        req.on('error', reject);
      });
    }

    // Act
    const piece = 256 * 1024;
    for (let at = 0; at < Math.max(...bodies.map((b) => b.length)); at += piece) {
      for (const [k, body] of bodies.entries()) {
        if (at >= body.length) continue;
        await new Promise<void>((resolve, reject) => answers[k].req!.write(body.subarray(at, at + piece), (e) => (e ? reject(e) : resolve())));
        await turn();
      }
    }
    for (const a of answers) a.req!.end();
    const replies = await Promise.all(answers.map((a) => a.done!));

    // Assert
    for (const [k, reply] of replies.entries()) {
      expect((JSON.parse(reply.toString('utf8')) as { outputs: { data: number[] }[] }).outputs[0].data).toEqual(Array.from(xs[k], (v) => Math.fround(v * 1.5)));
    }
  });

  it('answers 655,360 full-precision values as JSON (~13 MB, past the api serialization preset\'s 10 MiB), equal to the binary answer', async () => {
    // Arrange: binary input, so only the answer is large JSON
    const rows = 160;
    const x = noise(rows * SCALE_WIDTH);
    const input = { name: 'x', datatype: 'FP32', shape: [rows, SCALE_WIDTH], parameters: { binary_data_size: x.byteLength } };

    // Act
    const json = await sendBinary(server(), '/v2/models/scale/infer', binaryBody({ inputs: [input] }, x));
    const bin = await sendBinary(server(), '/v2/models/scale/infer', binaryBody({ inputs: [input], parameters: { binary_data_output: true } }, x));

    // Assert
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect((json.body as Buffer).length).toBeGreaterThan(10 * 1024 * 1024);
    const body = JSON.parse((json.body as Buffer).toString('utf8'));
    expect(body.outputs[0]).toMatchObject({ name: 'y', datatype: 'FP32', shape: [rows, SCALE_WIDTH] });
    const n = Number(bin.headers['inference-header-content-length']);
    expect(body.outputs[0].data).toEqual(Array.from(new Float32Array(new Uint8Array((bin.body as Buffer).subarray(n)).buffer)));
  });

  describe('response compression (Accept-Encoding, as tritonclient asks)', () => {
    const JSON_TYPE = { 'content-type': 'application/json' };
    // The same id every time, so answers compare whole.
    const detBody = () => Buffer.from(JSON.stringify({ id: 'same', ...detJson(64, 64) }));

    it('answers gzip and deflate when asked, decoding to exactly the plain answer', async () => {
      // Act
      const plain = await rawRequest(server(), 'POST', '/v2/models/det/infer', JSON_TYPE, detBody());
      const gzip = await rawRequest(server(), 'POST', '/v2/models/det/infer', { ...JSON_TYPE, 'accept-encoding': 'gzip' }, detBody());
      const deflate = await rawRequest(server(), 'POST', '/v2/models/det/infer', { ...JSON_TYPE, 'accept-encoding': 'deflate' }, detBody());

      // Assert
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect([gzip.status, gzip.headers['content-encoding']]).toEqual([200, 'gzip']);
      expect([deflate.status, deflate.headers['content-encoding']]).toEqual([200, 'deflate']);
      expect(gzip.raw.length).toBeLessThan(plain.raw.length);
      expect(JSON.parse(gunzipSync(gzip.raw).toString('utf8'))).toEqual(JSON.parse(plain.raw.toString('utf8')));
      expect(JSON.parse(inflateSync(deflate.raw).toString('utf8'))).toEqual(JSON.parse(plain.raw.toString('utf8')));
    });

    it('compresses a binary tensor data answer too, header and bytes intact', async () => {
      // Arrange
      const pixels = new Float32Array(3 * 64 * 64).fill(0.5);
      const b = binaryBody({
        id: 'same',
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 64, 64], parameters: { binary_data_size: pixels.byteLength } }],
        outputs: [{ name: 'sigmoid_0.tmp_0', parameters: { binary_data: true } }],
      }, pixels);
      const headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(b.headerLength) };

      // Act
      const plain = await rawRequest(server(), 'POST', '/v2/models/det/infer', headers, b.body);
      const gzip = await rawRequest(server(), 'POST', '/v2/models/det/infer', { ...headers, 'accept-encoding': 'gzip' }, b.body);

      // Assert
      expect(gzip.headers['content-encoding']).toBe('gzip');
      expect(gzip.headers['inference-header-content-length']).toBe(plain.headers['inference-header-content-length']);
      expect(gunzipSync(gzip.raw).equals(plain.raw)).toBe(true);
    });

    it('leaves answers under 1 KB, and answers to clients that do not ask, uncompressed', async () => {
      // Arrange
      const iris = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] }));

      // Act
      const small = await rawRequest(server(), 'POST', '/v2/models/iris/infer', { ...JSON_TYPE, 'accept-encoding': 'gzip, deflate' }, iris);
      const predict = await rawRequest(server(), 'POST', '/predict', { ...JSON_TYPE, 'accept-encoding': 'gzip' }, Buffer.from(JSON.stringify({ model_id: 'iris', features: [5.1, 3.5, 1.4, 0.2] })));
      const notAsked = await rawRequest(server(), 'POST', '/v2/models/det/infer', JSON_TYPE, detBody());

      // Assert
      expect([small.status, small.headers['content-encoding']]).toEqual([200, undefined]);
      expect(JSON.parse(small.raw.toString('utf8')).outputs[0].shape).toEqual([1, 3]);
      expect([predict.status, predict.headers['content-encoding']]).toEqual([200, undefined]);
      expect([notAsked.status, notAsked.headers['content-encoding']]).toEqual([200, undefined]);
    });
  });

  describe('runtime failures say what onnxruntime said', () => {
    it('det at 50x50 (not a multiple of 32) → 400 {error} with onnxruntime\'s message, sanitised', async () => {
      // Act
      const res = await request(server()).post('/v2/models/det/infer').send(detJson(50, 50)).expect(400);

      // Assert
      const message = v2Error(res);
      expect(message).toMatch(/^Inference failed for model 'det' version 1: the model cannot run these inputs: Non-zero status code returned while running Add node\. /);
      expect(message).toContain('Attempting to broadcast an axis by a dimension other than 1');
      expect(message).not.toContain('::');
    });

    it('/predict with the same tensor → 422 envelope with the same reason', async () => {
      // Arrange
      const { inputs } = detJson(50, 50) as { inputs: { data: unknown }[] };

      // Act
      const res = await request(server()).post('/predict').send({ model_id: 'det', features: { x: inputs[0].data } }).expect(422);

      // Assert
      const body = expectEnvelope(res.body, 'VALIDATION_FAILED');
      expect(body.error.message).toContain('Attempting to broadcast an axis by a dimension other than 1');
    });

    it('a bad request sent with good ones fails alone: the good ones are answered', async () => {
      // Act
      const [good1, bad, good2] = await Promise.all([
        request(server()).post('/v2/models/det/infer').send(detJson(64, 64)),
        request(server()).post('/v2/models/det/infer').send(detJson(50, 50)),
        request(server()).post('/v2/models/det/infer').send(detJson(64, 64)),
      ]);

      // Assert
      expect([good1.status, bad.status, good2.status]).toEqual([200, 400, 200]);
      expect(good1.body.outputs[0]).toMatchObject({ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [1, 1, 64, 64] });
      expect(good2.body.outputs[0].data).toEqual(good1.body.outputs[0].data);
    });
  });
});

describe('V2_BODY_LIMIT holds /v2 bodies, BODY_LIMIT the rest (real AppModule)', () => {
  let app: INestApplication;
  beforeAll(async () => { app = await createApp({ env: { ...ENV, BODY_LIMIT: '1kb', V2_BODY_LIMIT: '64kb' } }); });
  afterAll(async () => { await app?.close(); });
  const server = () => app.getHttpServer();
  /** An iris V2 JSON body padded with whitespace to `bytes`. */
  const irisJson = (bytes: number): string => {
    const text = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });
    return text + ' '.repeat(Math.max(0, bytes - text.length));
  };

  it('a 2 KB body: 413 envelope on /predict, answered on /v2', async () => {
    // Act
    const predict = await request(server()).post('/predict').set('Content-Type', 'application/json').send(JSON.stringify({ model_id: 'iris', features: [5.1, 3.5, 1.4, 0.2], pad: 'x'.repeat(2048) }));
    const v2 = await request(server()).post('/v2/models/iris/infer').set('Content-Type', 'application/json').send(irisJson(2048));

    // Assert
    expect(predict.status).toBe(413);
    expectEnvelope(predict.body, 'PAYLOAD_TOO_LARGE');
    expect(v2.status).toBe(200);
    expect(v2.body.outputs[0].shape).toEqual([1, 3]);
  });

  it('past V2_BODY_LIMIT: 413 {error} for JSON, gzip-encoded JSON and binary tensor data', async () => {
    // Arrange
    const big = irisJson(70 * 1024);
    const rows = new Float32Array(70 * 1024 / 4);

    // Act
    const json = await request(server()).post('/v2/models/iris/infer').set('Content-Type', 'application/json').send(big);
    const gzipped = await rawRequest(server(), 'POST', '/v2/models/iris/infer', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(Buffer.from(big)));
    const binary = await sendBinary(server(), '/v2/models/iris/infer', binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length / 4, 4], parameters: { binary_data_size: rows.byteLength } }] }, rows));

    // Assert
    // (Fastify refuses by Content-Length in its own words; a body that inflates past the limit is named by ours.)
    expect([json.status, gzipped.status, binary.status]).toEqual([413, 413, 413]);
    expect(v2Error(json)).toMatch(/too large|exceeds the limit/);
    expect(JSON.parse(gzipped.raw.toString('utf8'))).toEqual({ error: expect.stringMatching(/^Request body exceeds the limit of 65536 bytes \((BODY_LIMIT; )?V2_BODY_LIMIT/) });
    expect(rawError(binary)).toMatch(/too large|exceeds the limit/);
  });
});

/** A request whose body is only partly sent, holding its bytes in flight until the test finishes or drops it. */
interface HeldRequest {
  /** Sends the rest of the body; resolves with the answer's status line. */
  finish(): Promise<string>;
  /** Closes the connection with the body unfinished. */
  drop(): void;
}

/** Opens a POST of `body` to `path` and sends its headers and its first kilobyte only. */
async function holdRequest(server: Server, path: string, body: Buffer): Promise<HeldRequest> {
  const port = await listeningPort(server);
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
  socket.write(body.subarray(0, 1024));
  return {
    finish: () => new Promise<string>((resolve) => {
      socket.once('end', () => resolve(Buffer.concat(chunks).toString('latin1').split('\r\n')[0]));
      socket.write(body.subarray(1024));
    }),
    drop: () => socket.destroy(),
  };
}

describe('MAX_INFLIGHT_MB: admission by bytes of bodies in flight (real AppModule)', () => {
  let app: INestApplication;
  beforeAll(async () => { app = await createApp({ env: { ...ENV, BODY_LIMIT: '1mb', V2_BODY_LIMIT: '1mb', MAX_INFLIGHT_MB: '1' } }); });
  afterAll(async () => { await app?.close(); });
  const server = () => app.getHttpServer() as Server;
  /** A valid iris V2 JSON body padded with whitespace to `bytes`. */
  const irisBody = (bytes: number): Buffer => {
    const text = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });
    return Buffer.from(text + ' '.repeat(bytes - text.length));
  };
  const probe = () => rawRequest(server(), 'POST', '/v2/models/iris/infer', { 'content-type': 'application/json' }, irisBody(400_000));
  const refused = async () => (await probe()).status === 503;

  it('refuses a body that would pass the cap with 503 {error} and Retry-After while another is being received; admits it once that one is answered', async () => {
    // Arrange: 700 KB of a 1 MiB cap held by a request still sending its body.
    const held = await holdRequest(server(), '/v2/models/iris/infer', irisBody(700_000));
    let v2, predict, probeWithoutBody, answered, after;
    try {
      await until(refused, 'the held body counted in flight');

      // Act
      v2 = await probe();
      predict = await rawRequest(server(), 'POST', '/predict', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ model_id: 'iris', features: [5.1, 3.5, 1.4, 0.2] }) + ' '.repeat(400_000)));
      probeWithoutBody = await rawRequest(server(), 'GET', '/v2/health/ready');
      answered = await held.finish();
      after = await probe();
    } finally {
      held.drop();
    }

    // Assert
    expect(v2.status).toBe(503);
    expect(v2.headers['retry-after']).toBe('1');
    expect(JSON.parse(v2.raw.toString('utf8'))).toEqual({ error: expect.stringMatching(/MAX_INFLIGHT_MB/) });
    expect(predict.status).toBe(503);
    expectEnvelope(JSON.parse(predict.raw.toString('utf8')), 'OVERLOADED');
    expect(probeWithoutBody.status).toBe(200);
    expect(answered).toBe('HTTP/1.1 200 OK');
    expect(after.status).toBe(200);
    // Each refusal is counted (the probes of `until` too, so at least the two above); nothing is held once all are answered.
    const scrape = () => app.get(MetricsService).registry.metrics();
    expect(Number(/^ml_admission_refused_requests_total (\d+)$/m.exec(await scrape())?.[1])).toBeGreaterThanOrEqual(2);
    await until(async () => /^ml_inflight_body_bytes 0$/m.test(await scrape()), 'ml_inflight_body_bytes back to 0');
  });

  it('releases the bytes of a body whose client went away before sending it all', async () => {
    // Arrange
    const held = await holdRequest(server(), '/v2/models/iris/infer', irisBody(700_000));
    try {
      await until(refused, 'the held body counted in flight');
    } finally {
      // Act
      held.drop();
    }

    // Assert
    await until(async () => (await probe()).status === 200, 'the dropped body released');
  });
});
