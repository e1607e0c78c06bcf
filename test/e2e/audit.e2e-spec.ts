import { INestApplication } from '@nestjs/common';
import request from 'supertest';

import { LOG_DESTINATION } from '../../src/logging/log-destination';
import { createApp } from './support/create-app';
import { logCapture } from './support/log-capture';
import { sample } from './support/metrics-text';

const ADMIN = 'admin-key-77c1';
const CLIENT = 'client-key-5d2e';

describe('audit trail of admin actions (real AppModule)', () => {
  const { stream, lines } = logCapture();
  let app: INestApplication;
  const server = () => app.getHttpServer();
  /** The audit events of one request. */
  const auditOf = async (requestId: string) => {
    await new Promise((resolve) => setImmediate(resolve));
    return lines.filter((l) => l.msg === 'audit' && l.request_id === requestId);
  };

  beforeAll(async () => {
    app = await createApp({
      env: { ADMIN_API_KEYS: `ops:${ADMIN}`, API_KEYS: `app:${CLIENT}`, LOG_LEVEL: 'info', ENABLE_CACHING: 'false' },
      customize: (b) => b.overrideProvider(LOG_DESTINATION).useValue(stream),
    });
  });
  afterAll(async () => { await app.close(); });

  it('records an allowed change once: who (the key name), what, the model, state before and after, the request id, the outcome', async () => {
    // Act
    const res = await request(server()).post('/models/iris/promote').set('X-API-Key', ADMIN).send({ version: 1 }).expect(200);
    const events = await auditOf(res.headers['x-request-id']);
    await request(server()).post('/models/iris/promote').set('X-API-Key', ADMIN).send({ version: 2 }).expect(200);

    // Assert
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      audit: true, action: 'promote', actor: 'ops', model: 'iris', version: null, outcome: 'ok', status: 200,
      before: expect.objectContaining({ active: 2, versions: { 1: 'READY', 2: 'READY' } }),
      after: expect.objectContaining({ active: 1, staging: 2 }),
    });
  });

  it.each([
    ['no key', undefined, 401, 'UNAUTHORIZED'],
    ['a client key', CLIENT, 403, 'FORBIDDEN'],
    ['a wrong key', 'not-a-key', 401, 'UNAUTHORIZED'],
  ])('records a refused attempt with %s (actor null, the status and code)', async (_name, key, status, code) => {
    // Act
    const call = request(server()).post('/models/iris/versions/1/unload');
    const res = await (key ? call.set('X-API-Key', key) : call).expect(status);
    const events = await auditOf(res.headers['x-request-id']);

    // Assert
    expect(events).toEqual([expect.objectContaining({ action: 'unload', actor: null, model: 'iris', version: '1', outcome: 'refused', status, error_code: code })]);
  });

  it('records an allowed action that failed, with its status and code, and V2 repository actions', async () => {
    // Act
    const failed = await request(server()).post('/models/iris/promote').set('X-API-Key', ADMIN).send({ version: 99 });
    const unload = await request(server()).post('/v2/repository/models/penguins/unload').set('Authorization', `Bearer ${ADMIN}`).send({}).expect(200);
    const load = await request(server()).post('/v2/repository/models/penguins/load').set('Authorization', `Bearer ${ADMIN}`).send({}).expect(200);

    // Assert
    expect(await auditOf(failed.headers['x-request-id'])).toEqual([expect.objectContaining({ action: 'promote', actor: 'ops', outcome: 'failed', status: failed.status, error_code: failed.body.error.code })]);
    expect(await auditOf(unload.headers['x-request-id'])).toEqual([expect.objectContaining({
      action: 'v2.unload', model: 'penguins', outcome: 'ok', before: expect.objectContaining({ unloaded: false }), after: expect.objectContaining({ unloaded: true }),
    })]);
    expect(await auditOf(load.headers['x-request-id'])).toEqual([expect.objectContaining({ action: 'v2.load', outcome: 'ok', after: expect.objectContaining({ unloaded: false }) })]);
  });

  it('never logs a key, counts ml_admin_actions_total{action,outcome}, and records nothing for reads and predictions', async () => {
    // Act
    const read = await request(server()).get('/models/iris/canary').set('X-API-Key', CLIENT).expect(200);
    const metrics = (await request(server()).get('/metrics').expect(200)).text;

    // Assert
    expect(await auditOf(read.headers['x-request-id'])).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain(ADMIN);
    expect(JSON.stringify(lines)).not.toContain(CLIENT);
    expect(sample(metrics, 'ml_admin_actions_total', { action: 'promote', outcome: 'ok' })).toBe(2);
    expect(sample(metrics, 'ml_admin_actions_total', { action: 'unload', outcome: 'refused' })).toBe(3);
  });
});
