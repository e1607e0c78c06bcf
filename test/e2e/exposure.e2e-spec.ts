import { INestApplication } from '@nestjs/common';
import request from 'supertest';

import { LOG_DESTINATION } from '../../src/logging/log-destination';
import { createApp, expectEnvelope, SETOSA } from './support/create-app';
import { logCapture } from './support/log-capture';

const CLIENT = 'client-key-3f9a';

describe('exposure: DOCS and keys in URLs (real AppModule)', () => {
  describe.each([
    ['DOCS=off', { DOCS: 'off' }, { anonymous: 404, keyed: 404 }],
    ['DOCS=auth', { DOCS: 'auth', API_KEYS: `c:${CLIENT}` }, { anonymous: 401, keyed: 200 }],
    ['NODE_ENV=production, DOCS unset (auth)', { NODE_ENV: 'production', API_KEYS: `c:${CLIENT}` }, { anonymous: 401, keyed: 200 }],
    ['development, DOCS unset (public)', {}, { anonymous: 200, keyed: 200 }],
  ])('%s', (_name, env, expected) => {
    let app: INestApplication;
    beforeAll(async () => { app = await createApp({ env }); });
    afterAll(async () => { await app.close(); });

    it.each(['/docs-json', '/docs'])(`%s answers ${expected.anonymous} without a key and ${expected.keyed} with a client key`, async (path) => {
      // Act
      const anonymous = await request(app.getHttpServer()).get(path).redirects(1);
      const keyed = await request(app.getHttpServer()).get(path).set('X-API-Key', CLIENT).redirects(1);

      // Assert
      expect(anonymous.status).toBe(expected.anonymous);
      expect(keyed.status).toBe(expected.keyed);
      if (anonymous.status === 401) expectEnvelope(anonymous.body, 'UNAUTHORIZED', anonymous.headers['x-request-id']);
      if (keyed.status === 200 && path === '/docs-json') expect(keyed.body.openapi).toMatch(/^3\./);
    });
  });

  describe('an API key in the URL', () => {
    const { stream, lines } = logCapture();
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp({ env: { API_KEYS: `c:${CLIENT}`, LOG_LEVEL: 'info' }, customize: (b) => b.overrideProvider(LOG_DESTINATION).useValue(stream) });
    });
    afterAll(async () => { await app.close(); });

    it.each([
      ['POST', `/predict?api_key=${CLIENT}`],
      ['GET', `/models?token=${CLIENT}`],
      ['GET', `/health/live?x-api-key=${CLIENT}`],
      ['GET', `/docs-json?apikey=${CLIENT}`],
    ])('%s %s is refused with 400 saying where keys go, and the key is never logged', async (method, path) => {
      // Act
      const res = await request(app.getHttpServer())[method === 'POST' ? 'post' : 'get'](path).send(method === 'POST' ? { model_id: 'iris', features: SETOSA } : undefined);
      await new Promise((resolve) => setImmediate(resolve));

      // Assert
      expect(res.status).toBe(400);
      expect(expectEnvelope(res.body, 'BAD_REQUEST', res.headers['x-request-id']).error.message).toMatch(/headers only \(Authorization: Bearer <key> or X-API-Key\), never in the URL/);
      expect(JSON.stringify(lines)).not.toContain(CLIENT);
    });

    it('leaves query parameters that only look alike alone (routing_key)', async () => {
      // Act
      const res = await request(app.getHttpServer()).get('/models?routing_key=user-1').set('X-API-Key', CLIENT);

      // Assert
      expect(res.status).toBe(200);
    });
  });
});
