import { INestApplication } from '@nestjs/common';
import { createHash } from 'node:crypto';
import request from 'supertest';

import { recordHelmetHeaders } from '../../src/http/http-options';
import { ModelRuntimeFactory } from '../../src/models/runtimes/model-runtime';
import { createApp, expectEnvelope, SETOSA } from './support/create-app';
import { sample } from './support/metrics-text';
import { SlowRuntimeFactory } from './support/slow-runtime';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const KEYS = { API_KEYS: `alpha:key-alpha,beta:sha256:${sha256('key-beta')}`, ADMIN_API_KEYS: 'ops:admin-key' };
const body = { model_id: 'iris', features: SETOSA };

describe('protection', () => {
  describe('API keys', () => {
    let app: INestApplication;
    beforeAll(async () => { app = await createApp({ env: KEYS }); });
    afterAll(async () => { await app.close(); });

    it('refuses a missing or wrong key with a 401 envelope', async () => {
      expectEnvelope((await request(app.getHttpServer()).post('/predict').send(body).expect(401)).body, 'UNAUTHORIZED');
      expectEnvelope((await request(app.getHttpServer()).post('/predict').set('X-API-Key', 'key-alphX').send(body).expect(401)).body, 'UNAUTHORIZED');
      expectEnvelope((await request(app.getHttpServer()).get('/models').set('Authorization', 'Bearer nope').expect(401)).body, 'UNAUTHORIZED');
    });

    it('accepts Bearer and X-API-Key, plain and sha256-hashed keys, and an admin key', async () => {
      await request(app.getHttpServer()).post('/predict').set('Authorization', 'Bearer key-alpha').send(body).expect(200);
      await request(app.getHttpServer()).post('/predict').set('X-API-Key', 'key-beta').send(body).expect(200);
      await request(app.getHttpServer()).post('/predict/batch').set('X-API-Key', 'admin-key').send([SETOSA]).expect(200);
      await request(app.getHttpServer()).get('/models/iris').set('X-API-Key', 'key-alpha').expect(200);
    });

    it('health, metrics and docs need no key', async () => {
      await request(app.getHttpServer()).get('/health/live').expect(200);
      await request(app.getHttpServer()).get('/health/ready').expect(200);
      await request(app.getHttpServer()).get('/metrics').expect(200);
      await request(app.getHttpServer()).get('/docs-json').expect(200);
    });
  });

  describe('rate limits (REQUESTS_PER_MINUTE=100 default)', () => {
    let app: INestApplication;
    beforeAll(async () => { app = await createApp({ env: { ...KEYS, ENABLE_CACHING: 'true' } }); });
    afterAll(async () => { await app.close(); });

    it('the 101st request in a minute from one key → 429 across both prediction routes, while a second key passes', async () => {
      const server = app.getHttpServer();
      for (let i = 0; i < 50; i += 1) await request(server).post('/predict').set('X-API-Key', 'key-alpha').send(body).expect(200);
      let last;
      for (let i = 0; i < 50; i += 1) last = await request(server).post('/predict/batch').set('X-API-Key', 'key-alpha').send([SETOSA]).expect(200);
      expect(last!.headers['x-ratelimit-limit']).toBe('100');
      expect(last!.headers['x-ratelimit-remaining']).toBe('0');

      const limited = await request(server).post('/predict').set('X-API-Key', 'key-alpha').send(body).expect(429);
      const b = expectEnvelope(limited.body, 'RATE_LIMITED');
      expect(b.error.message).toMatch(/100 requests per minute \(REQUESTS_PER_MINUTE\)/);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['x-ratelimit-remaining']).toBe('0');

      await request(server).post('/predict').set('X-API-Key', 'key-beta').send(body).expect(200);
      await request(server).get('/health/ready').expect(200);
      const text = (await request(server).get('/metrics')).text;
      expect(sample(text, 'ml_rate_limited_requests_total', { limit: 'minute' })).toBe(1);
    });
  });

  it('the hour limit is enforced too and named', async () => {
    const app = await createApp({ env: { REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '3' } });
    try {
      for (let i = 0; i < 3; i += 1) await request(app.getHttpServer()).post('/predict').send(body).expect(200);
      const res = await request(app.getHttpServer()).post('/predict').send(body).expect(429);
      expect(res.body.error.message).toMatch(/3 requests per hour \(REQUESTS_PER_HOUR\)/);
    } finally {
      await app.close();
    }
  });

  it.each([
    ['without TRUST_PROXY a forged X-Forwarded-For does not reset the limit', '', 429],
    ['with TRUST_PROXY=true each forwarded client has its own limit', 'true', 200],
  ])('%s', async (_title, trustProxy, expected) => {
    const app = await createApp({ env: { REQUESTS_PER_MINUTE: '3', TRUST_PROXY: trustProxy } });
    try {
      for (let i = 1; i <= 3; i += 1) {
        await request(app.getHttpServer()).post('/predict').set('X-Forwarded-For', `203.0.113.${i}`).send(body).expect(200);
      }
      await request(app.getHttpServer()).post('/predict').set('X-Forwarded-For', '203.0.113.99').send(body).expect(expected);
    } finally {
      await app.close();
    }
  });

  describe('request limits', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp({ env: { MAX_FEATURES: '5', MAX_DEPTH: '6', MAX_STRING_LENGTH: '100', REQUESTS_PER_MINUTE: '0' } });
    });
    afterAll(async () => { await app.close(); });
    const post = (payload: string, type = 'application/json') =>
      request(app.getHttpServer()).post('/predict').set('content-type', type).send(payload);

    it('more than MAX_FEATURES features → 422', async () => {
      const res = await post(JSON.stringify({ model_id: 'iris', features: { ...SETOSA, a: 1, b: 2 } })).expect(422);
      expect(expectEnvelope(res.body, 'VALIDATION_FAILED').error.message).toMatch(/MAX_FEATURES \(5\)/);
    });

    it('JSON nested deeper than MAX_DEPTH → 422', async () => {
      let nested: unknown = 1;
      for (let i = 0; i < 10; i += 1) nested = [nested];
      const res = await post(JSON.stringify({ model_id: 'iris', features: SETOSA, options: { x: nested } })).expect(422);
      expect(expectEnvelope(res.body, 'VALIDATION_FAILED').error.message).toMatch(/MAX_DEPTH \(6\)/);
    });

    it('a string longer than MAX_STRING_LENGTH → 422', async () => {
      const res = await post(JSON.stringify({ model_id: 'x'.repeat(101), features: SETOSA })).expect(422);
      expect(expectEnvelope(res.body, 'VALIDATION_FAILED').error.details[0]).toMatchObject({ field: 'body.model_id' });
    });

    it.each(['__proto__', 'constructor', 'prototype'])('a %s key → 422 and never reaches a prototype', async (key) => {
      const raw = `{"model_id":"iris","features":{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2,"${key}":{"polluted":true}}}`;
      const res = await post(raw).expect(422);
      expect((expectEnvelope(res.body, 'VALIDATION_FAILED').error.details[0] as { field: string }).field).toBe(`body.features.${key}`);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    });

    it.each(['text/plain', 'application/x-www-form-urlencoded'])('Content-Type %s → 415', async (type) => {
      const res = await post('features=1', type).expect(415);
      expectEnvelope(res.body, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('sends helmet headers and no X-Powered-By', async () => {
      const res = await request(app.getHttpServer()).get('/health/live').expect(200);
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toBeDefined();
      // Every header helmet sets, with helmet's value, on both adapters.
      for (const [name, value] of recordHelmetHeaders().set) expect([name, res.headers[name.toLowerCase()]]).toEqual([name, String(value)]);
    });
  });

  describe('CORS', () => {
    it('allows only CORS_ORIGINS', async () => {
      const app = await createApp({ env: { CORS_ORIGINS: 'https://app.example' } });
      try {
        const ok = await request(app.getHttpServer()).options('/predict').set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'POST');
        expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
        const other = await request(app.getHttpServer()).options('/predict').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
        expect(other.headers['access-control-allow-origin']).toBeUndefined();
      } finally {
        await app.close();
      }
    });

    it('never sends credentials together with *', async () => {
      const app = await createApp({ env: { CORS_ORIGINS: '*' } });
      try {
        const res = await request(app.getHttpServer()).get('/health/live').set('Origin', 'https://any.example').expect(200);
        expect(res.headers['access-control-allow-origin']).toBe('*');
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      } finally {
        await app.close();
      }
    });

    it('no CORS headers at all without CORS_ORIGINS', async () => {
      const app = await createApp();
      try {
        const res = await request(app.getHttpServer()).get('/health/live').set('Origin', 'https://any.example').expect(200);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
      } finally {
        await app.close();
      }
    });
  });

  it('300 concurrent requests against MAX_QUEUE=50 on a slow model → only 200s and 503s (with Retry-After), overload counted', async () => {
    const app = await createApp({
      env: { MAX_QUEUE: '50', REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' },
      customize: (b) => b.overrideProvider(ModelRuntimeFactory).useValue(new SlowRuntimeFactory(200)),
    });
    try {
      const server = app.getHttpServer();
      const results = await Promise.all(Array.from({ length: 300 }, (_, i) =>
        request(server).post('/predict').send({ model_id: 'iris', features: { ...SETOSA, sepal_length: 5 + i / 1000 } })));
      const statuses = results.map((r) => r.status);
      expect(new Set(statuses)).toEqual(new Set([200, 503]));
      const shed = results.filter((r) => r.status === 503);
      expect(shed.length).toBeGreaterThan(0);
      for (const r of shed) {
        expect(r.body.error.code).toBe('OVERLOADED');
        expect(r.headers['retry-after']).toBe('1');
      }
      const text = (await request(server).get('/metrics')).text;
      expect(sample(text, 'ml_prediction_errors_total', { model_id: 'iris', model_version: '2', reason: 'overload' })).toBe(shed.length);
      await request(server).get('/health/live').expect(200);
    } finally {
      await app.close();
    }
  });

  it('above MAX_MEMORY_MB new predictions get 503 and readiness fails', async () => {
    const app = await createApp({ env: { MAX_MEMORY_MB: '16' } });
    try {
      const res = await request(app.getHttpServer()).post('/predict').send(body).expect(503);
      expect(expectEnvelope(res.body, 'OVERLOADED').error.message).toMatch(/MAX_MEMORY_MB/);
      expect(res.headers['retry-after']).toBeDefined();
      const ready = await request(app.getHttpServer()).get('/health/ready').expect(503);
      expect(ready.body.error.memory.status).toBe('down');
      await request(app.getHttpServer()).get('/health/live').expect(200);
    } finally {
      await app.close();
    }
  });
});
