import { INestApplication } from '@nestjs/common';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';

import { ModelRuntimeFactory } from '../../src/models/runtimes/model-runtime';
import { ChildServer, startServer } from '../e2e/support/child-server';
import { createApp, expectEnvelope, REPO_MODELS, SETOSA } from '../e2e/support/create-app';
import { sample } from '../e2e/support/metrics-text';
import { PathFaultRuntimeFactory } from '../e2e/support/path-fault-runtime';
import { copyModel, GARBAGE, tempRepository, writeVersionFile } from './support/fault-repository';
import { referenceOutput } from './support/reference-outputs';
import { OutputFaultRuntimeFactory, RoutedFaultRuntimeFactory } from './support/routed-fault-runtime';

/**
 * Reliability suite, faults (issue 12): what a broken runtime, a broken repository at boot, a
 * broken hot load and a SIGKILL do to the service, over real HTTP on the real AppModule and the
 * real bundled models (faults are injected only into the models named for them). One app per
 * section; each test exercises its own faulty model, so tests do not depend on each other.
 */

const ADMIN = 'faults-admin-key';
const ENV = { ADMIN_API_KEYS: `ops:${ADMIN}`, REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };
const IRIS_ROW = [SETOSA.sepal_length, SETOSA.sepal_width, SETOSA.petal_length, SETOSA.petal_width];
const PENGUIN_ROW = [39.1, 18.7, 181, 3750];
const CAR_ROW = [4, 98, 68, 2045, 18.5, 1977];
const REASONS = ['validation', 'inference', 'timeout', 'overload'];
const REAL_MODELS = ['iris', 'penguins', 'car-mpg'];

type Server = ReturnType<INestApplication['getHttpServer']>;
/** A JSON response body, read field by field in the assertions. */
type Body = Record<string, any>;

const v2Infer = (row: number[]) => ({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, row.length], data: row }] });
const admin = (t: request.Test) => t.set('X-API-Key', ADMIN);

/** The correct answers of the real models for the rows above: onnxruntime on the bundled files, outside the server. */
interface Reference { iris: number[]; penguins: number[]; car: number[] }
async function reference(): Promise<Reference> {
  return { iris: await referenceOutput('iris', 2, IRIS_ROW), penguins: await referenceOutput('penguins', 1, PENGUIN_ROW), car: await referenceOutput('car-mpg', 1, CAR_ROW) };
}

/** One request to each real model (iris on both transports), all at once. */
function realAnswers(server: Server): Promise<request.Response[]> {
  return Promise.all([
    request(server).post('/predict').send({ model_id: 'iris', features: IRIS_ROW }),
    request(server).post('/v2/models/iris/infer').send(v2Infer(IRIS_ROW)),
    request(server).post('/predict').send({ model_id: 'penguins', features: PENGUIN_ROW }),
    request(server).post('/predict').send({ model_id: 'car-mpg', features: CAR_ROW }),
  ]);
}

function expectClose(got: unknown[], want: number[]): void {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
}

/** The real models answered 200 with what onnxruntime computes. */
function expectCorrect([iris, irisV2, penguins, car]: request.Response[], want: Reference): void {
  expect([iris.status, irisV2.status, penguins.status, car.status]).toEqual([200, 200, 200, 200]);
  expect(iris.body.prediction.class).toBe('setosa');
  expectClose(Object.values(iris.body.prediction.probabilities), want.iris);
  expectClose(irisV2.body.outputs[0].data, want.iris);
  expect(penguins.body.prediction.class).toBe('Adelie');
  expectClose(Object.values(penguins.body.prediction.probabilities), want.penguins);
  expectClose([car.body.prediction.value], want.car);
}

/** No stack, no injected message, no path of the repository in an error body. */
function expectNoInternals(repo: string, ...bodies: unknown[]): void {
  for (const body of bodies) {
    const text = JSON.stringify(body);
    expect(text).not.toMatch(/injected|\/tmp\/|\bat \S+ \(|\.(ts|js):\d+/);
    expect(text).not.toContain(repo);
  }
}

/** Every prediction error counter of `models` is 0, whatever the reason. */
function expectNoErrorsCounted(metrics: string, models: string[], version: (m: string) => string): void {
  for (const model_id of models) {
    const model_version = version(model_id);
    for (const reason of REASONS) expect(sample(metrics, 'ml_prediction_errors_total', { model_id, model_version, reason })).toBe(0);
    expect(sample(metrics, 'ml_prediction_requests_total', { model_id, model_version, status: 'error' })).toBe(0);
  }
}

const activeOfReal = (m: string) => (m === 'iris' ? '2' : '1');

describe('faults through the runtime port: broken runtimes beside the real ones (one app)', () => {
  const FAULTY = ['iris-throws', 'iris-stalls', 'iris-wrong-shape', 'iris-missing-output', 'iris-nan', 'iris-infinity'];
  let app: INestApplication;
  let repo: string;
  let want: Reference;
  let releaseStall: () => void = () => undefined;
  const server = () => app.getHttpServer();

  beforeAll(async () => {
    repo = await tempRepository(REAL_MODELS);
    for (const model of FAULTY) await copyModel(repo, 'iris', model, { versions: [1] });
    const stall = new Promise<void>((resolve) => { releaseStall = resolve; });
    const factory = new RoutedFaultRuntimeFactory([
      { pathPart: '/iris-throws/', factory: new PathFaultRuntimeFactory('/iris-throws/', { kind: 'throw' }) },
      { pathPart: '/iris-stalls/', factory: new PathFaultRuntimeFactory('/iris-stalls/', { kind: 'gate', gate: stall }) },
      { pathPart: '/iris-wrong-shape/', factory: new OutputFaultRuntimeFactory('wrong-shape') },
      { pathPart: '/iris-missing-output/', factory: new OutputFaultRuntimeFactory('missing-output') },
      { pathPart: '/iris-nan/', factory: new OutputFaultRuntimeFactory('nan') },
      { pathPart: '/iris-infinity/', factory: new OutputFaultRuntimeFactory('infinity') },
    ]);
    want = await reference();
    app = await createApp({
      env: { ...ENV, MODEL_REPOSITORY: repo, TIMEOUT_SECONDS: '2', SHUTDOWN_TIMEOUT_SECONDS: '1' },
      customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(factory),
    });
  });
  afterAll(async () => {
    releaseStall();
    await app?.close();
    await rm(repo, { recursive: true, force: true });
  });

  interface Outcome {
    predict: request.Response;
    v2: request.Response;
    real: request.Response[];
    /** The faulty requests were still unanswered when the real models had answered. */
    servedMeanwhile: boolean;
    health: request.Response;
    ready: request.Response;
    metrics: string;
  }

  /** One /predict and one V2 request to the faulty `model`, with the real models called while they are out; then every view. */
  async function exercise(model: string): Promise<Outcome> {
    let settled = false;
    const faulty = Promise.all([
      request(server()).post('/predict').set('X-Request-Id', `${model}-predict`).send({ model_id: model, features: SETOSA }),
      request(server()).post(`/v2/models/${model}/infer`).set('X-Request-Id', `${model}-v2`).send(v2Infer(IRIS_ROW)),
    ]).finally(() => { settled = true; });
    const real = await realAnswers(server());
    const servedMeanwhile = !settled;
    const [predict, v2] = await faulty;
    const health = await request(server()).get('/health');
    const ready = await request(server()).get('/health/ready');
    const metrics = (await request(server()).get('/metrics')).text;
    return { predict, v2, real, servedMeanwhile, health, ready, metrics };
  }

  /** Status, error envelope (or V2 `{error}`) with the request id, no internals; the counters of this model moved by exactly 2. */
  function expectCleanFailure(o: Outcome, model: string, want: { status: number; code: string; v2Status: number; reason: string }): void {
    expect(o.predict.status).toBe(want.status);
    expectEnvelope(o.predict.body, want.code, `${model}-predict`);
    expect(o.predict.headers['x-request-id']).toBe(`${model}-predict`);
    expect(o.v2.status).toBe(want.v2Status);
    expect(o.v2.body).toEqual({ error: expect.any(String) });
    expect(o.v2.headers['x-request-id']).toBe(`${model}-v2`);
    expectNoInternals(repo, o.predict.body, o.v2.body);
    expect(sample(o.metrics, 'ml_prediction_errors_total', { model_id: model, model_version: '1', reason: want.reason })).toBe(2);
    expect(sample(o.metrics, 'ml_prediction_requests_total', { model_id: model, model_version: '1', status: 'error' })).toBe(2);
  }

  /** The real models answered correctly, are healthy with no error counted, and the replica stays live and ready. */
  function expectRealModelsUnharmed(o: Outcome): void {
    expectCorrect(o.real, want);
    expectNoErrorsCounted(o.metrics, REAL_MODELS, activeOfReal);
    for (const m of REAL_MODELS) expect(o.health.body.details[`model:${m}`]).toMatchObject({ status: 'up', health: 'healthy', error_count: 0 });
    expect(o.health.status).toBe(200);
    expect(o.ready.status).toBe(200);
  }

  it('a runtime that throws: 500 INFERENCE_FAILED on both transports, the model degraded in /health, reason="inference"; the others serve', async () => {
    // Act
    const o = await exercise('iris-throws');

    // Assert
    expectCleanFailure(o, 'iris-throws', { status: 500, code: 'INFERENCE_FAILED', v2Status: 500, reason: 'inference' });
    expect(o.predict.body.error.message).toBe("Inference failed for model 'iris-throws' version 1");
    expect(o.health.body.details['model:iris-throws']).toMatchObject({ status: 'up', health: 'degraded', error_count: 2, error_rate: 1 });
    expectRealModelsUnharmed(o);
  });

  it('a runtime that stalls: 504 INFERENCE_TIMEOUT after TIMEOUT_SECONDS on both transports, degraded, reason="timeout"; the others answer while it hangs', async () => {
    // Act
    const o = await exercise('iris-stalls');

    // Assert
    expect(o.servedMeanwhile).toBe(true);
    expectCleanFailure(o, 'iris-stalls', { status: 504, code: 'INFERENCE_TIMEOUT', v2Status: 504, reason: 'timeout' });
    expect(o.predict.body.error.message).toMatch(/TIMEOUT_SECONDS/);
    expect(o.health.body.details['model:iris-stalls']).toMatchObject({ status: 'up', health: 'degraded', error_count: 2 });
    expectRealModelsUnharmed(o);
  });

  // The README documents non-finite outputs as the caller's problem (422 / V2 400, reason="validation",
  // never held against the version's health): the server cannot tell overflowing inputs from a broken model.
  it.each(['iris-nan', 'iris-infinity'])('a runtime answering %s: 422 VALIDATION_FAILED (V2 400) naming the non-finite output, never a 200 with nulls; counted as validation', async (model) => {
    // Act
    const o = await exercise(model);

    // Assert
    expectCleanFailure(o, model, { status: 422, code: 'VALIDATION_FAILED', v2Status: 400, reason: 'validation' });
    expect(o.predict.body.error.details).toEqual([{ field: 'features', message: expect.stringMatching(/not finite \(NaN or Infinity\)/) }]);
    expect(o.v2.body.error).toMatch(/not finite/);
    expect(o.health.body.details[`model:${model}`]).toMatchObject({ status: 'up', health: 'healthy', error_count: 0 });
    expectRealModelsUnharmed(o);
  });

  // Outputs that break the version's own signature (found by this suite: they used to pass as a 200 on
  // V2 and a 500 INTERNAL on /predict, counted as successes) are checked in DataPlane.execute.
  it.each(['iris-wrong-shape', 'iris-missing-output'])('a runtime answering outputs of %s: 500 INFERENCE_FAILED on both transports, counted as inference errors, degraded', async (model) => {
    // Act
    const o = await exercise(model);

    // Assert
    expectRealModelsUnharmed(o);
    expectCleanFailure(o, model, { status: 500, code: 'INFERENCE_FAILED', v2Status: 500, reason: 'inference' });
    expect(o.health.body.details[`model:${model}`]).toMatchObject({ status: 'up', health: 'degraded', error_count: 2 });
  });
});

describe('repository faults at boot (one app on a broken copy of models/)', () => {
  let app: INestApplication;
  let repo: string;
  let want: Reference;
  const server = () => app.getHttpServer();

  beforeAll(async () => {
    repo = await tempRepository(['iris', 'car-mpg']);
    // penguins: version 1 good, version 2 a corrupt file; corrupt-onnx: every version corrupt.
    await writeVersionFile(await copyModel(repo, 'penguins', 'penguins', { versions: [1] }), 2, GARBAGE);
    const corrupt = await copyModel(repo, 'iris', 'corrupt-onnx');
    for (const v of [1, 2]) await writeVersionFile(corrupt, v, GARBAGE);
    // A version folder holding something else than model.onnx, and an empty one, beside a good version 1.
    await writeVersionFile(await copyModel(repo, 'iris', 'missing-onnx', { versions: [1] }), 2, 'weights', 'weights.bin');
    await mkdir(join(await copyModel(repo, 'iris', 'empty-version', { versions: [1] }), '2'));
    // model.json: not JSON; JSON with two bad fields; a name that is not the folder's.
    await writeFile(join(await copyModel(repo, 'iris', 'bad-json', { versions: [1] }), 'model.json'), '{ "name": "bad-json", ');
    await copyModel(repo, 'iris', 'bad-field', { versions: [1], manifest: { task: 'clustering', worker_thread: 'yes' } });
    await copyModel(repo, 'iris', 'misnamed', { versions: [1], manifest: { name: 'not-misnamed' } });
    await copyModel(repo, 'iris', 'no-versions');
    want = await reference();
    app = await createApp({ env: { ...ENV, MODEL_REPOSITORY: repo } });
  });
  afterAll(async () => {
    await app?.close();
    await rm(repo, { recursive: true, force: true });
  });

  /** /models, /health, /health/ready and the V2 index (a client route: no key needed while API_KEYS is empty). */
  async function views() {
    const [models, health, ready, index] = await Promise.all([
      request(server()).get('/models'), request(server()).get('/health'), request(server()).get('/health/ready'),
      request(server()).post('/v2/repository/index').send({}),
    ]);
    expect([models.status, index.status]).toEqual([200, 200]);
    const listed = (id: string) => (models.body.models as Body[]).find((m) => m.id === id);
    return { listed, health: health.body as Body, healthStatus: health.status, ready: ready.body as Body, readyStatus: ready.status, index: index.body as Body[] };
  }

  it('the intact models serve correct answers; so do the models whose extra version folder has no model.onnx, on their good version', async () => {
    // Act
    const real = await realAnswers(server());
    const partial = await Promise.all(['missing-onnx', 'empty-version', 'penguins'].map((model_id) =>
      request(server()).post('/predict').send({ model_id, features: model_id === 'penguins' ? PENGUIN_ROW : IRIS_ROW })));

    // Assert
    expectCorrect(real, want);
    expect(partial.map((r) => [r.status, r.body.model_version])).toEqual([[200, '1'], [200, '1'], [200, '1']]);
  });

  it.each([
    { model: 'bad-json', reason: /^model\.json unreadable: .*JSON/ },
    { model: 'bad-field', reason: /^model\.json invalid: task must be classification or regression; worker_thread must be a boolean$/ },
    { model: 'misnamed', reason: /^model\.json invalid: name 'not-misnamed' must equal its folder name 'misnamed'$/ },
  ])('$model: FAILED with its reason in /models, /health, the V2 index and readiness; its predictions 503', async ({ model, reason }) => {
    // Act
    const v = await views();
    const predict = await request(server()).post('/predict').send({ model_id: model, features: SETOSA });
    const v2 = await request(server()).post(`/v2/models/${model}/infer`).send(v2Infer(IRIS_ROW));

    // Assert
    expect(v.listed(model)).toMatchObject({ state: 'FAILED', reason: expect.stringMatching(reason), versions: [] });
    expect(v.health.details[`model:${model}`]).toEqual({ status: 'down', message: expect.stringMatching(/^FAILED: model\.json/) });
    expect(v.health.details[`model:${model}`].message.slice('FAILED: '.length)).toMatch(reason);
    expect(v.index).toContainEqual({ name: model, version: '', state: 'UNAVAILABLE', reason: expect.stringMatching(reason) });
    expect(v.ready.error.models.not_ready[model]).toMatch(/^FAILED: model\.json/);
    expect(predict.status).toBe(503);
    expect(expectEnvelope(predict.body, 'MODEL_NOT_READY').error.message).toMatch(/failed to load: model\.json/);
    expect(v2.status).toBe(503);
    expect(v2.body.error).toMatch(/failed to load: model\.json/);
  });

  it("a corrupt model.onnx: that version FAILED with onnxruntime's reason in /models/:id, the V2 index and ml_model_info; the model with no other version is down and not ready, the one with a good version serves on it", async () => {
    // Act
    const v = await views();
    const corrupt = (await request(server()).get('/models/corrupt-onnx').expect(200)).body as Body;
    const penguins = (await request(server()).get('/models/penguins').expect(200)).body as Body;
    const metrics = (await request(server()).get('/metrics')).text;
    const predict = await request(server()).post('/predict').send({ model_id: 'corrupt-onnx', features: SETOSA });

    // Assert
    const protobuf = expect.stringMatching(/onnxruntime could not load model\.onnx/);
    expect(corrupt.versions).toEqual([expect.objectContaining({ version: '1', state: 'FAILED', reason: protobuf }), expect.objectContaining({ version: '2', state: 'FAILED', reason: protobuf })]);
    expect(penguins).toMatchObject({ state: 'READY', active_version: '1' });
    expect(penguins.versions).toEqual([expect.objectContaining({ version: '1', state: 'READY' }), expect.objectContaining({ version: '2', state: 'FAILED', reason: protobuf })]);
    for (const [name, version] of [['corrupt-onnx', '1'], ['corrupt-onnx', '2'], ['penguins', '2']]) {
      expect(v.index).toContainEqual({ name, version, state: 'UNAVAILABLE', reason: protobuf });
      expect(sample(metrics, 'ml_model_info', { model_id: name, model_version: version, state: 'FAILED' })).toBe(1);
    }
    expect(v.index).toContainEqual({ name: 'penguins', version: '1', state: 'READY', reason: '' });
    expect(v.health.details['model:corrupt-onnx']).toMatchObject({ status: 'down' });
    expect(v.health.details['model:penguins']).toMatchObject({ status: 'up', health: 'healthy', active_version: '1' });
    expect(Object.keys(v.ready.error.models.not_ready)).toContain('corrupt-onnx');
    expect(Object.keys(v.ready.error.models.not_ready)).not.toContain('penguins');
    expect(predict.status).toBe(503);
    expectEnvelope(predict.body, 'MODEL_NOT_READY');
  });

  it('a model folder with no versions: listed UNAVAILABLE, "no versions" in the V2 index, down in /health, not ready; its predictions 503', async () => {
    // Act
    const v = await views();
    const predict = await request(server()).post('/predict').send({ model_id: 'no-versions', features: SETOSA });

    // Assert
    expect(v.listed('no-versions')).toMatchObject({ state: 'UNAVAILABLE', active_version: null, versions: [] });
    expect(v.index).toContainEqual({ name: 'no-versions', version: '', state: 'UNAVAILABLE', reason: 'no versions' });
    expect(v.health.details['model:no-versions']).toEqual({ status: 'down', message: 'not serving: no versions (no numbered version folder)' });
    expect(v.ready.error.models.not_ready['no-versions']).toBe('not serving: no versions (no numbered version folder)');
    expect(predict.status).toBe(503);
    expect(expectEnvelope(predict.body, 'MODEL_NOT_READY').error.message).toMatch(/no active version/);
  });

  it('readiness is 503 naming exactly the models that cannot serve; /health is 503, liveness 200, V2 readiness 400', async () => {
    // Act
    const v = await views();
    const live = await request(server()).get('/health/live');
    const v2Ready = await request(server()).get('/v2/health/ready');

    // Assert
    expect(v.readyStatus).toBe(503);
    expect(Object.keys(v.ready.error.models.not_ready).sort()).toEqual(['bad-field', 'bad-json', 'corrupt-onnx', 'misnamed', 'no-versions']);
    expect(v.healthStatus).toBe(503);
    const down = Object.entries(v.health.details as Record<string, Body>).filter(([, d]) => d.status === 'down').map(([k]) => k).sort();
    expect(down).toEqual(['model:bad-field', 'model:bad-json', 'model:corrupt-onnx', 'model:misnamed', 'model:no-versions']);
    expect(live.status).toBe(200);
    expect(v2Ready.status).toBe(400);
    expect(v2Ready.body).toEqual({ ready: false });
  });

  // Found by this suite, fixed: a numbered version folder without model.onnx used to be skipped without a word.
  it.each(['missing-onnx', 'empty-version'])('%s: version 2 without model.onnx is listed FAILED naming model.onnx in /models/:id and the V2 index', async (model) => {
    // Act
    const v = await views();
    const detail = (await request(server()).get(`/models/${model}`).expect(200)).body as Body;

    // Assert
    expect(detail.versions).toContainEqual(expect.objectContaining({ version: '2', state: 'FAILED', reason: expect.stringMatching(/model\.onnx/) }));
    expect(v.index).toContainEqual({ name: model, version: '2', state: 'UNAVAILABLE', reason: expect.stringMatching(/model\.onnx/) });
  });

  // Found by this suite, fixed: a model with no servable version used to be listed without its reason in /models and /health.
  it.each([
    { model: 'corrupt-onnx', state: 'FAILED', reason: /onnxruntime could not load model\.onnx/ },
    { model: 'no-versions', state: 'UNAVAILABLE', reason: /no (loadable )?versions?/ },
  ])('$model: /models and /health name why it cannot serve', async ({ model, state, reason }) => {
    // Act
    const v = await views();

    // Assert
    expect(v.health.details[`model:${model}`].message).toMatch(reason);
    expect(v.listed(model)).toMatchObject({ state, reason: expect.stringMatching(reason) });
  });
});

describe('the same faults brought in by hot load while serving (one app)', () => {
  let app: INestApplication;
  let repo: string;
  let want: Reference;
  const server = () => app.getHttpServer();

  beforeAll(async () => {
    repo = await tempRepository(REAL_MODELS);
    want = await reference();
    app = await createApp({ env: { ...ENV, MODEL_REPOSITORY: repo } });
  });
  afterAll(async () => {
    await app?.close();
    await rm(repo, { recursive: true, force: true });
  });

  const index = async () => (await request(server()).post('/v2/repository/index').send({}).expect(200)).body as Body[];

  it('V2 load of a serving model with a corrupt new version: 400 naming that version; it is FAILED with the reason; the model keeps serving; ready stays 200', async () => {
    // Arrange
    await writeVersionFile(join(repo, 'penguins'), 2, GARBAGE);

    // Act
    const [load, real] = await Promise.all([admin(request(server()).post('/v2/repository/models/penguins/load')).send({}), realAnswers(server())]);
    const penguins = (await request(server()).get('/models/penguins').expect(200)).body as Body;
    const rows = await index();
    const ready = await request(server()).get('/health/ready');

    // Assert
    expect(load.status).toBe(400);
    expect(load.body).toEqual({ error: expect.stringMatching(/^Model 'penguins' failed to load: version 2: onnxruntime could not load model\.onnx/) });
    expectCorrect(real, want);
    expect(penguins).toMatchObject({ state: 'READY', active_version: '1' });
    expect(penguins.versions).toContainEqual(expect.objectContaining({ version: '2', state: 'FAILED', reason: expect.stringMatching(/onnxruntime could not load model\.onnx/) }));
    expect(rows).toContainEqual({ name: 'penguins', version: '2', state: 'UNAVAILABLE', reason: expect.stringMatching(/onnxruntime could not load model\.onnx/) });
    expect(ready.status).toBe(200);
    expectCorrect(await realAnswers(server()), want);
  });

  it('reload of a READY version whose file was corrupted on disk: 422 with the reason; the loaded session keeps serving the same answers; fixed, it reloads', async () => {
    // Arrange
    const file = join(repo, 'car-mpg', '1', 'model.onnx');
    await writeFile(file, GARBAGE);

    // Act
    const [load, real] = await Promise.all([admin(request(server()).post('/models/car-mpg/versions/1/load')), realAnswers(server())]);
    const during = (await request(server()).get('/models/car-mpg').expect(200)).body as Body;
    const after = await realAnswers(server());
    await cp(join(REPO_MODELS, 'car-mpg', '1', 'model.onnx'), file);
    const fixed = await admin(request(server()).post('/models/car-mpg/versions/1/load'));

    // Assert
    expect(load.status).toBe(422);
    expect(expectEnvelope(load.body, 'MODEL_LOAD_FAILED').error.message).toMatch(/^Version 1 of 'car-mpg' failed to load: onnxruntime could not load model\.onnx/);
    expectCorrect(real, want);
    expectCorrect(after, want);
    expect(during).toMatchObject({ state: 'READY', active_version: '1', versions: [expect.objectContaining({ version: '1', state: 'READY' })] });
    expect(fixed.status).toBe(200);
    expect(fixed.body).toMatchObject({ version: '1', state: 'READY' });
  });

  it("a serving model's model.json turned invalid: both load routes refuse naming model.json; the model keeps serving as loaded", async () => {
    // Arrange
    const path = join(repo, 'iris', 'model.json');
    const original = await readFile(path, 'utf8');
    await writeFile(path, JSON.stringify({ ...JSON.parse(original), features: 'sepal_length' }));

    // Act
    const [adminLoad, v2Load, real] = await Promise.all([
      admin(request(server()).post('/models/iris/versions/2/load')),
      admin(request(server()).post('/v2/repository/models/iris/load')).send({}),
      realAnswers(server()),
    ]);
    const models = (await request(server()).get('/models').expect(200)).body as Body;
    const ready = await request(server()).get('/health/ready');
    await writeFile(path, original);

    // Assert
    expect(adminLoad.status).toBe(422);
    expect(expectEnvelope(adminLoad.body, 'MODEL_LOAD_FAILED').error.message).toMatch(/model\.json invalid: features must be a list/);
    expect(v2Load.status).toBe(400);
    expect(v2Load.body.error).toMatch(/model\.json invalid: features must be a list/);
    expectCorrect(real, want);
    expect(models.models.find((m: Body) => m.id === 'iris')).toMatchObject({ state: 'READY', reason: null, active_version: '2' });
    expect(ready.status).toBe(200);
  });

  it('load of a version folder without model.onnx: 422 MODEL_LOAD_FAILED naming the missing file; listed FAILED; the active version serves on', async () => {
    // Arrange
    await mkdir(join(repo, 'iris', '5'));

    // Act
    const [load, real] = await Promise.all([admin(request(server()).post('/models/iris/versions/5/load')), realAnswers(server())]);
    const iris = (await request(server()).get('/models/iris').expect(200)).body as Body;

    // Assert
    expect(load.status).toBe(422);
    expect(expectEnvelope(load.body, 'MODEL_LOAD_FAILED').error.message).toBe("Version 5 of 'iris' failed to load: no model.onnx in iris/5/ and no other .onnx file (it is empty)");
    expectCorrect(real, want);
    expect(iris.versions.map((v: Body) => [v.version, v.state])).toEqual([['1', 'READY'], ['2', 'READY'], ['5', 'FAILED']]);
    expect(iris.active_version).toBe('2');
  });

  it.each([
    { model: 'hot-bad-json', via: 'admin', manifest: '{ "name": "hot-bad-json", ', reason: /model\.json unreadable/ },
    { model: 'hot-bad-field', via: 'v2', manifest: JSON.stringify({ name: 'hot-bad-field', labels: 'setosa' }), reason: /model\.json invalid: labels must be a list/ },
  ])('a new model with a broken model.json loaded via $via: refused with the reason, then listed FAILED with it everywhere, not ready, until unloaded', async ({ model, via, manifest, reason }) => {
    // Arrange
    const dir = await copyModel(repo, 'iris', model, { versions: [1] });
    await writeFile(join(dir, 'model.json'), manifest);

    // Act
    const route = via === 'admin' ? `/models/${model}/versions/1/load` : `/v2/repository/models/${model}/load`;
    const [load, real] = await Promise.all([admin(request(server()).post(route)).send({}), realAnswers(server())]);
    const models = (await request(server()).get('/models').expect(200)).body as Body;
    const health = (await request(server()).get('/health')).body as Body;
    const rows = await index();
    const ready = await request(server()).get('/health/ready');
    await admin(request(server()).post(`/v2/repository/models/${model}/unload`)).send({}).expect(200);
    const readyAfterUnload = await request(server()).get('/health/ready');

    // Assert
    expect(load.status).toBe(via === 'admin' ? 422 : 400);
    expect(via === 'admin' ? expectEnvelope(load.body, 'MODEL_LOAD_FAILED').error.message : load.body.error).toMatch(reason);
    expectCorrect(real, want);
    expect(models.models.find((m: Body) => m.id === model)).toMatchObject({ state: 'FAILED', reason: expect.stringMatching(reason) });
    expect(health.details[`model:${model}`]).toEqual({ status: 'down', message: expect.stringMatching(/^FAILED: /) });
    expect(rows).toContainEqual({ name: model, version: '', state: 'UNAVAILABLE', reason: expect.stringMatching(reason) });
    expect(ready.status).toBe(503);
    expect(Object.keys(ready.body.error.models.not_ready)).toEqual([model]);
    expect(readyAfterUnload.status).toBe(200);
  });

  it('a new model whose every model.onnx is corrupt, loaded via V2: 400 naming each version; FAILED versions with the reason; not ready until unloaded', async () => {
    // Arrange
    const dir = await copyModel(repo, 'iris', 'hot-corrupt');
    for (const v of [1, 2]) await writeVersionFile(dir, v, GARBAGE);

    // Act
    const [load, real] = await Promise.all([admin(request(server()).post('/v2/repository/models/hot-corrupt/load')).send({}), realAnswers(server())]);
    const detail = (await request(server()).get('/models/hot-corrupt').expect(200)).body as Body;
    const health = (await request(server()).get('/health')).body as Body;
    const rows = await index();
    const ready = await request(server()).get('/health/ready');
    await admin(request(server()).post('/v2/repository/models/hot-corrupt/unload')).send({}).expect(200);
    const readyAfterUnload = await request(server()).get('/health/ready');

    // Assert
    expect(load.status).toBe(400);
    expect(load.body.error).toMatch(/version 1: onnxruntime could not load model\.onnx.*; version 2: onnxruntime could not load model\.onnx/);
    expectCorrect(real, want);
    const failed = expect.objectContaining({ state: 'FAILED', reason: expect.stringMatching(/onnxruntime could not load model\.onnx/) });
    expect(detail.versions).toEqual([failed, failed]);
    expect(health.details['model:hot-corrupt']).toMatchObject({ status: 'down' });
    for (const version of ['1', '2']) expect(rows).toContainEqual({ name: 'hot-corrupt', version, state: 'UNAVAILABLE', reason: expect.stringMatching(/onnxruntime could not load model\.onnx/) });
    expect(ready.status).toBe(503);
    expect(Object.keys(ready.body.error.models.not_ready)).toEqual(['hot-corrupt']);
    expect(readyAfterUnload.status).toBe(200);
  });

  // Found by this suite, fixed: V2 load of a new folder without versions used to answer 404 and list nothing.
  it('a new model folder with no versions, loaded via V2: refused naming the missing versions and listed as at boot', async () => {
    // Arrange
    await copyModel(repo, 'iris', 'hot-no-versions');

    try {
      // Act
      const load = await admin(request(server()).post('/v2/repository/models/hot-no-versions/load')).send({});
      const rows = await index();

      // Assert
      expect(load.status).toBe(400);
      expect(load.body.error).toMatch(/no version/);
      expect(rows).toContainEqual({ name: 'hot-no-versions', version: '', state: 'UNAVAILABLE', reason: 'no versions' });
    } finally {
      await admin(request(server()).post('/v2/repository/models/hot-no-versions/unload')).send({});
    }
  });
});

describe('SIGKILL keeps the registry state (child processes)', () => {
  const KEYS = Array.from({ length: 20 }, (_, i) => `user-${i}`);
  let dir: string;
  let running: ChildServer | undefined;
  const headers = { 'content-type': 'application/json', 'x-api-key': ADMIN };

  beforeAll(async () => {
    dir = await tempRepository(['iris']);
  });
  afterEach(async () => {
    if (running && running.proc.exitCode === null && running.proc.signalCode === null) { running.proc.kill('SIGKILL'); await running.exited; }
    running = undefined;
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  /** A child server on the temp repository (given explicitly: the apps above changed this process's MODEL_REPOSITORY). */
  async function start(stateFile: string): Promise<ChildServer> {
    running = await startServer({ ...ENV, MODEL_REPOSITORY: dir, REGISTRY_STATE_FILE: stateFile });
    return running;
  }

  async function killHard(server: ChildServer): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    server.proc.kill('SIGKILL');
    const code = await server.exited;
    return { code, signal: server.proc.signalCode };
  }

  const send = (url: string, method: string, path: string, body: object) => fetch(`${url}${path}`, { method, headers, body: JSON.stringify(body) });
  const iris = async (url: string) => (await fetch(`${url}/models/iris`)).json() as Promise<Body>;

  /** The variant and version each routing key gets. */
  function variants(url: string): Promise<string[]> {
    return Promise.all(KEYS.map(async (key) => {
      const res = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-routing-key': key }, body: JSON.stringify({ model_id: 'iris', features: IRIS_ROW }) });
      const body = (await res.json()) as Body;
      return `${body.variant}@${body.model_version}`;
    }));
  }

  // One test, two starts: a child start costs most of this suite's time (ts-node compiles src/ each time).
  it('SIGKILL, even in the middle of a burst of rollout changes: the promotion and sticky canary come back exactly (every key routed as before), the shadow as one of the values sent; the state file always parses', async () => {
    // Arrange: a promotion and a sticky canary, acknowledged
    const stateFile = join(dir, 'state.json');
    const first = await start(stateFile);
    expect((await send(first.url, 'POST', '/models/iris/promote', { version: 1 })).status).toBe(200);
    expect((await send(first.url, 'PUT', '/models/iris/canary', { version: 2, percentage: 30, sticky: true })).status).toBe(200);
    const before = await variants(first.url);
    const percentages = Array.from({ length: 25 }, (_, i) => i + 1);

    // Act: a burst of shadow changes; the SIGKILL comes with the first acknowledgement, while the others are applied and saved
    let firstAck!: () => void;
    const acked = new Promise<void>((resolve) => { firstAck = resolve; });
    const burst = percentages.map((percentage) => send(first.url, 'PUT', '/models/iris/shadow', { version: 2, percentage }).then((r) => { if (r.ok) firstAck(); }, () => undefined));
    await acked;
    const killed = await killHard(first);
    await Promise.all(burst);
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as Body;
    const second = await start(stateFile);
    const restored = await iris(second.url);
    const after = await variants(second.url);

    // Assert
    expect(killed).toEqual({ code: null, signal: 'SIGKILL' });
    expect(saved.models.iris).toMatchObject({ active: 1, staging: 2, previous_active: 2, canary: { version: 2, percentage: 30, sticky: true }, shadow: { version: 2 } });
    expect(percentages).toContain(saved.models.iris.shadow.percentage);
    expect(restored).toMatchObject({
      active_version: '1', staging_version: '2', previous_active_version: '2',
      canary: { version: 2, percentage: 30, sticky: true }, shadow: { version: 2, percentage: saved.models.iris.shadow.percentage },
    });
    expect(new Set(before)).toEqual(new Set(['stable@1', 'canary@2']));
    expect(after).toEqual(before);
  }, 60_000);
});
