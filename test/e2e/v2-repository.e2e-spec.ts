import { INestApplication } from '@nestjs/common';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';

import { createApp } from './support/create-app';

const ADMIN = 'repo-admin-key';
const BUNDLED = resolve(__dirname, '../../models');
const ROW = [5.1, 3.5, 1.4, 0.2];

/** A JSON body sent with no Content-Type at all, as tritonclient's HTTP client sends it. */
function untyped(req: request.Test, body: object): request.Test {
  const text = JSON.stringify(body);
  return req.set('Content-Length', String(Buffer.byteLength(text))).unset('Content-Type').send(Buffer.from(text)) as request.Test;
}

describe('V2 repository and Triton client compatibility (real AppModule, a repository copy)', () => {
  let app: INestApplication;
  let repo: string;
  const server = () => app.getHttpServer();
  const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`);
  const state = () => JSON.parse(readFileSync(join(repo, '.state.json'), 'utf8'));

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), 'v2-repo-'));
    for (const m of ['iris', 'penguins']) cpSync(join(BUNDLED, m), join(repo, m), { recursive: true });
    app = await createApp({ env: { MODEL_REPOSITORY: repo, REGISTRY_STATE_FILE: join(repo, '.state.json'), ADMIN_API_KEYS: `ops:${ADMIN}`, ENABLE_CACHING: 'false' } });
  });
  afterAll(async () => {
    await app.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it('takes JSON without a Content-Type on /v2 (infer, load, unload), as tritonclient sends it; /predict still wants one', async () => {
    // Act
    const infer = await untyped(request(server()).post('/v2/models/iris/infer'), { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: ROW }] }).expect(200);
    const unload = await untyped(admin(request(server()).post('/v2/repository/models/penguins/unload')), { parameters: { unload_dependents: false } }).expect(200);
    const load = await untyped(admin(request(server()).post('/v2/repository/models/penguins/load')), {}).expect(200);
    const predict = await untyped(request(server()).post('/predict'), { model_id: 'iris', features: ROW }).expect(415);

    // Assert
    expect(infer.body.outputs[0].shape).toEqual([1, 3]);
    expect(unload.body).toEqual({});
    expect(load.body).toEqual({});
    expect(predict.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses load-time overrides it cannot honour with 400 {error}', async () => {
    // Act
    const res = await admin(request(server()).post('/v2/repository/models/iris/load'))
      .send({ parameters: { config: '{"max_batch_size": 8}', 'file:1/model.onnx': 'AAAA' } }).expect(400);

    // Assert
    expect(res.body).toEqual({ error: "Load overrides are not supported (parameters.config, parameters.file:1/model.onnx); the model is loaded as it is in the repository" });
  });

  it('starts a model new to the registry on its highest version (or stages.active), and persists that', async () => {
    // Arrange: iris's two versions copied under a new name while the server runs
    cpSync(join(repo, 'iris'), join(repo, 'iris-new'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(repo, 'iris-new', 'model.json'), 'utf8'));
    writeFileSync(join(repo, 'iris-new', 'model.json'), JSON.stringify({ ...manifest, name: 'iris-new' }));
    cpSync(join(repo, 'iris'), join(repo, 'iris-old'), { recursive: true });
    writeFileSync(join(repo, 'iris-old', 'model.json'), JSON.stringify({ ...manifest, name: 'iris-old', stages: { active: 1 } }));

    // Act
    await admin(request(server()).post('/v2/repository/models/iris-new/load')).expect(200);
    await admin(request(server()).post('/v2/repository/models/iris-old/load')).expect(200);
    const fresh = await request(server()).post('/v2/models/iris-new/infer').send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: ROW }] }).expect(200);
    const declared = await request(server()).post('/v2/models/iris-old/infer').send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: ROW }] }).expect(200);

    // Assert
    expect(fresh.body.model_version).toBe('2');
    expect(declared.body.model_version).toBe('1');
    expect(state().models['iris-new'].active).toBe(2);
    expect(state().models['iris-old'].active).toBe(1);
  });

  it('loads a folder dropped in with nothing but 1/model.onnx (no model.json): named by its folder, signature from the file', async () => {
    // Arrange
    mkdirSync(join(repo, 'bare', '1'), { recursive: true });
    cpSync(join(repo, 'iris', '2', 'model.onnx'), join(repo, 'bare', '1', 'model.onnx'));

    // Act
    await admin(request(server()).post('/v2/repository/models/bare/load')).expect(200);
    const metadata = await request(server()).get('/v2/models/bare').expect(200);
    const infer = await request(server()).post('/v2/models/bare/infer').send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: ROW }] }).expect(200);
    const iris = await request(server()).post('/v2/models/iris/versions/2/infer').send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: ROW }] }).expect(200);

    // Assert
    expect(metadata.body).toEqual({
      name: 'bare', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect(infer.body.outputs).toEqual(iris.body.outputs);
  });

  it('keeps the replica ready while a model is unloaded on purpose; that model answers 503 and not-ready', async () => {
    // Arrange
    const models = (await request(server()).get('/health/ready').expect(200)).body.details.models.ready as number;

    // Act
    await admin(request(server()).post('/v2/repository/models/penguins/unload')).expect(200);
    const ready = await request(server()).get('/health/ready').expect(200);
    const v2Ready = await request(server()).get('/v2/health/ready').expect(200);
    const report = await request(server()).get('/health').expect(200);
    const modelReady = await request(server()).get('/v2/models/penguins/ready').expect(400);
    const metadata = await request(server()).get('/v2/models/penguins').expect(503);
    await request(server()).post('/v2/models/penguins/infer').send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [39.1, 18.7, 181, 3750] }] }).expect(503);
    await admin(request(server()).post('/v2/repository/models/penguins/load')).expect(200);
    const after = await request(server()).get('/v2/models/penguins/ready').expect(200);

    // Assert
    expect(ready.body.status).toBe('ok');
    // The readiness count is of the models expected to serve: the unloaded one is not among them.
    expect(ready.body.details.models.ready).toBe(models - 1);
    expect(v2Ready.body).toEqual({ ready: true });
    expect(report.body.details['model:penguins']).toEqual({ status: 'up', health: 'unloaded' });
    expect(modelReady.body).toEqual({ name: 'penguins', ready: false });
    expect(metadata.body).toEqual({ error: "Model 'penguins' is unloaded" });
    expect(after.body).toEqual({ name: 'penguins', ready: true });
  });

  it('says FAILED with the reason everywhere for a model whose every version failed to load: no 200 metadata without a version to back it', async () => {
    // Arrange: a model.json that reads well and model files that are not ONNX
    cpSync(join(repo, 'iris'), join(repo, 'broken'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(repo, 'broken', 'model.json'), 'utf8'));
    writeFileSync(join(repo, 'broken', 'model.json'), JSON.stringify({ ...manifest, name: 'broken' }));
    for (const v of ['1', '2']) writeFileSync(join(repo, 'broken', v, 'model.onnx'), 'not a model');
    await admin(request(server()).post('/v2/repository/models/broken/load')).expect(400);
    const reason = 'onnxruntime could not load model.onnx (its message is in the server log)';

    // Act
    const metadata = await request(server()).get('/v2/models/broken').expect(400);
    const versionMetadata = await request(server()).get('/v2/models/broken/versions/1').expect(400);
    const ready = await request(server()).get('/v2/models/broken/ready').expect(400);
    const models = await request(server()).get('/models').expect(200);
    const index = await admin(request(server()).post('/v2/repository/index')).send({}).expect(200);
    const report = await request(server()).get('/health');

    // Assert
    expect(metadata.body).toEqual({ error: `Model 'broken' has no loaded version: version 1: ${reason}; version 2: ${reason}` });
    expect(versionMetadata.body).toEqual({ error: `Model 'broken' version 1 is FAILED: ${reason}` });
    expect(ready.body).toEqual({ name: 'broken', ready: false });
    expect(models.body.models.find((m: { id: string }) => m.id === 'broken')).toMatchObject({ state: 'FAILED', reason: `version 1: ${reason}; version 2: ${reason}` });
    expect(index.body.filter((r: { name: string }) => r.name === 'broken')).toEqual([
      { name: 'broken', version: '1', state: 'UNAVAILABLE', reason },
      { name: 'broken', version: '2', state: 'UNAVAILABLE', reason },
    ]);
    expect(report.body.details['model:broken']).toEqual({ status: 'down', message: `FAILED: version 1: ${reason}; version 2: ${reason}` });
  });

  it('answers metadata for the versions that serve and 400 naming the reason for one that failed', async () => {
    // Arrange: iris's good version 1 and a version 2 whose folder holds two candidate files
    cpSync(join(repo, 'iris'), join(repo, 'half'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(repo, 'half', 'model.json'), 'utf8'));
    writeFileSync(join(repo, 'half', 'model.json'), JSON.stringify({ ...manifest, name: 'half' }));
    rmSync(join(repo, 'half', '2', 'model.onnx'));
    for (const f of ['a.onnx', 'b.onnx']) cpSync(join(repo, 'iris', '2', 'model.onnx'), join(repo, 'half', '2', f));
    await admin(request(server()).post('/v2/repository/models/half/load')).expect(400);

    // Act
    const metadata = await request(server()).get('/v2/models/half').expect(200);
    const good = await request(server()).get('/v2/models/half/versions/1').expect(200);
    const failed = await request(server()).get('/v2/models/half/versions/2').expect(400);

    // Assert
    expect(metadata.body).toEqual({
      name: 'half', versions: ['1', '2'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect(good.body).toEqual(metadata.body);
    expect(failed.body).toEqual({ error: "Model 'half' version 2 is FAILED: several .onnx files in half/2/ and none named model.onnx (a.onnx, b.onnx): keep one, or name the one to serve model.onnx" });
  });

  it('keeps a model whose hot load failed listed as FAILED with the reason in /models, /health and the V2 index, until fixed and loaded', async () => {
    // Arrange: a new folder whose model.json names another model
    cpSync(join(repo, 'iris'), join(repo, 'misnamed'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(repo, 'misnamed', 'model.json'), 'utf8'));
    writeFileSync(join(repo, 'misnamed', 'model.json'), JSON.stringify({ ...manifest, name: 'not-misnamed' }));

    // Act
    const failed = await admin(request(server()).post('/v2/repository/models/misnamed/load')).expect(400);
    const models = await request(server()).get('/models').expect(200);
    const report = await request(server()).get('/health');
    const index = await admin(request(server()).post('/v2/repository/index')).send({}).expect(200);
    writeFileSync(join(repo, 'misnamed', 'model.json'), JSON.stringify({ ...manifest, name: 'misnamed' }));
    await admin(request(server()).post('/v2/repository/models/misnamed/load')).expect(200);
    const fixed = await request(server()).get('/models').expect(200);

    // Assert
    expect(failed.body.error).toMatch(/not-misnamed/);
    const listed = models.body.models.find((m: { id: string }) => m.id === 'misnamed');
    expect(listed).toMatchObject({ state: 'FAILED', reason: expect.stringMatching(/not-misnamed/) });
    expect(report.body.details['model:misnamed']).toMatchObject({ status: 'down', message: expect.stringMatching(/^FAILED: .*not-misnamed/) });
    expect(index.body).toContainEqual({ name: 'misnamed', version: '', state: 'UNAVAILABLE', reason: expect.stringMatching(/not-misnamed/) });
    expect(fixed.body.models.find((m: { id: string }) => m.id === 'misnamed')).toMatchObject({ state: 'READY', reason: null });
  });

  it('routes binary requests as Express routes /v2: case-insensitive, trailing slash; empty outputs means all', async () => {
    // Arrange
    const row = Float32Array.from(ROW);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }], outputs: [] }));
    const body = Buffer.concat([header, Buffer.from(row.buffer)]);

    // Act
    const res = await request(server()).post('/V2/models/iris/infer/').set('Inference-Header-Content-Length', String(header.length))
      .set('Content-Type', 'application/octet-stream').send(body).expect(200);

    // Assert
    expect(res.body.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities']);
  });
});

describe('V2 repository index: the registry view, throttled like predictions', () => {
  let app: INestApplication;
  let repo: string;

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), 'v2-index-'));
    cpSync(join(BUNDLED, 'iris'), join(repo, 'iris'), { recursive: true });
    // A model that cannot be read at all (no versions, model.json broken).
    cpSync(join(BUNDLED, 'iris', '1'), join(repo, 'broken', '1'), { recursive: true });
    writeFileSync(join(repo, 'broken', 'model.json'), '{ not json');
    app = await createApp({ env: { MODEL_REPOSITORY: repo, REQUESTS_PER_MINUTE: '3', REQUESTS_PER_HOUR: '0' } });
  });
  afterAll(async () => {
    await app.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it('lists what the registry knows (a new folder on disk is not scanned per call), failed models with their reason, and answers 429 past the client limit', async () => {
    // Arrange: a folder added after boot is not in the registry until it is loaded
    cpSync(join(BUNDLED, 'penguins'), join(repo, 'penguins'), { recursive: true });

    // Act
    const first = await request(app.getHttpServer()).post('/v2/repository/index').expect(200);
    await request(app.getHttpServer()).post('/v2/repository/index').send({ ready: true }).expect(200);
    await request(app.getHttpServer()).post('/v2/repository/index').expect(200);
    const limited = await request(app.getHttpServer()).post('/v2/repository/index').expect(429);

    // Assert
    const names = (first.body as { name: string }[]).map((r) => r.name);
    expect(names).toContain('iris');
    expect(names).not.toContain('penguins');
    const broken = (first.body as { name: string; version: string; state: string; reason: string }[]).filter((r) => r.name === 'broken');
    expect(broken.length).toBeGreaterThan(0);
    for (const row of broken) {
      expect(row.state).toBe('UNAVAILABLE');
      expect(row.reason).toMatch(/model\.json/);
    }
    expect(limited.body).toEqual({ error: expect.stringMatching(/Rate limit exceeded: 3 requests per minute \(REQUESTS_PER_MINUTE\)/) });
    expect(limited.headers['retry-after']).toEqual(expect.any(String));
  });
});
