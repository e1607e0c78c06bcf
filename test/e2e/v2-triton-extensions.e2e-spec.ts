import { status } from '@grpc/grpc-js';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';

import { GrpcServerService } from '../../src/inference/grpc/grpc-server.service';
import { freePort } from './support/child-server';
import { createApp, SETOSA, VIRGINICA } from './support/create-app';
import { GrpcReply, GrpcTestClient } from './support/grpc-client';

const CLIENT = 'triton-client-key';
const ENV = { API_KEYS: `svc:${CLIENT}`, REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };
const SETOSA_ROW = Object.values(SETOSA);
const VIRGINICA_ROW = Object.values(VIRGINICA);
const VERSICOLOR_ROW = [5.9, 3.0, 4.2, 1.5];
/** Finite FP32 inputs the bundled iris model answers with NaN probabilities (a failed inference). */
const OUT_OF_RANGE_ROW = [3e38, 3e38, 3e38, 3e38];

/** tritonclient.http's InferInput: JSON `data` (set_data_from_numpy(binary_data=False)) or raw bytes after the JSON header. */
interface InferInput { name: string; datatype: string; shape: number[]; data?: number[]; binary?: Buffer }
/** tritonclient.http's InferRequestedOutput(name, binary_data=True, class_count=0). */
interface RequestedOutput { name: string; binary_data?: boolean; class_count?: number }

const fp32Input = (rows: number[][], binary = false): InferInput =>
  binary
    ? { name: 'input', datatype: 'FP32', shape: [rows.length, 4], binary: Buffer.from(Float32Array.from(rows.flat()).buffer) }
    : { name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() };

/**
 * The request body tritonclient.http builds (_get_inference_request): inputs with `data` or
 * `parameters.binary_data_size`; each requested output's `parameters` holding `classification`
 * (when class_count != 0) and `binary_data`; with no outputs, `parameters.binary_data_output`.
 * The raw input bytes follow the JSON, whose length goes in Inference-Header-Content-Length.
 */
function tritonBody(inputs: InferInput[], outputs?: RequestedOutput[], id = ''): { body: Buffer; headerLength?: number } {
  const infer: Record<string, unknown> = {};
  if (id !== '') infer.id = id;
  infer.inputs = inputs.map((i) => ({
    name: i.name, shape: i.shape, datatype: i.datatype,
    ...(i.binary ? { parameters: { binary_data_size: i.binary.length } } : { data: i.data }),
  }));
  if (outputs?.length) {
    infer.outputs = outputs.map((o) => ({
      name: o.name,
      parameters: { ...(o.class_count ? { classification: o.class_count } : {}), binary_data: o.binary_data ?? true },
    }));
  } else {
    infer.parameters = { binary_data_output: true };
  }
  const json = Buffer.from(JSON.stringify(infer), 'utf8');
  const raw = inputs.flatMap((i) => (i.binary ? [i.binary] : []));
  return raw.length ? { body: Buffer.concat([json, ...raw]), headerLength: json.length } : { body: json };
}

/** Reads supertest's raw body (a binary answer). */
const rawParser = (res: request.Response, done: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  const stream = res as unknown as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
};

interface OutputHeader { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: { binary_data_size: number } }

/** An answer as tritonclient's InferResult reads it: the JSON header, and each binary output's bytes by name. */
function inferResult(res: request.Response): { header: { model_version: string; outputs: OutputHeader[] }; binary: Map<string, Buffer> } {
  const all = Buffer.isBuffer(res.body) ? res.body : Buffer.from(JSON.stringify(res.body));
  const length = res.headers['inference-header-content-length'] === undefined ? all.length : Number(res.headers['inference-header-content-length']);
  const header = JSON.parse(all.subarray(0, length).toString('utf8'));
  const binary = new Map<string, Buffer>();
  let offset = length;
  for (const o of header.outputs as OutputHeader[]) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(o.name, all.subarray(offset, offset + size));
    offset += size;
  }
  return { header, binary };
}

/** BYTES elements of the binary tensor data extension: each a 4-byte little-endian length, then its bytes. */
function bytesElements(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const length = bytes.readUInt32LE(offset);
    out.push(bytes.subarray(offset + 4, offset + 4 + length).toString('utf8'));
    offset += 4 + length;
  }
  return out;
}

/** Asserts the V2 protocol's error body and returns its message. */
function v2Error(res: request.Response, pattern: RegExp): string {
  const body = Buffer.isBuffer(res.body) ? JSON.parse(res.body.toString('utf8')) : res.body;
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatch(pattern);
  return body.error as string;
}

interface Duration { count: number; ns: number }
interface ModelStat {
  name: string; version: string; last_inference: number; inference_count: number; execution_count: number;
  inference_stats: Record<'success' | 'fail' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output' | 'cache_hit' | 'cache_miss', Duration>;
  batch_stats: { batch_size: number; compute_input: Duration; compute_infer: Duration; compute_output: Duration }[];
}

describe("Triton's extensions as tritonclient calls them (real AppModule, real ONNX models)", () => {
  let app: INestApplication;
  let grpc: GrpcTestClient;
  const GRPC_AUTH = { authorization: `Bearer ${CLIENT}` };

  beforeAll(async () => {
    app = await createApp({ env: { ...ENV, GRPC_PORT: String(await freePort()), HOST: '127.0.0.1' } });
    grpc = new GrpcTestClient(`127.0.0.1:${app.get(GrpcServerService).port!}`);
  });

  afterAll(async () => {
    grpc?.close();
    await app?.close();
  });

  /** A gRPC reply's message; fails the test when the call failed. */
  const ok = <T>(reply: GrpcReply<T>): T => {
    expect(reply.error?.details).toBeUndefined();
    return reply.response!;
  };

  const server = () => app.getHttpServer();
  const authed = (r: request.Test) => r.set('Authorization', `Bearer ${CLIENT}`);

  /** tritonclient.http get_model_config(model_name, model_version=''). */
  const getModelConfig = (model: string, version = '') =>
    authed(request(server()).get(version === '' ? `/v2/models/${model}/config` : `/v2/models/${model}/versions/${version}/config`));

  /** tritonclient.http get_inference_statistics(model_name='', model_version=''). */
  const getInferenceStatistics = (model = '', version = '') => {
    const path = model === '' ? '/v2/models/stats' : version === '' ? `/v2/models/${model}/stats` : `/v2/models/${model}/versions/${version}/stats`;
    return authed(request(server()).get(path));
  };

  /** One version's statistics, through get_inference_statistics(model, version). */
  const statsOf = async (model: string, version: string): Promise<ModelStat> => {
    const res = await getInferenceStatistics(model, version).expect(200);
    expect(res.body.model_stats).toHaveLength(1);
    return res.body.model_stats[0] as ModelStat;
  };

  /** tritonclient.http infer(): the body as it builds it, no Content-Type, the answer read raw. */
  const infer = (model: string, inputs: InferInput[], outputs?: RequestedOutput[], version = '') => {
    const { body, headerLength } = tritonBody(inputs, outputs);
    const req = authed(request(server()).post(version === '' ? `/v2/models/${model}/infer` : `/v2/models/${model}/versions/${version}/infer`));
    if (headerLength !== undefined) req.set('Inference-Header-Content-Length', String(headerLength));
    return req.buffer(true).parse(rawParser).send(body);
  };

  it('GET /v2 lists model_configuration, statistics and classification among the extensions', async () => {
    // Act
    const res = await request(server()).get('/v2').expect(200);

    // Assert
    expect(res.body.extensions).toEqual(expect.arrayContaining(['model_repository', 'binary_tensor_data', 'model_configuration', 'statistics', 'classification']));
  });

  it('documents every new route in the OpenAPI document, with an example answer and the API-key security of the V2 routes', async () => {
    // Act
    const doc = (await authed(request(server()).get('/docs-json')).expect(200)).body;

    // Assert
    expect(doc.paths['/v2/models/{name}'].get.security.length).toBeGreaterThan(0);
    const routes = ['/v2/models/stats', '/v2/models/{name}/stats', '/v2/models/{name}/versions/{v}/stats', '/v2/models/{name}/config', '/v2/models/{name}/versions/{v}/config'];
    for (const path of routes) {
      const get = doc.paths[path]?.get;
      expect(get?.tags).toEqual(['v2']);
      expect(get?.responses['200'].content['application/json'].schema.example).toBeDefined();
      expect(get?.security).toEqual(doc.paths['/v2/models/{name}'].get.security);
    }
  });

  it('gRPC ServerMetadata lists them too', async () => {
    // Act
    const meta = ok(await grpc.call<{ extensions: string[] }>('ServerMetadata', {}));

    // Assert
    expect(meta.extensions).toEqual(['model_repository', 'model_configuration', 'statistics', 'classification']);
  });

  describe('model configuration (get_model_config)', () => {
    it("answers iris's Triton configuration: onnxruntime, batching on dim 0, dims without it, one CPU instance", async () => {
      // Act
      const res = await getModelConfig('iris').expect(200);

      // Assert
      expect(res.body).toEqual({
        name: 'iris',
        platform: 'onnxruntime_onnx',
        backend: 'onnxruntime',
        version_policy: { all: {} },
        max_batch_size: 32,
        input: [{ name: 'input', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4], is_shape_tensor: false, allow_ragged_batch: false, optional: false }],
        output: [{ name: 'probabilities', data_type: 'TYPE_FP32', dims: [3], label_filename: '', is_shape_tensor: false }],
        batch_input: [],
        batch_output: [],
        dynamic_batching: { preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0, priority_queue_policy: {} },
        instance_group: [{ name: 'iris_0', kind: 'KIND_CPU', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' }],
        default_model_filename: 'model.onnx',
        cc_model_filenames: {},
        metric_tags: {},
        parameters: {},
        model_warmup: [],
      });
    });

    it('answers each version likewise, and reads each model.json batching and thread settings', async () => {
      // Act
      const v1 = await getModelConfig('iris', '1').expect(200);
      const bench = await getModelConfig('bench-mlp').expect(200);

      // Assert
      expect(v1.body).toEqual((await getModelConfig('iris').expect(200)).body);
      expect(bench.body).toMatchObject({
        name: 'bench-mlp',
        max_batch_size: 64,
        input: [{ name: 'input', data_type: 'TYPE_FP32', dims: [256] }],
        output: [{ name: 'output', data_type: 'TYPE_FP32', dims: [10] }],
        dynamic_batching: { max_queue_delay_microseconds: 2000 },
        instance_group: [{ kind: 'KIND_CPU', count: 1 }],
        parameters: { intra_op_thread_count: { string_value: '2' } },
      });
    });

    it('answers the same configuration over gRPC ModelConfig (enums by name, as proto-loader reads them)', async () => {
      // Act
      const iris = ok(await grpc.call<{ config: Record<string, unknown> }>('ModelConfig', { name: 'iris' }, GRPC_AUTH)).config;
      const bench = ok(await grpc.call<{ config: Record<string, unknown> }>('ModelConfig', { name: 'bench-mlp', version: '1' }, GRPC_AUTH)).config;

      // Assert
      const rest = (await getModelConfig('iris').expect(200)).body;
      expect(iris).toMatchObject({
        name: rest.name, platform: rest.platform, backend: rest.backend, version_policy: { all: {} }, max_batch_size: rest.max_batch_size,
        input: rest.input, output: rest.output, default_model_filename: 'model.onnx', scheduling_choice: 'dynamic_batching',
        dynamic_batching: { preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0 },
        instance_group: [{ name: 'iris_0', kind: 'KIND_CPU', count: 1, gpus: [], profile: [], passive: false, host_policy: '' }],
        parameters: {},
      });
      expect(bench).toMatchObject({ max_batch_size: 64, dynamic_batching: { max_queue_delay_microseconds: 2000 }, parameters: { intra_op_thread_count: { string_value: '2' } } });
    });

    it('answers 404 {error} for an unknown model or version, and 401 without a key', async () => {
      // Act
      const model = await getModelConfig('tulips').expect(404);
      const version = await getModelConfig('iris', '9').expect(404);
      const anonymous = await request(server()).get('/v2/models/iris/config').expect(401);

      // Assert
      v2Error(model, /tulips/);
      v2Error(version, /version 9/);
      v2Error(anonymous, /API key is required/);
    });
  });

  describe('statistics (get_inference_statistics)', () => {
    it('lists every READY version of every model, by name then version, in Triton\'s shape', async () => {
      // Act
      const res = await getInferenceStatistics().expect(200);

      // Assert
      const stats = res.body.model_stats as ModelStat[];
      expect(stats.map((s) => `${s.name}/${s.version}`)).toEqual(['bench-mlp/1', 'car-mpg/1', 'iris/1', 'iris/2', 'penguins/1']);
      const bench = stats[0];
      expect(Object.keys(bench)).toEqual(['name', 'version', 'last_inference', 'inference_count', 'execution_count', 'inference_stats', 'batch_stats']);
      expect(Object.keys(bench.inference_stats)).toEqual(['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss']);
    });

    it('lists a model\'s versions, or one version', async () => {
      // Act
      const model = await getInferenceStatistics('iris').expect(200);
      const version = await getInferenceStatistics('iris', '1').expect(200);

      // Assert
      expect((model.body.model_stats as ModelStat[]).map((s) => s.version)).toEqual(['1', '2']);
      expect((version.body.model_stats as ModelStat[]).map((s) => `${s.name}/${s.version}`)).toEqual(['iris/1']);
    });

    it('answers 404 {error} for an unknown model or version', async () => {
      // Act
      const model = await getInferenceStatistics('tulips').expect(404);
      const version = await getInferenceStatistics('iris', '9').expect(404);

      // Assert
      v2Error(model, /tulips/);
      v2Error(version, /version 9/);
    });

    it('answers the same statistics over gRPC ModelStatistics, and NOT_FOUND / INVALID_ARGUMENT as REST answers 404 / 400', async () => {
      // Act
      const all = ok(await grpc.call<{ model_stats: ModelStat[] }>('ModelStatistics', {}, GRPC_AUTH));
      const rest = (await getInferenceStatistics().expect(200)).body;
      const unknown = await grpc.call('ModelStatistics', { name: 'tulips' }, GRPC_AUTH);
      const versionOnly = await grpc.call('ModelStatistics', { version: '1' }, GRPC_AUTH);
      const anonymous = await grpc.call('ModelStatistics', {});

      // Assert
      expect(all).toEqual(rest);
      expect(unknown.error?.code).toBe(status.NOT_FOUND);
      expect(versionOnly.error?.code).toBe(status.INVALID_ARGUMENT);
      expect(versionOnly.error?.details).toMatch(/version needs a model name/);
      expect(anonymous.error?.code).toBe(status.UNAUTHENTICATED);
    });

    it('counts /predict, /predict/batch, V2 JSON, V2 binary and gRPC requests by their rows, each run alone once', async () => {
      // Arrange: one request at a time, so every request is its own execution
      const before = await statsOf('iris', '1');
      const startedAt = Date.now();

      // Act
      await authed(request(server()).post('/predict')).send({ model_id: 'iris', model_version: '1', features: SETOSA }).expect(200);
      await authed(request(server()).post('/predict/batch?model_id=iris&model_version=1')).send([SETOSA, VIRGINICA]).expect(200);
      await infer('iris', [fp32Input([SETOSA_ROW, VIRGINICA_ROW, VERSICOLOR_ROW])], [{ name: 'probabilities', binary_data: false }], '1').expect(200);
      await infer('iris', [fp32Input([VERSICOLOR_ROW, SETOSA_ROW, VIRGINICA_ROW, SETOSA_ROW], true)], undefined, '1').expect(200);
      ok(await grpc.call('ModelInfer', {
        model_name: 'iris', model_version: '1',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [5, 4], contents: { fp32_contents: [SETOSA_ROW, VIRGINICA_ROW, VERSICOLOR_ROW, SETOSA_ROW, VIRGINICA_ROW].flat() } }],
      }, GRPC_AUTH));

      // Assert
      const after = await statsOf('iris', '1');
      const delta = (pick: (s: ModelStat) => number) => pick(after) - pick(before);
      expect(delta((s) => s.inference_stats.success.count)).toBe(5);
      expect(delta((s) => s.inference_count)).toBe(1 + 2 + 3 + 4 + 5);
      expect(delta((s) => s.execution_count)).toBe(5);
      expect(delta((s) => s.inference_stats.queue.count)).toBe(5);
      expect(delta((s) => s.inference_stats.compute_input.count)).toBe(5);
      expect(delta((s) => s.inference_stats.compute_infer.count)).toBe(5);
      expect(delta((s) => s.inference_stats.compute_output.count)).toBe(5);
      expect(delta((s) => s.inference_stats.fail.count)).toBe(0);
      expect(delta((s) => s.inference_stats.cache_hit.count + s.inference_stats.cache_miss.count)).toBe(0);
      expect(delta((s) => s.inference_stats.success.ns)).toBeGreaterThan(0);
      expect(delta((s) => s.inference_stats.compute_infer.ns)).toBeGreaterThan(0);
      const executions = (size: number, s: ModelStat) => s.batch_stats.find((b) => b.batch_size === size)?.compute_infer.count ?? 0;
      expect([1, 2, 3, 4, 5].map((size) => executions(size, after) - executions(size, before))).toEqual([1, 1, 1, 1, 1]);
      expect(after.last_inference).toBeGreaterThanOrEqual(startedAt);
      expect(after.last_inference).toBeLessThanOrEqual(Date.now());
    });

    it('counts a request whose outputs could not be answered (non-finite) as a failure', async () => {
      // Arrange
      const before = await statsOf('iris', '2');

      // Act
      const res = await infer('iris', [fp32Input([OUT_OF_RANGE_ROW])], [{ name: 'probabilities', binary_data: false }], '2').expect(400);

      // Assert
      v2Error(res, /Invalid features|finite/i);
      const after = await statsOf('iris', '2');
      expect(after.inference_stats.fail.count - before.inference_stats.fail.count).toBe(1);
      expect(after.inference_stats.success.count).toBe(before.inference_stats.success.count);
    });

    it('counts a request refused before inference (unknown input) nowhere: it never reached the model', async () => {
      // Arrange
      const before = await statsOf('iris', '2');

      // Act
      await infer('iris', [{ name: 'nope', datatype: 'FP32', shape: [1, 4], data: SETOSA_ROW }], undefined, '2').expect(400);

      // Assert
      expect(await statsOf('iris', '2')).toEqual(before);
    });
  });

  describe('classification (InferRequestedOutput(name, binary_data, class_count))', () => {
    const ROWS = [SETOSA_ROW, VIRGINICA_ROW];

    /** iris version 2's probabilities for `rows`, as plain JSON floats (one array per row). */
    async function probabilitiesOf(rows: number[][]): Promise<number[][]> {
      const res = await infer('iris', [fp32Input(rows)], [{ name: 'probabilities', binary_data: false }], '2').expect(200);
      const flat = inferResult(res).header.outputs[0].data as number[];
      return rows.map((_, r) => flat.slice(r * 3, r * 3 + 3));
    }

    /**
     * Triton's strings for the top `k` of each row: "value:index:label", the value as %f prints it
     * (toFixed(6) agrees with it but on exact ties, which softmax outputs do not hit).
     */
    const expected = (rows: number[][], k: number, labels: string[]) =>
      rows.flatMap((p) => p.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v || a.i - b.i).slice(0, k).map(({ v, i }) => `${v.toFixed(6)}:${i}:${labels[i]}`));

    it('answers a JSON output as BYTES [batch, k] of "value:index:label", top-k by value', async () => {
      // Arrange
      const probabilities = await probabilitiesOf(ROWS);

      // Act
      const res = await infer('iris', [fp32Input(ROWS)], [{ name: 'probabilities', binary_data: false, class_count: 2 }], '2').expect(200);

      // Assert
      const [output] = inferResult(res).header.outputs;
      expect(output).toEqual({ name: 'probabilities', datatype: 'BYTES', shape: [2, 2], data: expected(probabilities, 2, ['setosa', 'versicolor', 'virginica']) });
      expect((output.data as string[])[0]).toMatch(/^0\.\d{6}:0:setosa$/);
      expect((output.data as string[])[2]).toMatch(/:2:virginica$/);
    });

    it('answers a binary output (tritonclient\'s default) as BYTES elements after the JSON header', async () => {
      // Arrange
      const probabilities = await probabilitiesOf(ROWS);

      // Act
      const res = await infer('iris', [fp32Input(ROWS, true)], [{ name: 'probabilities', class_count: 3 }], '2').expect(200);

      // Assert
      const { header, binary } = inferResult(res);
      expect(header.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'BYTES', shape: [2, 3] });
      expect(bytesElements(binary.get('probabilities')!)).toEqual(expected(probabilities, 3, ['setosa', 'versicolor', 'virginica']));
    });

    it("labels each model's classes with its own model.json labels, and gives none to a model without them", async () => {
      // Act
      const penguins = await infer('penguins', [fp32Input([[38.8, 18.3, 190, 3700]])], [{ name: 'probabilities', binary_data: false, class_count: 1 }]).expect(200);
      const mpg = await infer('car-mpg', [{ name: 'input', datatype: 'FP32', shape: [1, 6], data: [4, 97, 88, 2130, 14.5, 1970] }], [{ name: 'value', binary_data: false, class_count: 1 }]).expect(200);

      // Assert
      expect(inferResult(penguins).header.outputs[0].data).toEqual([expect.stringMatching(/^\d\.\d{6}:0:Adelie$/)]);
      expect(inferResult(mpg).header.outputs[0]).toMatchObject({ datatype: 'BYTES', shape: [1, 1], data: [expect.stringMatching(/^\d+\.\d{6}:0$/)] });
    });

    it('answers 400 {error} naming a class count beyond the output\'s classes, or not a positive integer', async () => {
      // Act
      const tooMany = await infer('iris', [fp32Input(ROWS)], [{ name: 'probabilities', class_count: 4 }]).expect(400);
      const { body } = tritonBody([fp32Input(ROWS)]);
      const raw = JSON.parse(body.toString('utf8'));
      const notInteger = await authed(request(server()).post('/v2/models/iris/infer'))
        .send({ ...raw, parameters: {}, outputs: [{ name: 'probabilities', parameters: { classification: 'two' } }] }).expect(400);
      const zero = await authed(request(server()).post('/v2/models/iris/infer'))
        .send({ ...raw, parameters: {}, outputs: [{ name: 'probabilities', parameters: { classification: 0 } }] }).expect(400);

      // Assert
      v2Error(tooMany, /outputs\[0\]\.parameters\.classification 4 is more than the 3 classes of output 'probabilities'/);
      v2Error(notInteger, /outputs\[0\]\.parameters\.classification must be a positive integer.*"two"/);
      v2Error(zero, /outputs\[0\]\.parameters\.classification must be a positive integer.*got 0/);
    });

    it('answers gRPC classification (int64_param) in bytes_contents, or raw when the inputs were raw', async () => {
      // Arrange
      const probabilities = await probabilitiesOf(ROWS);
      const outputs = [{ name: 'probabilities', parameters: { classification: { int64_param: 2 } } }];
      const typed = { model_name: 'iris', model_version: '2', outputs, inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], contents: { fp32_contents: ROWS.flat() } }] };
      const raw = { model_name: 'iris', model_version: '2', outputs, inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [Buffer.from(Float32Array.from(ROWS.flat()).buffer)] };

      // Act
      const fromTyped = ok(await grpc.call<{ outputs: { datatype: string; shape: number[]; contents: { bytes_contents: Buffer[] } }[] }>('ModelInfer', typed, GRPC_AUTH));
      const fromRaw = ok(await grpc.call<{ outputs: { datatype: string; shape: number[] }[]; raw_output_contents: Buffer[] }>('ModelInfer', raw, GRPC_AUTH));

      // Assert
      const want = expected(probabilities, 2, ['setosa', 'versicolor', 'virginica']);
      expect(fromTyped.outputs[0]).toMatchObject({ datatype: 'BYTES', shape: [2, 2] });
      expect(fromTyped.outputs[0].contents.bytes_contents.map((b) => Buffer.from(b).toString('utf8'))).toEqual(want);
      expect(fromRaw.outputs[0]).toMatchObject({ datatype: 'BYTES', shape: [2, 2] });
      expect(bytesElements(Buffer.from(fromRaw.raw_output_contents[0]))).toEqual(want);
    });

    it('answers gRPC INVALID_ARGUMENT for a class count beyond the classes', async () => {
      // Act
      const reply = await grpc.call('ModelInfer', {
        model_name: 'iris', outputs: [{ name: 'probabilities', parameters: { classification: { int64_param: 9 } } }],
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: SETOSA_ROW } }],
      }, GRPC_AUTH);

      // Assert
      expect(reply.error?.code).toBe(status.INVALID_ARGUMENT);
      expect(reply.error?.details).toMatch(/classification 9 is more than the 3 classes of output 'probabilities'/);
    });

    it('leaves the other outputs and requests without classification as they were', async () => {
      // Act
      const res = await infer('iris', [fp32Input(ROWS)], [{ name: 'probabilities', binary_data: false }], '2').expect(200);

      // Assert
      expect(inferResult(res).header.outputs[0]).toMatchObject({ datatype: 'FP32', shape: [2, 3] });
    });
  });
});
