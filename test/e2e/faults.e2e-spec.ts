import { Controller, Get } from '@nestjs/common';
import { INestApplication } from '@nestjs/common';
import { cp, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';

import { Public } from '../../src/common/decorators/access.decorator';
import { ModelRuntimeFactory } from '../../src/models/runtimes/model-runtime';
import { createApp, expectEnvelope, REPO_MODELS, SETOSA } from './support/create-app';
import { FaultyRuntimeFactory } from './support/fault-runtimes';

describe('faults: failing models, runtime errors, timeouts, bad configuration', () => {
  describe('a repository with broken models', () => {
    let app: INestApplication;
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nms-repo-'));
      await cp(join(REPO_MODELS, 'iris'), join(dir, 'iris'), { recursive: true });
      await mkdir(join(dir, 'iris', '3'));
      await writeFile(join(dir, 'iris', '3', 'model.onnx'), 'this is not an onnx file');
      await mkdir(join(dir, 'broken-json', '1'), { recursive: true });
      await writeFile(join(dir, 'broken-json', 'model.json'), '{ not json');
      await cp(join(REPO_MODELS, 'iris', '1'), join(dir, 'broken-json', '1'), { recursive: true });
      app = await createApp({ env: { MODEL_REPOSITORY: dir } });
    });
    afterAll(async () => { await app.close(); await rm(dir, { recursive: true, force: true }); });

    it('reports the bad version FAILED with its reason and keeps serving the others', async () => {
      const res = await request(app.getHttpServer()).get('/models/iris').expect(200);
      const v3 = res.body.versions.find((v: { version: string }) => v.version === '3');
      expect(v3.state).toBe('FAILED');
      expect(v3.reason).toEqual(expect.any(String));
      expect(res.body.active_version).toBe('2');
      const ok = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(200);
      expect(ok.body.prediction.class).toBe('setosa');
    });

    it('a pinned FAILED version → 503 MODEL_NOT_READY', async () => {
      const res = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', model_version: 3, features: SETOSA }).expect(503);
      expectEnvelope(res.body, 'MODEL_NOT_READY');
      expect(res.headers['retry-after']).toBeDefined();
    });

    it('a model with an unreadable model.json is FAILED with its reason → 503', async () => {
      const list = await request(app.getHttpServer()).get('/models').expect(200);
      const broken = list.body.models.find((m: { id: string }) => m.id === 'broken-json');
      expect(broken).toMatchObject({ state: 'FAILED', reason: expect.stringMatching(/model\.json/) });
      expectEnvelope((await request(app.getHttpServer()).post('/predict').send({ model_id: 'broken-json', features: SETOSA }).expect(503)).body, 'MODEL_NOT_READY');
    });
  });

  describe('a runtime that throws', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp({ customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(new FaultyRuntimeFactory('throw')) });
    });
    afterAll(async () => { await app.close(); });

    it('→ 500 INFERENCE_FAILED with a generic message, no internals, and the error counted', async () => {
      const res = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(500);
      const b = expectEnvelope(res.body, 'INFERENCE_FAILED');
      expect(JSON.stringify(b)).not.toMatch(/secret|model\.cc/);
      const model = await request(app.getHttpServer()).get('/models/iris').expect(200);
      const v2 = model.body.versions.find((v: { version: string }) => v.version === '2');
      expect(v2.health).toMatchObject({ total_requests: 1, error_count: 1, status: 'degraded' });
    });

    it('a batch puts the runtime error in each valid slot and keeps validation errors', async () => {
      const res = await request(app.getHttpServer()).post('/predict/batch?model_id=iris').send([SETOSA, { x: 1 }]).expect(200);
      expect(res.body.results[0]).toMatchObject({ status: 'error', error: { code: 'INFERENCE_FAILED' } });
      expect(res.body.results[1]).toMatchObject({ status: 'error', error: { code: 'VALIDATION_FAILED' } });
    });
  });

  describe('a runtime that stalls', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp({
        env: { TIMEOUT_SECONDS: '0.2', SHUTDOWN_TIMEOUT_SECONDS: '0.5' },
        customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(new FaultyRuntimeFactory('stall')),
      });
    });
    afterAll(async () => { await app.close(); });

    it('→ 504 INFERENCE_TIMEOUT and the server keeps answering', async () => {
      const res = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(504);
      expect(expectEnvelope(res.body, 'INFERENCE_TIMEOUT').error.message).toMatch(/TIMEOUT_SECONDS/);
      await request(app.getHttpServer()).get('/models').expect(200);
      await request(app.getHttpServer()).get('/health/live').expect(200);
      const text = (await request(app.getHttpServer()).get('/metrics')).text;
      expect(text).toMatch(/ml_prediction_errors_total\{model_id="iris",model_version="2",reason="timeout"\} 1/);
    });
  });

  describe('configuration', () => {
    const saved = { ...process.env };
    afterEach(() => { process.env = { ...saved }; });

    it('a bad configuration stops the start with one message naming every bad variable', async () => {
      const attempt = createApp({ env: { PORT: 'eighty', MAX_BATCH_SIZE: '0', ENABLE_CACHING: 'maybe' } });
      await expect(attempt).rejects.toThrow(/PORT[\s\S]*MAX_BATCH_SIZE[\s\S]*ENABLE_CACHING/);
    });
  });
});

describe('a response that cannot be serialized', () => {
  @Controller('cyclic')
  class CyclicController {
    @Public()
    @Get()
    cyclic() {
      const body: Record<string, unknown> = { ok: true };
      body.self = body;
      return body;
    }
  }

  it('→ 500 envelope from the filter (SerializationError), never a half-written body', async () => {
    const app = await createApp({ controllers: [CyclicController] });
    try {
      const res = await request(app.getHttpServer()).get('/cyclic').expect(500);
      expectEnvelope(res.body, 'INTERNAL');
      expect(JSON.stringify(res.body)).not.toMatch(/self|circular/i);
    } finally {
      await app.close();
    }
  });
});
