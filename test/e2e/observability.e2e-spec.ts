import { INestApplication } from '@nestjs/common';
import request from 'supertest';

import { LOG_DESTINATION } from '../../src/logging/log-destination';
import { MetricsServer } from '../../src/metrics/metrics-server';
import { ModelRegistryService } from '../../src/models/registry/model-registry.service';
import { ModelRuntimeFactory } from '../../src/models/runtimes/model-runtime';
import { gatedRuntimes } from './support/gated-runtime';
import { createApp, SETOSA } from './support/create-app';
import { logCapture } from './support/log-capture';
import { PathFaultRuntimeFactory } from './support/path-fault-runtime';
import { sample } from './support/metrics-text';

const IRIS2 = { model_id: 'iris', model_version: '2' };

describe('observability: metrics, health, logs', () => {
  describe('metrics', () => {
    let app: INestApplication;
    beforeAll(async () => { app = await createApp({ env: { ENABLE_CACHING: 'false' } }); });
    afterAll(async () => { await app.close(); });
    const scrape = async () => (await request(app.getHttpServer()).get('/metrics').expect(200).expect('content-type', /text\/plain/)).text;

    it('after exactly N predictions (k invalid) counters move by exactly N and k with the right labels', async () => {
      const before = await scrape();
      const N = 7;
      const k = 2;
      for (let i = 0; i < N - k; i += 1) await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: { ...SETOSA, sepal_length: 5 + i / 10 } }).expect(200);
      for (let i = 0; i < k; i += 1) await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: { sepal_length: 'x' } }).expect(422);
      const after = await scrape();
      const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);

      expect(delta('ml_prediction_requests_total', { ...IRIS2, status: 'success' })).toBe(N - k);
      expect(delta('ml_prediction_requests_total', { ...IRIS2, status: 'error' })).toBe(k);
      expect(delta('ml_prediction_errors_total', { ...IRIS2, reason: 'validation' })).toBe(k);
      expect(delta('ml_prediction_latency_seconds_count', IRIS2)).toBe(N);
      expect(delta('http_requests_total', { method: 'POST', route: '/predict', status_code: '200' })).toBe(N - k);
      expect(delta('http_requests_total', { method: 'POST', route: '/predict', status_code: '422' })).toBe(k);
    });

    it('labels routes by template, never the raw path', async () => {
      await request(app.getHttpServer()).get('/models/iris').expect(200);
      await request(app.getHttpServer()).get('/models/penguins').expect(200);
      await request(app.getHttpServer()).get('/no/such/path/12345').expect(404);
      const text = await scrape();
      expect(sample(text, 'http_requests_total', { method: 'GET', route: '/models/:id', status_code: '200' })).toBe(2);
      expect(sample(text, 'http_requests_total', { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
      // The raw paths in no label value (a bare 12345 can be a gauge's digits: heap bytes 123457536 was seen).
      expect(text).not.toMatch(/="[^"]*(\/models\/iris|\/no\/such\/path|12345)[^"]*"/);
    });

    it('reports model gauges, default process metrics and X-Response-Time', async () => {
      const res = await request(app.getHttpServer()).get('/models').expect(200);
      expect(res.headers['x-response-time']).toMatch(/^\d+\.\d{3}ms$/);
      const text = await scrape();
      expect(sample(text, 'ml_active_models')).toBe(4);
      expect(sample(text, 'ml_model_info', { model_id: 'iris', model_version: '1', state: 'READY' })).toBe(1);
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
      expect(text).toMatch(/^# TYPE ml_prediction_latency_seconds histogram/m);
    });

    it('serves the same registry on a separate METRICS_PORT server', async () => {
      const server = app.get(MetricsServer);
      const port = await server.start(0, '127.0.0.1');
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/^ml_active_models 4$/m);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
      await server.onApplicationShutdown();
    });
  });

  it('ENABLE_METRICS=false removes /metrics', async () => {
    const app = await createApp({ env: { ENABLE_METRICS: 'false' } });
    try {
      await request(app.getHttpServer()).get('/metrics').expect(404);
    } finally {
      await app.close();
    }
  });

  describe('health', () => {
    let app: INestApplication;
    // Penguins' runs fail only while the fault is armed: server-side failures on demand.
    const faults = new PathFaultRuntimeFactory('/penguins/', { kind: 'throw' });
    beforeAll(async () => {
      faults.armed = false;
      app = await createApp({ env: { MAX_MEMORY_MB: '8192', ENABLE_CACHING: 'false' }, customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(faults) });
    });
    afterAll(async () => { await app.close(); });

    it("/health reports each model; callers' 422s leave it healthy, our failures at ≥ 10% make it degraded, while /health/live stays 200", async () => {
      const healthy = await request(app.getHttpServer()).get('/health').expect(200);
      expect(healthy.body.details['model:penguins']).toMatchObject({ status: 'up', health: 'healthy' });
      expect(healthy.body.details.memory).toMatchObject({ status: 'up', max_memory_mb: 8192 });
      expect(healthy.body.details.model_repository.status).toBe('up');

      const penguin = (features: number[], status: number) =>
        request(app.getHttpServer()).post('/predict').send({ model_id: 'penguins', features }).expect(status);
      for (let i = 0; i < 19; i += 1) await penguin([39.1, 18.7, 181, 3750], 200);
      for (let i = 0; i < 5; i += 1) await penguin([39.1], 422);
      const afterBadInput = await request(app.getHttpServer()).get('/health').expect(200);
      expect(afterBadInput.body.details['model:penguins']).toMatchObject({ health: 'healthy', error_rate: 0, error_count: 0, total_requests: 19 });

      faults.armed = true;
      await penguin([39.1, 18.7, 181, 3750], 500);
      const stillHealthy = await request(app.getHttpServer()).get('/health').expect(200);
      expect(stillHealthy.body.details['model:penguins']).toMatchObject({ health: 'healthy', error_rate: 0.05 });

      await penguin([39.1, 18.7, 181, 3750], 500);
      await penguin([39.1, 18.7, 181, 3750], 500);
      faults.armed = false;
      const degraded = await request(app.getHttpServer()).get('/health').expect(200);
      expect(degraded.body.details['model:penguins']).toMatchObject({ status: 'up', health: 'degraded', error_rate: 0.1364, error_count: 3, total_requests: 22 });
      expect(degraded.body.details['model:penguins'].p95_latency_ms).toEqual(expect.any(Number));
      expect(degraded.body.details['model:iris'].health).toBe('healthy');
      await request(app.getHttpServer()).get('/health/live').expect(200);
      await request(app.getHttpServer()).get('/health/ready').expect(200);
    });
  });

  describe('readiness while a version loads', () => {
    const { factory: gatedFactory, release } = gatedRuntimes();

    it('/health/ready is 503 naming the loading models, then 200 once they are READY; predictions get 503 meanwhile', async () => {
      const app = await createApp({ waitForModels: false, customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(gatedFactory) });
      try {
        const loading = await request(app.getHttpServer()).get('/health/ready').expect(503);
        expect(loading.body.status).toBe('error');
        expect(loading.body.error.models.not_ready.iris).toMatch(/LOADING/);
        await request(app.getHttpServer()).get('/health/live').expect(200);
        const early = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: SETOSA }).expect(503);
        expect(early.body.error.code).toBe('MODEL_NOT_READY');

        release();
        await app.get(ModelRegistryService).whenLoaded();
        const ready = await request(app.getHttpServer()).get('/health/ready').expect(200);
        expect(ready.body.details.models).toMatchObject({ status: 'up', ready: 4 });
      } finally {
        release();
        await app.close();
      }
    });
  });

  describe('logs', () => {
    const { stream: capture, lines } = logCapture();
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp({ env: { LOG_LEVEL: 'debug' }, customize: (b) => b.overrideProvider(LOG_DESTINATION).useValue(capture) });
    });
    afterAll(async () => { await app.close(); });

    it('logs one completion line per request with the response X-Request-Id, prediction fields, and no secret', async () => {
      const res = await request(app.getHttpServer()).post('/predict')
        .set('Authorization', 'Bearer top-secret-token').set('X-API-Key', 'key-shh-123').set('Cookie', 'session=cookie-val-9')
        .send({ model_id: 'iris', features: SETOSA }).expect(200);
      const id = res.headers['x-request-id'];
      await new Promise((r) => setImmediate(r));
      const mine = lines.filter((l) => l.request_id === id);
      const completion = mine.filter((l) => l.msg === 'request_completed');
      expect(completion).toHaveLength(1);
      expect(completion[0]).toMatchObject({ method: 'POST', route: '/predict', status: 200, model_id: 'iris', model_version: '2', variant: 'stable', cached: false, client: expect.any(String) });
      expect(completion[0].duration_ms).toEqual(expect.any(Number));
      expect(mine.map((l) => l.event)).toEqual(expect.arrayContaining(['prediction_started', 'prediction_completed']));
      const all = JSON.stringify(lines);
      expect(all).not.toMatch(/top-secret-token|key-shh-123|cookie-val-9/);
    });

    it('logs prediction_failed at warn with the reason', async () => {
      const res = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: [1] }).expect(422);
      await new Promise((r) => setImmediate(r));
      const failed = lines.find((l) => l.request_id === res.headers['x-request-id'] && l.event === 'prediction_failed');
      expect(failed).toMatchObject({ level: 40, reason: 'validation', success: false, model_id: 'iris' });
    });
  });
});
