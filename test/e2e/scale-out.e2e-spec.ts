import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';

import { RedisRegistryStateStore } from '../../src/models/registry/state/redis-registry-state.store';
import { RedisConnection } from '../../src/redis/redis-connection';
import { describeWithRedis, RedisServerProcess } from '../support/redis-server';
import { until } from '../support/until';
import { ChildServer, startServer } from './support/child-server';
import { createApp, SETOSA } from './support/create-app';

const ADMIN = 'scale-admin';
/** One client key per test, so each has its own budget of REQUESTS_PER_MINUTE=10. */
const CLIENTS = { limits: 'key-limits', rollout: 'key-rollout', cache: 'key-cache', fault: 'key-fault' } as const;
const admin = { 'content-type': 'application/json', 'x-api-key': ADMIN };

type Json = Record<string, any>;

async function call(url: string, path: string, init: { method?: string; key?: string; body?: unknown } = {}): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: init.key === ADMIN ? admin : { 'content-type': 'application/json', ...(init.key ? { 'x-api-key': init.key } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const predict = (url: string, key: string, features: number[] = [5.1, 3.5, 1.4, 0.2]) =>
  call(url, '/predict', { key, body: { model_id: 'iris', features } });

/**
 * Two real service processes (src/main.ts) on two ports sharing one real redis-server: the
 * limits, the registry state and the prediction cache are the deployment's, not a process's;
 * and Redis stopped by its own pid mid-run, then started again.
 */
describeWithRedis('scale-out: two service processes sharing one Redis', () => {
  jest.setTimeout(180_000);
  let redis: RedisServerProcess;
  let a: ChildServer;
  let b: ChildServer;
  /** REGISTRY_STATE_FILE of each replica: with REDIS_URL nothing may write it. */
  const stateFiles = [join(tmpdir(), `nms-scale-${randomUUID()}-a.json`), join(tmpdir(), `nms-scale-${randomUUID()}-b.json`)];

  beforeAll(async () => {
    redis = await RedisServerProcess.start();
    const env = {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `e2e-${randomUUID()}:`,
      REQUESTS_PER_MINUTE: '10',
      API_KEYS: Object.entries(CLIENTS).map(([name, key]) => `${name}:${key}`).join(','),
      ADMIN_API_KEYS: `ops:${ADMIN}`,
    };
    [a, b] = await Promise.all(stateFiles.map((file) => startServer({ ...env, REGISTRY_STATE_FILE: file })));
  });

  afterAll(async () => {
    for (const server of [a, b]) {
      if (server && server.proc.exitCode === null) {
        server.proc.kill('SIGTERM');
        await server.exited;
      }
    }
    await redis?.stop();
  });

  /** The model as a replica describes it (GET /models needs a client key when API_KEYS is set). */
  const iris = async (server: ChildServer) => (await call(server.url, '/models/iris', { key: CLIENTS.rollout })).body;

  it('limit 10/min: 6 calls through A and 5 through B give exactly one 429', async () => {
    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await predict(a.url, CLIENTS.limits, [5 + i / 10, 3.5, 1.4, 0.2])).status);
    for (let i = 0; i < 5; i += 1) statuses.push((await predict(b.url, CLIENTS.limits, [6 + i / 10, 3.5, 1.4, 0.2])).status);

    // Assert
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(statuses[10]).toBe(429);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
  });

  it('a promotion through A is served by B (polled, no fixed sleep); the state file is not used', async () => {
    // Act
    const promoted = await call(a.url, '/models/iris/promote', { key: ADMIN, body: { version: 1 } });
    await until(async () => (await iris(b)).active_version === '1', 'B serving the promoted version', 15_000, 25);
    const served = await predict(b.url, CLIENTS.rollout, [4.9, 3.0, 1.4, 0.2]);

    // Assert
    expect(promoted.status).toBe(200);
    expect(served.body).toMatchObject({ model_version: '1', variant: 'stable' });
    expect(stateFiles.filter((file) => existsSync(file))).toEqual([]);
    const back = await call(a.url, '/models/iris/rollback', { key: ADMIN, body: {} });
    expect(back.status).toBe(200);
    await until(async () => (await iris(b)).active_version === '2', 'B back on version 2', 15_000, 25);
  });

  it('a canary set through B is honoured by A', async () => {
    // Act
    const set = await call(b.url, '/models/iris/canary', { method: 'PUT', key: ADMIN, body: { version: 1, percentage: 100, sticky: false } });
    await until(async () => (await iris(a)).canary?.version === 1, 'A knowing the canary', 15_000, 25);
    const routed = await predict(a.url, CLIENTS.rollout, [4.8, 3.0, 1.4, 0.1]);
    const cleared = await call(a.url, '/models/iris/canary', { method: 'DELETE', key: ADMIN });
    await until(async () => (await iris(b)).canary === null, 'B ending the canary', 15_000, 25);

    // Assert
    expect(set.status).toBe(200);
    expect(routed.body).toMatchObject({ model_version: '1', variant: 'canary' });
    expect(cleared.status).toBe(200);
  });

  it('a prediction cached through A is a hit on B', async () => {
    // Arrange: features no other test sends
    const features = [5.7, 2.8, 4.1, 1.3];

    // Act
    const first = await predict(a.url, CLIENTS.cache, features);
    const second = await predict(b.url, CLIENTS.cache, features);

    // Assert
    expect(first.body).toMatchObject({ cached: false, model_version: '2' });
    expect(second.body).toMatchObject({ cached: true, model_version: '2', prediction: first.body.prediction });
  });

  it('Redis stopped mid-run: predictions keep being served, /health shows redis down while ready stays up, admin changes answer 503; Redis back: recovery without a restart', async () => {
    // Act: stop Redis (its own pid) with predictions in flight on both replicas
    const logsBefore = [a.output().length, b.output().length];
    const during = await Promise.all([
      redis.stop(),
      ...[a, b, a, b].map((server, i) => predict(server.url, CLIENTS.fault, [5 + i / 10, 3.1, 1.5, 0.2])),
    ]);
    const after = await Promise.all([a, b, a, b].map((server, i) => predict(server.url, CLIENTS.fault, [6 + i / 10, 3.1, 1.5, 0.2])));
    const health = await call(a.url, '/health');
    const ready = await call(a.url, '/health/ready');
    const refused = await call(a.url, '/models/iris/promote', { key: ADMIN, body: { version: 1 } });
    // Reconnection attempts fail (ECONNREFUSED) from about 100 ms on: counted, without a request waiting on them.
    let metrics = '';
    await until(async () => {
      metrics = await (await fetch(`${a.url}/metrics`)).text();
      return /^ml_redis_errors_total\{operation="connect"\} [1-9]/m.test(metrics);
    }, 'failed reconnections in ml_redis_errors_total', 10_000, 50);
    await redis.start();
    let recovered = { status: 0, body: {} as Json };
    await until(async () => {
      recovered = await call(a.url, '/models/iris/promote', { key: ADMIN, body: { version: 1 } });
      return recovered.status === 200;
    }, 'an admin change through A succeeding again', 30_000, 100);
    await until(async () => (await iris(b)).active_version === '1', 'B applying the change made after the recovery', 15_000, 25);
    const healthAfter = await call(b.url, '/health');

    // Assert
    const statuses = [...during.slice(1), ...after].map((r) => (r as { status: number }).status);
    expect(statuses).toEqual(Array(8).fill(200));
    expect(health.status).toBe(503);
    expect(health.body.details.redis).toMatchObject({ status: 'down', message: expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable/) });
    expect(ready.status).toBe(200);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', message: expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable: rollout changes are refused/) });
    expect(recovered.body).toMatchObject({ active_version: '1', staging_version: '2' });
    expect(healthAfter.body.details.redis).toMatchObject({ status: 'up' });
    // One warning per outage, not one per request.
    for (const [i, server] of [a, b].entries()) expect(server.output().slice(logsBefore[i]).match(/is unavailable \(/g)).toHaveLength(1);
    // The restarted Redis was empty: the first replica back wrote the state it last knew.
    const restorers = [a, b].filter((server) => /had lost the registry state; restored iris/.test(server.output()));
    expect(restorers).toHaveLength(1);
  });
});

describeWithRedis('scale-out: a replica starting while Redis does not answer', () => {
  jest.setTimeout(60_000);
  let redis: RedisServerProcess;
  let app: INestApplication | undefined;
  const prefix = `e2e-${randomUUID()}:`;

  beforeAll(async () => {
    redis = await RedisServerProcess.start();
    // The deployment's state: iris promoted to version 1 (through some other replica).
    const connection = new RedisConnection({ url: redis.url, keyPrefix: prefix, timeoutMs: 500 }, { redisError: () => undefined }, { log: () => undefined, warn: () => undefined, error: () => undefined });
    await connection.open(5000);
    const store = new RedisRegistryStateStore(connection);
    const { epoch } = (await store.snapshot())!;
    await store.commit('iris', { active: 1, staging: 2, previous_active: 2 }, { epoch, revision: 0 });
    connection.onApplicationShutdown();
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('is not ready (it would serve model.json defaults) until it has read the deployment\'s state, then serves it', async () => {
    // Arrange: frozen, not stopped — a restarted redis-server (no persistence) would have lost the state
    redis.pause();

    // Act
    app = await createApp({ env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, REDIS_TIMEOUT_MS: '200' } });
    const http = app.getHttpServer();
    const notReady = await request(http).get('/health/ready');
    const v2NotReady = await request(http).get('/v2/health/ready');
    const served = await request(http).post('/predict').send({ model_id: 'iris', features: SETOSA });
    redis.resume();
    await until(async () => (await request(http).get('/health/ready')).status === 200, 'readiness once Redis answers', 20_000, 50);
    const model = await request(http).get('/models/iris');

    // Assert
    expect(notReady.status).toBe(503);
    expect(notReady.body.details.registry_state).toMatchObject({ status: 'down', message: expect.stringMatching(/^not yet read from Redis at redis:\/\/127\.0\.0\.1:\d+/) });
    expect(v2NotReady.status).not.toBe(200);
    expect(served.status).toBe(200);
    expect(model.body).toMatchObject({ active_version: '1', staging_version: '2' });
  });
});
