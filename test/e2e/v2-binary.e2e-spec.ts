import { INestApplication } from '@nestjs/common';
import request from 'supertest';

import { createApp } from './support/create-app';

const ENV = { REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };
const IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]];

/** A binary-extension body: the JSON header, then the raw bytes of each binary input in order. */
function binaryBody(header: object, ...tensors: ArrayBufferView[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const parts = tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength));
  return { body: Buffer.concat([json, ...parts]), headerLength: json.length };
}

/** Reads supertest's raw body for a binary answer. */
const rawParser = (res: request.Response, done: (err: Error | null, body: Buffer) => void) => {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
};

describe('V2 binary tensor data extension (real AppModule, real ONNX models)', () => {
  let app: INestApplication;
  beforeAll(async () => { app = await createApp({ env: ENV }); });
  afterAll(async () => { await app.close(); });
  const server = () => app.getHttpServer();

  /** Sends a binary-extension request; `contentType` undefined sends none (as tritonclient may). */
  const send = (model: string, b: { body: Buffer; headerLength: number }, contentType?: string) => {
    const req = request(server()).post(`/v2/models/${model}/infer`).set('Inference-Header-Content-Length', String(b.headerLength));
    if (contentType) req.set('Content-Type', contentType);
    return req.buffer(true).parse(rawParser).send(b.body);
  };

  async function jsonAnswer(rows: number[][]): Promise<number[]> {
    const res = await request(server()).post('/v2/models/iris/infer')
      .send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows }] }).expect(200);
    return res.body.outputs[0].data as number[];
  }

  it('takes binary FP32 input and answers binary output: the same floats as the JSON route', async () => {
    // Arrange
    const rows = Float32Array.from(IRIS_ROWS.flat());
    const b = binaryBody({
      id: 'bin-1',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 4], parameters: { binary_data_size: rows.byteLength } }],
      outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
    }, rows);

    // Act
    const res = await send('iris', b, 'application/octet-stream').expect(200);

    // Assert
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const all = res.body as Buffer;
    const n = Number(res.headers['inference-header-content-length']);
    const header = JSON.parse(all.subarray(0, n).toString('utf8'));
    expect(header).toEqual({
      model_name: 'iris', model_version: '2', id: 'bin-1', parameters: {},
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [3, 3], parameters: { binary_data_size: 36 } }],
    });
    expect(all.length).toBe(n + 36);
    const tail = all.subarray(n);
    const probs = Array.from(new Float32Array(new Uint8Array(tail).buffer));
    expect(probs).toEqual(await jsonAnswer(IRIS_ROWS));
    expect(probs.slice(0, 3).indexOf(Math.max(...probs.slice(0, 3)))).toBe(0); // setosa
    expect(probs.slice(3, 6).indexOf(Math.max(...probs.slice(3, 6)))).toBe(2); // virginica
  });

  it('answers JSON for binary input unless an output is asked for as binary; binary_data_output asks for all', async () => {
    // Arrange
    const rows = Float32Array.from(IRIS_ROWS[0]);
    const input = { name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } };

    // Act
    const json = await send('iris', binaryBody({ inputs: [input] }, rows)).expect(200);
    const all = await send('iris', binaryBody({ inputs: [input], parameters: { binary_data_output: true } }, rows)).expect(200);
    const overridden = await send('iris', binaryBody({ inputs: [input], parameters: { binary_data_output: true }, outputs: [{ name: 'probabilities', parameters: { binary_data: false } }] }, rows)).expect(200);

    // Assert
    expect(json.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse((json.body as Buffer).toString()).outputs[0].data).toEqual(await jsonAnswer([IRIS_ROWS[0]]));
    expect(all.headers['inference-header-content-length']).toBeDefined();
    expect(overridden.headers['inference-header-content-length']).toBeUndefined();
  });

  it('mixes a binary input with nothing else needed: bench-mlp 2 rows of 256 floats, output matches JSON', async () => {
    // Arrange
    const data = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 9));
    const b = binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 256], parameters: { binary_data_size: data.byteLength } }] }, data);

    // Act
    const bin = JSON.parse(((await send('bench-mlp', b).expect(200)).body as Buffer).toString());
    const json = (await request(server()).post('/v2/models/bench-mlp/infer')
      .send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 256], data: Array.from(data) }] }).expect(200)).body;

    // Assert
    expect(bin.outputs[0].shape).toEqual([2, 10]);
    expect(bin.outputs[0].data).toEqual(json.outputs[0].data);
  });

  it.each([
    ['too few bytes for the shape', { shape: [1, 4], size: 12, bytes: 12 }, 'binary data has 12 bytes, 4 FP32 elements need 16'],
    ['a size running past the body', { shape: [1, 4], size: 32, bytes: 16 }, '32 bytes at offset 0 run past the 16 bytes of binary data'],
    ['bytes that belong to no input', { shape: [1, 4], size: 16, bytes: 20 }, '4 bytes of binary data after the JSON header belong to no input'],
  ])('names %s (400 {error})', async (_, c, message) => {
    // Arrange
    const b = binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: c.shape, parameters: { binary_data_size: c.size } }] }, new Uint8Array(c.bytes).fill(0x3f));

    // Act
    const res = await send('iris', b).expect(400);

    // Assert
    const body = JSON.parse((res.body as Buffer).toString());
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toContain(message);
  });

  it('refuses NaN in binary floats, a datatype other than the model\'s, and data next to binary_data_size', async () => {
    // Arrange
    const nan = Float32Array.from([1, Number.NaN, 1, 1]);
    const fp64 = Float64Array.from([1, 2, 3, 4]);

    // Act
    const a = await send('iris', binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }] }, nan)).expect(400);
    const b = await send('iris', binaryBody({ inputs: [{ name: 'input', datatype: 'FP64', shape: [1, 4], parameters: { binary_data_size: 32 } }] }, fp64)).expect(400);
    const c = await send('iris', binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4], parameters: { binary_data_size: 16 } }] }, nan)).expect(400);

    // Assert
    expect(JSON.parse((a.body as Buffer).toString()).error).toContain('element 1 is not a finite number');
    expect(JSON.parse((b.body as Buffer).toString()).error).toContain("inputs[0] (input).datatype is 'FP64', but model 'iris' expects 'FP32'");
    expect(JSON.parse((c.body as Buffer).toString()).error).toContain('must be absent when parameters.binary_data_size is given');
  });

  it('answers a bad Inference-Header-Content-Length or a broken JSON header with 400 {error}', async () => {
    // Arrange
    const good = binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }] }, new Float32Array(4));

    // Act
    const tooLong = await send('iris', { body: good.body, headerLength: good.body.length + 1 }).expect(400);
    const cut = await send('iris', { body: good.body, headerLength: good.headerLength - 3 }).expect(400);
    const garbage = await request(server()).post('/v2/models/iris/infer').set('Inference-Header-Content-Length', 'ten')
      .buffer(true).parse(rawParser).send(good.body).expect(400);

    // Assert
    expect(JSON.parse((tooLong.body as Buffer).toString()).error).toMatch(/exceeds the body's \d+ bytes/);
    expect(JSON.parse((cut.body as Buffer).toString()).error).toMatch(/Malformed JSON in the inference header/);
    expect(JSON.parse((garbage.body as Buffer).toString()).error).toBe('Inference-Header-Content-Length must be a non-negative integer');
  });

  it('leaves other routes to the JSON parser: an octet-stream body to /predict is still 415', async () => {
    // Act
    const res = await request(server()).post('/predict').set('Content-Type', 'application/octet-stream')
      .set('Inference-Header-Content-Length', '2').send(Buffer.from('{}')).expect(415);

    // Assert
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });
});
