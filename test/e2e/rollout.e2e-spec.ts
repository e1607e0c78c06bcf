import { INestApplication } from '@nestjs/common';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';

import { ModelRuntimeFactory } from '../../src/models/runtimes/model-runtime';
import { createApp, expectEnvelope, REPO_MODELS, SETOSA } from './support/create-app';
import { sample } from './support/metrics-text';
import { PathFaultRuntimeFactory } from './support/path-fault-runtime';

const ADMIN = 'admin-secret';
const BASE_ENV = { ADMIN_API_KEYS: `ops:${ADMIN}`, REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };
const irisRow = (i: number) => ({ ...SETOSA, sepal_length: 4.5 + (i % 30) / 10, petal_length: 1 + (i % 50) / 10 });

/** The shadow stats once `done` holds (shadow runs finish after the answers): polled, at most 500 times, never a fixed sleep. */
async function shadowStatsOnce(server: Parameters<typeof request>[0], done: (stats: { requests: number }) => boolean): Promise<{ requests: number; [key: string]: unknown }> {
  let stats = (await request(server).get('/models/iris/shadow').expect(200)).body as { requests: number };
  for (let i = 0; i < 500 && !done(stats); i += 1) {
    await new Promise((r) => setImmediate(r));
    stats = (await request(server).get('/models/iris/shadow').expect(200)).body as { requests: number };
  }
  return stats;
}

describe('rollouts', () => {
  describe('admin access', () => {
    it('admin routes answer 403 naming ADMIN_API_KEYS when none is configured', async () => {
      const app = await createApp({ env: { ADMIN_API_KEYS: '' } });
      try {
        const res = await request(app.getHttpServer()).post('/models/iris/promote').send({ version: 1 }).expect(403);
        expect(expectEnvelope(res.body, 'FORBIDDEN').error.message).toMatch(/ADMIN_API_KEYS/);
      } finally {
        await app.close();
      }
    });

    it('need the admin key: none → 401, a client key → 403', async () => {
      const app = await createApp({ env: { ...BASE_ENV, API_KEYS: 'svc:client-key' } });
      try {
        expectEnvelope((await request(app.getHttpServer()).post('/models/iris/rollback').expect(401)).body, 'UNAUTHORIZED');
        expectEnvelope((await request(app.getHttpServer()).put('/models/iris/canary').set('X-API-Key', 'client-key').send({ version: 1, percentage: 5 }).expect(403)).body, 'FORBIDDEN');
        expectEnvelope((await request(app.getHttpServer()).put('/models/iris/canary').set('X-API-Key', 'wrong').send({ version: 1, percentage: 5 }).expect(401)).body, 'UNAUTHORIZED');
        await request(app.getHttpServer()).get('/models/iris/canary').set('X-API-Key', 'client-key').expect(200);
      } finally {
        await app.close();
      }
    });
  });

  describe('blue-green', () => {
    let app: INestApplication;
    beforeAll(async () => { app = await createApp({ env: BASE_ENV }); });
    afterAll(async () => { await app.close(); });
    const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`);

    it('promote while 4 clients fire predictions: zero failures, old version before the switch, new after', async () => {
      const server = app.getHttpServer();
      const log: { client: number; sentAt: number; doneAt: number; version: string; status: number }[] = [];
      let stop = false;
      const client = async (id: number) => {
        for (let i = 0; !stop; i += 1) {
          const sentAt = performance.now();
          const res = await request(server).post('/predict').send({ model_id: 'iris', features: irisRow(i) });
          log.push({ client: id, sentAt, doneAt: performance.now(), version: res.body.model_version, status: res.status });
        }
      };
      const clients = [0, 1, 2, 3].map(client);
      while (log.length < 40) await new Promise((r) => setTimeout(r, 5));
      const promoteSent = performance.now();
      const promoted = await admin(request(server).post('/models/iris/promote')).send({ version: 1 }).expect(200);
      const promoteDone = performance.now();
      const after = log.length;
      while (log.length < after + 40) await new Promise((r) => setTimeout(r, 5));
      stop = true;
      await Promise.all(clients);

      expect(promoted.body).toMatchObject({ active_version: '1', staging_version: '2', previous_active_version: '2' });
      expect(log.filter((l) => l.status !== 200)).toEqual([]);
      expect(log.filter((l) => l.doneAt < promoteSent).every((l) => l.version === '2')).toBe(true);
      expect(log.filter((l) => l.sentAt > promoteDone).every((l) => l.version === '1')).toBe(true);
      expect(log.filter((l) => l.doneAt < promoteSent).length).toBeGreaterThan(0);
      expect(log.filter((l) => l.sentAt > promoteDone).length).toBeGreaterThan(0);
      for (const id of [0, 1, 2, 3]) {
        const versions = log.filter((l) => l.client === id).map((l) => l.version).join('');
        expect(versions).toMatch(/^2*1*$/);
      }
    });

    it('rollback returns to the previous active; the stages follow', async () => {
      const res = await admin(request(app.getHttpServer()).post('/models/iris/rollback')).expect(200);
      expect(res.body).toMatchObject({ active_version: '2', staging_version: '1', previous_active_version: '1' });
      const predicted = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(200);
      expect(predicted.body).toMatchObject({ model_version: '2', variant: 'stable' });
      const model = await request(app.getHttpServer()).get('/models/iris').expect(200);
      expect(model.body).toMatchObject({ active_version: '2', staging_version: '1' });
      const text = (await request(app.getHttpServer()).get('/metrics')).text;
      expect(sample(text, 'ml_rollout_events_total', { model_id: 'iris', action: 'promote' })).toBe(1);
      expect(sample(text, 'ml_rollout_events_total', { model_id: 'iris', action: 'rollback' })).toBe(1);
    });

    it('refuses what is not safe: promote the active or an unknown version, rollback past history, unload the active', async () => {
      const server = app.getHttpServer();
      expectEnvelope((await admin(request(server).post('/models/iris/promote')).send({ version: 2 }).expect(409)).body, 'CONFLICT');
      expectEnvelope((await admin(request(server).post('/models/iris/promote')).send({ version: 7 }).expect(404)).body, 'VERSION_NOT_FOUND');
      expectEnvelope((await admin(request(server).post('/models/iris/promote')).send({ version: 'x' }).expect(422)).body, 'VALIDATION_FAILED');
      expectEnvelope((await admin(request(server).post('/models/penguins/rollback')).expect(409)).body, 'CONFLICT');
      expectEnvelope((await admin(request(server).post('/models/iris/versions/2/unload')).expect(409)).body, 'CONFLICT');
      expectEnvelope((await admin(request(server).post('/models/ghost/rollback')).expect(404)).body, 'MODEL_NOT_FOUND');
    });

    it('unload and load a version: UNLOADED answers 503 when pinned; load brings it back READY', async () => {
      const server = app.getHttpServer();
      const unloaded = await admin(request(server).post('/models/iris/versions/1/unload')).expect(200);
      expect(unloaded.body).toMatchObject({ version: '1', state: 'UNLOADED' });
      expectEnvelope((await request(server).post('/predict').send({ model_id: 'iris', model_version: 1, features: SETOSA }).expect(503)).body, 'MODEL_NOT_READY');
      await request(server).get('/health/ready').expect(200);
      expectEnvelope((await admin(request(server).post('/models/iris/promote')).send({ version: 1 }).expect(409)).body, 'CONFLICT');
      expectEnvelope((await admin(request(server).put('/models/iris/canary')).send({ version: 1, percentage: 5 }).expect(409)).body, 'CONFLICT');
      const loaded = await admin(request(server).post('/models/iris/versions/1/load')).expect(200);
      expect(loaded.body).toMatchObject({ version: '1', state: 'READY' });
      await request(server).post('/predict').send({ model_id: 'iris', model_version: 1, features: SETOSA }).expect(200);
      expectEnvelope((await admin(request(server).post('/models/iris/versions/9/load')).expect(404)).body, 'VERSION_NOT_FOUND');
    });
  });

  describe('hot load from the repository', () => {
    let app: INestApplication;
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nms-hot-'));
      await cp(join(REPO_MODELS, 'iris'), join(dir, 'iris'), { recursive: true });
      await cp(join(REPO_MODELS, 'iris'), join(dir, 'fixme'), { recursive: true });
      await writeFile(join(dir, 'fixme', 'model.json'), '{ "name": "fixme", ');
      app = await createApp({ env: { ...BASE_ENV, MODEL_REPOSITORY: dir, ENABLE_CACHING: 'true' } });
    });
    afterAll(async () => { await app.close(); await rm(dir, { recursive: true, force: true }); });
    const admin = (r: request.Test) => r.set('X-API-Key', ADMIN);

    it('a version dropped into the repository is served without a restart, and can be promoted', async () => {
      await cp(join(dir, 'iris', '1'), join(dir, 'iris', '3'), { recursive: true });
      const res = await admin(request(app.getHttpServer()).post('/models/iris/versions/3/load')).expect(200);
      expect(res.body).toMatchObject({ version: '3', state: 'READY' });
      await admin(request(app.getHttpServer()).post('/models/iris/promote')).send({ version: 3 }).expect(200);
      const predicted = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(200);
      expect(predicted.body).toMatchObject({ model_version: '3', prediction: { class: 'setosa' } });
    });

    it('reloading a version with a new file drops its cached answers', async () => {
      const server = app.getHttpServer();
      const body = { model_id: 'iris', model_version: 2, features: SETOSA };
      const first = await request(server).post('/predict').send(body).expect(200);
      expect((await request(server).post('/predict').send(body).expect(200)).body.cached).toBe(true);
      await cp(join(dir, 'iris', '1', 'model.onnx'), join(dir, 'iris', '2', 'model.onnx'));
      await admin(request(server).post('/models/iris/versions/2/load')).expect(200);
      const after = await request(server).post('/predict').send(body).expect(200);
      const v1 = await request(server).post('/predict').send({ ...body, model_version: 1 }).expect(200);
      expect(after.body.cached).toBe(false);
      expect(after.body.prediction).toEqual(v1.body.prediction);
      expect(after.body.prediction).not.toEqual(first.body.prediction);
    });

    it('a model whose model.json was broken at boot serves once fixed and loaded', async () => {
      const server = app.getHttpServer();
      expectEnvelope((await request(server).post('/predict').send({ model_id: 'fixme', features: SETOSA }).expect(503)).body, 'MODEL_NOT_READY');
      expectEnvelope((await admin(request(server).post('/models/fixme/versions/1/load')).expect(422)).body, 'MODEL_LOAD_FAILED');
      const manifest = JSON.parse(await readFile(join(dir, 'iris', 'model.json'), 'utf8'));
      await writeFile(join(dir, 'fixme', 'model.json'), JSON.stringify({ ...manifest, name: 'fixme' }));
      await admin(request(server).post('/models/fixme/versions/1/load')).expect(200);
      const res = await request(server).post('/predict').send({ model_id: 'fixme', features: SETOSA }).expect(200);
      expect(res.body).toMatchObject({ model_version: '1', prediction: { class: 'setosa' } });
      const model = await request(server).get('/models/fixme').expect(200);
      expect(model.body.versions.find((v: { version: string }) => v.version === '2')).toMatchObject({ state: 'UNLOADED' });
    });

    it('a version that fails to load answers 422 with its reason and disturbs nothing', async () => {
      await mkdir(join(dir, 'iris', '4'));
      await writeFile(join(dir, 'iris', '4', 'model.onnx'), 'not a model');
      const res = await admin(request(app.getHttpServer()).post('/models/iris/versions/4/load')).expect(422);
      expect(expectEnvelope(res.body, 'MODEL_LOAD_FAILED').error.message).toMatch(/version 4|Version 4/);
      await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(200);
      const model = await request(app.getHttpServer()).get('/models/iris').expect(200);
      expect(model.body.versions.find((v: { version: string }) => v.version === '4')).toMatchObject({ state: 'FAILED' });
      await request(app.getHttpServer()).get('/health/ready').expect(200);
    });
  });

  describe('canary', () => {
    let app: INestApplication;
    beforeAll(async () => { app = await createApp({ env: BASE_ENV }); });
    afterAll(async () => { await app.close(); });
    const admin = (r: request.Test) => r.set('X-API-Key', ADMIN);

    it('at 10% sends about 10% of unpinned requests to the canary, with the seed\'s stats', async () => {
      const server = app.getHttpServer();
      // Sticky routing keys make the draw a hash of the key: the same share on every run (the
      // random draw behind unkeyed requests is checked with an injected source in routing-policy.spec).
      await admin(request(server).put('/models/iris/canary')).send({ version: 1, percentage: 10, sticky: true }).expect(200);
      const variants: string[] = [];
      for (let i = 0; i < 600; i += 1) {
        const res = await request(server).post('/predict').set('X-Routing-Key', `user-${i}`).send({ model_id: 'iris', features: irisRow(i) }).expect(200);
        variants.push(res.body.variant);
        expect(res.body.model_version).toBe(res.body.variant === 'canary' ? '1' : '2');
      }
      const share = variants.filter((v) => v === 'canary').length / variants.length;
      expect(share).toBeGreaterThan(0.06);
      expect(share).toBeLessThan(0.14);
      const stats = (await request(server).get('/models/iris/canary').expect(200)).body;
      expect(stats).toMatchObject({ canary_percentage_target: 10, total_requests: 600 });
      expect(stats.canary_requests + stats.stable_requests).toBe(600);
      expect(stats.canary_percentage_actual).toBeCloseTo(share * 100, 1);
      expect(stats.variants.canary).toMatchObject({ errors: 0, error_rate: 0 });
      expect(stats.variants.stable.p95_latency_ms).toEqual(expect.any(Number));
      const pinned = await request(server).post('/predict').send({ model_id: 'iris', model_version: 2, features: SETOSA }).expect(200);
      expect(pinned.body.variant).toBe('pinned');
    });

    it('sticky: the same routing key always gets the same variant', async () => {
      const server = app.getHttpServer();
      await admin(request(server).put('/models/iris/canary')).send({ version: 1, percentage: 50, sticky: true }).expect(200);
      const seen = new Map<string, Set<string>>();
      for (let user = 0; user < 20; user += 1) {
        for (let i = 0; i < 4; i += 1) {
          const res = await request(server).post('/predict').set('X-Routing-Key', `user-${user}`).send({ model_id: 'iris', features: irisRow(i) }).expect(200);
          seen.set(`user-${user}`, (seen.get(`user-${user}`) ?? new Set()).add(res.body.variant));
        }
      }
      expect([...seen.values()].every((s) => s.size === 1)).toBe(true);
      const variants = new Set([...seen.values()].map((s) => [...s][0]));
      expect(variants).toEqual(new Set(['stable', 'canary']));
      const ended = await admin(request(server).delete('/models/iris/canary')).expect(200);
      expect(ended.body.canary).toMatchObject({ version: 1, sticky: true });
      expectEnvelope((await admin(request(server).delete('/models/iris/canary')).expect(404)).body, 'NOT_FOUND');
    });

    it('refuses a canary on the active version or an unready one, and bad bodies', async () => {
      const server = app.getHttpServer();
      expectEnvelope((await admin(request(server).put('/models/iris/canary')).send({ version: 2, percentage: 10 }).expect(409)).body, 'CONFLICT');
      const bad = await admin(request(server).put('/models/iris/canary')).send({ version: 1, percentage: 150, auto_abort: { max_error_rate: 2 } }).expect(422);
      const fields = expectEnvelope(bad.body, 'VALIDATION_FAILED').error.details.map((d) => (d as { field: string }).field);
      expect(fields).toEqual(expect.arrayContaining(['percentage', 'auto_abort.max_error_rate', 'auto_abort.min_requests']));
    });
  });

  it('auto-abort ends a canary whose version fails, by itself; stable keeps answering', async () => {
    const app = await createApp({
      env: BASE_ENV,
      customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(new PathFaultRuntimeFactory('/iris/1/', { kind: 'throw' })),
    });
    try {
      const server = app.getHttpServer();
      await request(server).put('/models/iris/canary').set('X-API-Key', ADMIN)
        .send({ version: 1, percentage: 50, auto_abort: { max_error_rate: 0.2, min_requests: 5 } }).expect(200);
      const statuses: number[] = [];
      for (let i = 0; i < 80; i += 1) statuses.push((await request(server).post('/predict').send({ model_id: 'iris', features: irisRow(i) })).status);
      await new Promise((r) => setImmediate(r));

      const failures = statuses.filter((s) => s === 500).length;
      expect(failures).toBeGreaterThanOrEqual(5);
      expect(failures).toBeLessThan(20);
      const lastFailure = statuses.lastIndexOf(500);
      expect(statuses.slice(lastFailure + 1).every((s) => s === 200)).toBe(true);
      const stats = (await request(server).get('/models/iris/canary').expect(200)).body;
      expect(stats.canary).toBeNull();
      const text = (await request(server).get('/metrics')).text;
      expect(sample(text, 'ml_rollout_events_total', { model_id: 'iris', action: 'canary_abort' })).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('bad input from callers never aborts a healthy canary', async () => {
    const app = await createApp({ env: BASE_ENV });
    try {
      const server = app.getHttpServer();
      await request(server).put('/models/iris/canary').set('X-API-Key', ADMIN)
        .send({ version: 1, percentage: 50, auto_abort: { max_error_rate: 0.1, min_requests: 5 } }).expect(200);
      for (let i = 0; i < 40; i += 1) await request(server).post('/predict').send({ model_id: 'iris', features: [1, 2] }).expect(422);
      for (let i = 0; i < 10; i += 1) await request(server).post('/predict').send({ model_id: 'iris', features: irisRow(i) }).expect(200);
      const stats = (await request(server).get('/models/iris/canary').expect(200)).body;
      expect(stats.canary).toMatchObject({ version: 1 });
      expect(stats.variants.canary.errors).toBe(0);
    } finally {
      await app.close();
    }
  });

  describe('shadow', () => {
    it('mirrors requests after the answer: the caller\'s answer is unchanged and never waits for the shadow', async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      const app = await createApp({
        env: BASE_ENV,
        customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(new PathFaultRuntimeFactory('/iris/1/', { kind: 'gate', gate })),
      });
      try {
        const server = app.getHttpServer();
        const before = await Promise.all([0, 1, 2, 3, 4].map((i) => request(server).post('/predict').send({ model_id: 'iris', features: irisRow(i) })));
        await request(server).put('/models/iris/shadow').set('X-API-Key', ADMIN).send({ version: 1, percentage: 100 }).expect(200);
        const during = await Promise.all([0, 1, 2, 3, 4].map((i) => request(server).post('/predict').send({ model_id: 'iris', features: irisRow(i) })));
        // The shadow version's runs wait on a gate the test holds: the callers already have their answers, and no shadow run has finished.
        const atAnswer = (await request(server).get('/models/iris/shadow').expect(200)).body;

        expect(during.map((r) => r.body.prediction)).toEqual(before.map((r) => r.body.prediction));
        expect(during.every((r) => r.body.model_version === '2' && r.body.variant === 'stable')).toBe(true);
        expect(atAnswer.requests).toBe(0);
        release();
        const stats = await shadowStatsOnce(server, (s) => s.requests === 5);
        expect(stats).toMatchObject({ requests: 5, errors: 0, shadow: { version: 1, percentage: 100 } });
        expect(stats.agreement_rate).toEqual(expect.any(Number));
        const text = (await request(server).get('/metrics')).text;
        const agreed = sample(text, 'ml_shadow_agreement_total', { model_id: 'iris', agree: 'true' }) + sample(text, 'ml_shadow_agreement_total', { model_id: 'iris', agree: 'false' });
        expect(agreed).toBe(5);
      } finally {
        await app.close();
      }
    });

    it('a failing shadow never fails the caller', async () => {
      const app = await createApp({
        env: BASE_ENV,
        customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(new PathFaultRuntimeFactory('/iris/1/', { kind: 'throw' })),
      });
      try {
        const server = app.getHttpServer();
        await request(server).put('/models/iris/shadow').set('X-API-Key', ADMIN).send({ version: 1, percentage: 100 }).expect(200);
        for (let i = 0; i < 5; i += 1) await request(server).post('/predict').send({ model_id: 'iris', features: irisRow(i) }).expect(200);
        const stats = await shadowStatsOnce(server, (s) => s.requests === 5);
        expect(stats).toMatchObject({ requests: 5, errors: 5 });
        expectEnvelope((await request(server).post('/models/iris/versions/1/unload').set('X-API-Key', ADMIN).expect(409)).body, 'CONFLICT');
        await request(server).delete('/models/iris/shadow').set('X-API-Key', ADMIN).expect(200);
        await request(server).post('/models/iris/versions/1/unload').set('X-API-Key', ADMIN).expect(200);
      } finally {
        await app.close();
      }
    });
  });
});
