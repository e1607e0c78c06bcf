import { INestApplication } from '@nestjs/common';
import request from 'supertest';

import { createApp, expectEnvelope, SETOSA } from './support/create-app';

const ADAPTER = process.env.HTTP_ADAPTER ?? 'fastify';
const BODY = JSON.stringify({ model_id: 'iris', features: SETOSA });

/** What both adapters must answer alike (the e2e suite runs on each). */
describe(`HTTP parity (${ADAPTER}): URLs, charsets, strict JSON, CORS`, () => {
  let app: INestApplication;
  const server = () => app.getHttpServer();
  // superagent would JSON-serialize a Buffer sent as application/json; these bytes go as they are.
  const rawJson = (type: string, bytes: Buffer) => request(server()).post('/predict').set('Content-Type', type).serialize(() => bytes as unknown as string).send(bytes);

  beforeAll(async () => {
    app = await createApp({ env: { CORS_ORIGINS: 'https://ui.example' } });
  });
  afterAll(async () => { await app.close(); });

  it('a URL that does not decode is a 400 envelope with the request id, not a bare framework error', async () => {
    // Act
    const res = await request(server()).get('/models/%E0%A4%A').set('X-Request-Id', 'bad-url-1');

    // Assert
    expect(res.status).toBe(400);
    expect(res.headers['x-request-id']).toBe('bad-url-1');
    expectEnvelope(res.body, 'BAD_REQUEST', 'bad-url-1');
  });

  it('a path parameter longer than any model name gets the service answer (404), not a 414', async () => {
    // Act
    const res = await request(server()).get(`/models/${'m'.repeat(300)}`);

    // Assert
    expect(res.status).toBe(422);
    expectEnvelope(res.body, 'VALIDATION_FAILED');
  });

  it('reads JSON in any utf-* charset, drops a byte-order mark, and refuses other charsets with 415', async () => {
    // Arrange
    const utf16 = Buffer.from(BODY, 'utf16le');
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(BODY)]);

    // Act
    const fromUtf16 = await rawJson('application/json; charset=utf-16le', utf16);
    const withBom = await rawJson('application/json', bom);
    const latin1 = await rawJson('application/json; charset=latin1', Buffer.from(BODY, 'latin1'));

    // Assert
    expect(fromUtf16.status).toBe(200);
    expect(fromUtf16.body.prediction.class).toBe('setosa');
    expect(withBom.status).toBe(200);
    expect(latin1.status).toBe(415);
    expectEnvelope(latin1.body, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it.each(['5', 'null', '"iris"'])('refuses a JSON body that is not an object or an array (%s) as malformed, as strict JSON', async (text) => {
    // Act
    const res = await request(server()).post('/predict').set('Content-Type', 'application/json').send(text);

    // Assert
    expect(res.status).toBe(400);
    expectEnvelope(res.body, 'MALFORMED_JSON');
  });

  it('answers a CORS preflight for the admin methods (PUT, DELETE) from an allowed origin', async () => {
    // Act
    const res = await request(server()).options('/models/iris/canary').set('Origin', 'https://ui.example').set('Access-Control-Request-Method', 'DELETE');

    // Assert
    expect(res.status).toBeLessThan(300);
    expect(res.headers['access-control-allow-origin']).toBe('https://ui.example');
    expect(String(res.headers['access-control-allow-methods'])).toMatch(/DELETE/);
    expect(String(res.headers['access-control-allow-methods'])).toMatch(/PUT/);
  });
});
