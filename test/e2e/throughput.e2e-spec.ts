import { INestApplication } from '@nestjs/common';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';

import { createApp, REPO_MODELS, SETOSA, VIRGINICA } from './support/create-app';
import { sample } from './support/metrics-text';

const irisRow = (i: number) => ({
  sepal_length: 4.5 + (i % 30) / 10, sepal_width: 2 + (i % 17) / 10, petal_length: 1 + (i % 50) / 10, petal_width: 0.1 + (i % 24) / 10,
});

describe('throughput: dynamic batching and the prediction cache', () => {
  describe('dynamic batching', () => {
    let app: INestApplication;
    let dir: string;
    // The bundled iris never waits for company (max_queue_delay_ms 0: under real load batches form
    // while one runs). In-process supertest traffic is too sparse for that, so this copy waits 5 ms,
    // as a Triton-style queue delay would.
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nms-batching-'));
      await cp(join(REPO_MODELS, 'iris'), join(dir, 'iris'), { recursive: true });
      const manifest = JSON.parse(await readFile(join(dir, 'iris', 'model.json'), 'utf8'));
      await writeFile(join(dir, 'iris', 'model.json'), JSON.stringify({ ...manifest, dynamic_batching: { max_batch_size: 32, max_queue_delay_ms: 5 } }));
      app = await createApp({ env: { ENABLE_CACHING: 'false', REQUESTS_PER_MINUTE: '0', MODEL_REPOSITORY: dir } });
    });
    afterAll(async () => { await app.close(); await rm(dir, { recursive: true, force: true }); });

    it('64 concurrent predictions give the same answers as 64 sequential ones, merged into batches > 1', async () => {
      const server = app.getHttpServer();
      const bodies = Array.from({ length: 64 }, (_, i) => ({ model_id: 'iris', features: irisRow(i) }));
      const sequential = [];
      for (const body of bodies) sequential.push((await request(server).post('/predict').send(body).expect(200)).body.prediction);
      const before = (await request(server).get('/metrics')).text;

      const concurrent = await Promise.all(bodies.map((body) => request(server).post('/predict').send(body).expect(200)));

      expect(concurrent.map((r) => r.body.prediction)).toEqual(sequential);
      const after = (await request(server).get('/metrics')).text;
      const labels = { model_id: 'iris', model_version: '2' };
      const delta = (name: string, extra: Record<string, string> = {}) => sample(after, name, { ...labels, ...extra }) - sample(before, name, { ...labels, ...extra });
      const batches = delta('ml_batch_size_count');
      const requests = delta('ml_batch_size_sum');
      expect(requests).toBe(64);
      expect(batches).toBeLessThan(64);
      expect(delta('ml_batch_size_bucket', { le: '1' })).toBeLessThan(batches);
      expect(delta('ml_queue_wait_seconds_count')).toBe(64);
      expect(sample(after, 'ml_queue_depth', labels)).toBe(0);
    });

    it('a /predict/batch call is one request of many rows to the batcher', async () => {
      const server = app.getHttpServer();
      const before = (await request(server).get('/metrics')).text;
      await request(server).post('/predict/batch?model_id=iris').send(Array.from({ length: 10 }, (_, i) => irisRow(i))).expect(200);
      const after = (await request(server).get('/metrics')).text;
      const labels = { model_id: 'iris', model_version: '2' };
      expect(sample(after, 'ml_batch_size_count', labels) - sample(before, 'ml_batch_size_count', labels)).toBe(1);
    });
  });

  describe('prediction cache', () => {
    let app: INestApplication;
    beforeAll(async () => { app = await createApp({ env: { ENABLE_CACHING: 'true', CACHE_SIZE: '100' } }); });
    afterAll(async () => { await app.close(); });

    it('cached is true only when this response came from the cache; hit/miss counters exact', async () => {
      const server = app.getHttpServer();
      const predict = (body: object) => request(server).post('/predict').send(body).expect(200);
      const before = (await request(server).get('/metrics')).text;

      const first = await predict({ model_id: 'penguins', features: [39.1, 18.7, 181, 3750] });
      const second = await predict({ model_id: 'penguins', features: [39.1, 18.7, 181, 3750] });
      const other = await predict({ model_id: 'penguins', features: [46.1, 13.2, 211, 4500] });
      const bypass = await predict({ model_id: 'penguins', features: [39.1, 18.7, 181, 3750], options: { cache: false } });

      expect([first.body.cached, second.body.cached, other.body.cached, bypass.body.cached]).toEqual([false, true, false, false]);
      expect(second.body.prediction).toEqual(first.body.prediction);
      expect(second.body.request_id).not.toBe(first.body.request_id);
      const after = (await request(server).get('/metrics')).text;
      const delta = (name: string) => sample(after, name, { model_id: 'penguins' }) - sample(before, name, { model_id: 'penguins' });
      expect(delta('ml_cache_hits_total')).toBe(1);
      expect(delta('ml_cache_misses_total')).toBe(2);
      const model = await request(server).get('/models/penguins').expect(200);
      expect(model.body.cache).toEqual({ enabled: true, hits: 1, misses: 2, hit_rate: 0.3333, size: 2 });
    });

    it('keys by canonical features: key order does not matter', async () => {
      const server = app.getHttpServer();
      const a = await request(server).post('/predict').send({ model_id: 'iris', features: { ...VIRGINICA } }).expect(200);
      const reordered = Object.fromEntries(Object.entries(VIRGINICA).reverse());
      const b = await request(server).post('/predict').send({ model_id: 'iris', features: reordered }).expect(200);
      expect([a.body.cached, b.body.cached]).toEqual([false, true]);
    });

    it('one entry for every transport: the row /predict answered is a cache hit for /v2 infer, and the reverse', async () => {
      const server = app.getHttpServer();
      const v2 = (row: number[]) => request(server).post('/v2/models/iris/infer')
        .send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row }] }).expect(200);
      const metrics = async () => (await request(server).get('/metrics')).text;
      const counts = (text: string) => [sample(text, 'ml_cache_misses_total', { model_id: 'iris' }), sample(text, 'ml_cache_hits_total', { model_id: 'iris' })];
      const before = counts(await metrics());

      const predicted = await request(server).post('/predict').send({ model_id: 'iris', features: { sepal_length: 6.1, sepal_width: 2.8, petal_length: 4.7, petal_width: 1.2 } }).expect(200);
      const inferred = await v2([6.1, 2.8, 4.7, 1.2]);
      const afterFirst = counts(await metrics());
      const v2First = await v2([6.4, 3.2, 4.5, 1.5]);
      const predictedSecond = await request(server).post('/predict').send({ model_id: 'iris', features: [6.4, 3.2, 4.5, 1.5] }).expect(200);
      const afterSecond = counts(await metrics());

      expect(predicted.body.cached).toBe(false);
      expect([afterFirst[0] - before[0], afterFirst[1] - before[1]]).toEqual([1, 1]);
      expect(inferred.body.model_version).toBe('2');
      expect(inferred.body.outputs[0].data).toEqual(Object.values(predicted.body.prediction.probabilities));
      expect(predictedSecond.body.cached).toBe(true);
      expect([afterSecond[0] - afterFirst[0], afterSecond[1] - afterFirst[1]]).toEqual([1, 1]);
      expect(Object.values(predictedSecond.body.prediction.probabilities)).toEqual(v2First.body.outputs[0].data);
    });

    it('a pinned version never returns another version\'s cached answer', async () => {
      const server = app.getHttpServer();
      const active = await request(server).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(200);
      const pinned = await request(server).post('/predict').send({ model_id: 'iris', model_version: 1, features: SETOSA }).expect(200);
      const pinnedAgain = await request(server).post('/predict').send({ model_id: 'iris', model_version: 1, features: SETOSA }).expect(200);
      expect(active.body.model_version).toBe('2');
      expect(pinned.body).toMatchObject({ model_version: '1', cached: false });
      expect(pinnedAgain.body).toMatchObject({ model_version: '1', cached: true });
      expect(pinned.body.prediction.probabilities).not.toEqual(active.body.prediction.probabilities);
      expect(pinnedAgain.body.prediction).toEqual(pinned.body.prediction);
    });
  });
});
