import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import request from 'supertest';

import { LOG_DESTINATION } from '../../src/logging/log-destination';
import { createApp, expectEnvelope, SETOSA } from './support/create-app';
import { logCapture } from './support/log-capture';
import { sample } from './support/metrics-text';

/**
 * Every request is completed exactly once — one completion line and one `http_requests_total`
 * increment — whoever answers it: the interceptors for an answer, the exception filter for every
 * error, also those raised before any handler (body parsing, unknown route, guard refusal).
 * Runs on both adapters (jest's `fastify` and `express` projects).
 */
const ADAPTER = process.env.HTTP_ADAPTER === 'express' ? 'express' : 'fastify';
const KEY = 'rc-client-key';
const COMPLETION_MESSAGES = new Set(['request_completed', 'request_failed']);

/** The sum of a counter's samples whose labels include `labels` (whatever their other labels). */
function total(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

interface Case {
  name: string;
  method: 'GET' | 'POST';
  /** Sends the request with the given X-Request-Id. */
  send: (server: unknown, id: string) => request.Test;
  status: number;
  /** The error envelope's code, none for an answer. */
  code?: string;
  /** The route template the completion line and the metric carry, on this adapter. */
  route: string;
}

const withKey = (t: request.Test) => t.set('X-API-Key', KEY);

/**
 * The route of a request whose body is refused (malformed JSON, over BODY_LIMIT, not JSON).
 * Express parses and checks bodies in app-level middleware (body-parser, the 415 check) that runs
 * before its router matched any route, so `req.route` is unset when the filter completes the
 * error: such requests are `unmatched` there. Fastify matches the route first and parses the body
 * after, so the filter sees `routeOptions.url` and the same request is `/predict`. Pinned per
 * adapter as each actually behaves.
 */
const BEFORE_ROUTING = ADAPTER === 'express' ? 'unmatched' : '/predict';

const CASES: Case[] = [
  {
    name: 'malformed JSON',
    method: 'POST',
    send: (s, id) => withKey(request(s as never).post('/predict').set('X-Request-Id', id).set('Content-Type', 'application/json')).send('{"model_id": "iris", '),
    status: 400,
    code: 'MALFORMED_JSON',
    route: BEFORE_ROUTING,
  },
  {
    name: 'a body over BODY_LIMIT',
    method: 'POST',
    send: (s, id) => withKey(request(s as never).post('/predict').set('X-Request-Id', id)).send({ model_id: 'iris', features: SETOSA, pad: 'x'.repeat(2048) }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    route: BEFORE_ROUTING,
  },
  {
    name: 'a text/plain body',
    method: 'POST',
    send: (s, id) => withKey(request(s as never).post('/predict').set('X-Request-Id', id).set('Content-Type', 'text/plain')).send('sepal_length=5.1'),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    route: BEFORE_ROUTING,
  },
  {
    name: 'an unknown route',
    method: 'GET',
    send: (s, id) => withKey(request(s as never).get('/no/such/route/98765').set('X-Request-Id', id)),
    status: 404,
    code: 'NOT_FOUND',
    route: 'unmatched',
  },
  {
    name: 'a request the API-key guard refuses',
    method: 'POST',
    send: (s, id) => request(s as never).post('/predict').set('X-Request-Id', id).send({ model_id: 'iris', features: SETOSA }),
    status: 401,
    code: 'UNAUTHORIZED',
    route: '/predict',
  },
  {
    name: 'a request validation refuses',
    method: 'POST',
    send: (s, id) => withKey(request(s as never).post('/predict').set('X-Request-Id', id)).send({ model_id: 'iris', features: { sepal_length: 'x' } }),
    status: 422,
    code: 'VALIDATION_FAILED',
    route: '/predict',
  },
  {
    name: 'an answered prediction',
    method: 'POST',
    send: (s, id) => withKey(request(s as never).post('/predict').set('X-Request-Id', id)).send({ model_id: 'iris', features: SETOSA }),
    status: 200,
    route: '/predict',
  },
];

describe(`request completion (${ADAPTER}): one log line and one http_requests_total per request, whoever answers it`, () => {
  const { stream: capture, lines } = logCapture();
  let app: INestApplication;

  beforeAll(async () => {
    app = await createApp({
      env: { API_KEYS: `svc:${KEY}`, BODY_LIMIT: '1kb', LOG_LEVEL: 'info', ENABLE_CACHING: 'false', REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0' },
      customize: (b) => b.overrideProvider(LOG_DESTINATION).useValue(capture),
    });
  });
  afterAll(async () => { await app.close(); });

  const scrape = async () => (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
  const completionsOf = (id: string) => lines.filter((l) => l.request_id === id && COMPLETION_MESSAGES.has(l.msg as string));

  it.each(CASES.map((c, i) => [c.name, i] as const))('%s is completed exactly once', async (_, i) => {
    // Arrange
    const c = CASES[i];
    const id = `rc-${ADAPTER}-${i}-${randomUUID()}`;
    const labels = { method: c.method, route: c.route, status_code: String(c.status) };
    const before = await scrape();

    // Act
    const res = await c.send(app.getHttpServer(), id).expect(c.status);
    await new Promise((r) => setImmediate(r));
    const after = await scrape();

    // Assert: the answer carries the request id in its header and, for an error, in its envelope
    expect(res.headers['x-request-id']).toBe(id);
    if (c.code) expectEnvelope(res.body, c.code, id);
    // One completion line, with the status answered and the route template
    const mine = completionsOf(id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ msg: c.status >= 500 ? 'request_failed' : 'request_completed', method: c.method, route: c.route, status: c.status, duration_ms: expect.any(Number) });
    expect(mine[0].level).toBe(c.status >= 400 ? 40 : 30);
    // One request counted, under that route and under no other route label
    expect(sample(after, 'http_requests_total', labels) - sample(before, 'http_requests_total', labels)).toBe(1);
    const sameStatus = { method: c.method, status_code: String(c.status) };
    expect(total(after, 'http_requests_total', sameStatus) - total(before, 'http_requests_total', sameStatus)).toBe(1);
  });

  it('the answered prediction\'s line names the API key client and the prediction', async () => {
    // Arrange
    const id = `rc-${ADAPTER}-prediction-${randomUUID()}`;

    // Act
    await withKey(request(app.getHttpServer()).post('/predict').set('X-Request-Id', id)).send({ model_id: 'iris', features: SETOSA }).expect(200);
    await new Promise((r) => setImmediate(r));

    // Assert
    const mine = completionsOf(id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ client: 'svc', model_id: 'iris', model_version: '2', variant: 'stable', cached: false });
  });
});
