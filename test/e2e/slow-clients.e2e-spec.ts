import { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { connect, Socket } from 'node:net';

import { createApp } from './support/create-app';

/** A raw connection to the app: what it receives, and a promise of the close with everything received. */
function open(port: number): { socket: Socket; received: () => string; closed: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  socket.on('data', (d: Buffer) => { data += d.toString('latin1'); });
  const closed = new Promise<string>((resolve) => {
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(data));
  });
  return { socket, received: () => data, closed };
}

/** The status line's code and the parsed JSON body of the first response in `raw`. */
function firstResponse(raw: string): { status: number; headers: string; body: Record<string, unknown> } {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
  return { status: Number(head.split(' ')[1]), headers: head, body: JSON.parse(rest.join('\r\n\r\n').slice(0, length)) as Record<string, unknown> };
}

function expectEnvelope(res: ReturnType<typeof firstResponse>, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ status: 'error', error: { code, details: [] }, request_id: expect.any(String) });
  expect(res.headers).toMatch(new RegExp(`x-request-id: ${res.body.request_id as string}`, 'i'));
  expect(res.headers).toMatch(/connection: close/i);
}

describe('slow and ambiguous clients (real server on 127.0.0.1)', () => {
  let app: INestApplication;
  let port: number;

  beforeAll(async () => {
    app = await createApp({
      env: { HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '2', KEEP_ALIVE_TIMEOUT_SECONDS: '1', MAX_HEADER_BYTES: '4096', MAX_CONNECTIONS: '20' },
    });
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(async () => { await app.close(); });

  it('cuts off a client sending its headers a byte at a time (slowloris) with 408, while other clients are served', async () => {
    // Arrange
    const slow = open(port);
    const header = 'X-Slow: ' + 'a'.repeat(200);
    let sent = 0;
    slow.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => { if (sent < header.length && slow.socket.writable) slow.socket.write(header[sent++]); }, 100);

    // Act
    const served = await fetch(`http://127.0.0.1:${port}/health/live`);
    const raw = await slow.closed;
    clearInterval(drip);

    // Assert
    expect(served.status).toBe(200);
    expect(sent).toBeLessThan(header.length);
    expectEnvelope(firstResponse(raw), 408, 'REQUEST_TIMEOUT');
  });

  it.each([
    ['both Content-Length and Transfer-Encoding', 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n', /sent together with Content-Length/],
    ['two Content-Lengths', 'Content-Length: 2\r\nContent-Length: 40\r\n', '{}', /Content-Length is invalid or given more than once/],
  ])('refuses a request with %s (request smuggling) with 400 and closes the connection: the smuggled request is never answered', async (_name, headers, body, message) => {
    // Arrange
    const client = open(port);
    const smuggled = 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n';

    // Act
    client.socket.write(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n${body}${smuggled}`);
    const raw = await client.closed;

    // Assert
    const res = firstResponse(raw);
    expectEnvelope(res, 400, 'BAD_REQUEST');
    expect((res.body.error as { message: string }).message).toMatch(message);
    expect(raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
  });

  it('answers a method nothing routes with the 404 envelope and its X-Request-Id header', async () => {
    // Arrange
    const client = open(port);

    // Act
    client.socket.write('SOURCE /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const res = firstResponse(await client.closed);

    // Assert
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ status: 'error', error: { code: 'NOT_FOUND' } });
    expect(res.headers).toMatch(new RegExp(`x-request-id: ${res.body.request_id as string}`, 'i'));
  });

  it('answers a dot-segment path under /docs with a 4xx envelope that does not blame a body (a bodiless GET)', async () => {
    // Arrange: a raw request, so no client normalises the path
    const client = open(port);

    // Act
    client.socket.write('GET /docs/%2e%2e/%2e%2e/package.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const res = firstResponse(await client.closed);

    // Assert
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect((res.body.error as { message: string }).message).not.toMatch(/could not be read|aborted/);
    expect(res.headers).toMatch(new RegExp(`x-request-id: ${res.body.request_id as string}`, 'i'));
  });

  it('answers headers larger than MAX_HEADER_BYTES with 431', async () => {
    // Arrange
    const client = open(port);

    // Act
    client.socket.write(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(8192)}\r\n\r\n`);
    const raw = await client.closed;

    // Assert
    expectEnvelope(firstResponse(raw), 431, 'HEADERS_TOO_LARGE');
  });

  it('closes an idle keep-alive connection after KEEP_ALIVE_TIMEOUT_SECONDS', async () => {
    // Arrange
    const client = open(port);

    // Act
    client.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    const raw = await client.closed;

    // Assert: one answer, then the server closed the connection it kept alive
    expect(raw).toMatch(/^HTTP\/1\.1 200/);
    expect(raw).toMatch(/keep-alive: timeout=1/i);
  });

  it('drops connections beyond MAX_CONNECTIONS at once, and serves those it holds', async () => {
    // Arrange: every connection the cap allows, held open
    const held = Array.from({ length: 20 }, () => open(port));
    await Promise.all(held.map((c) => new Promise((resolve) => c.socket.once('connect', resolve))));
    const server = app.getHttpServer();
    while (await new Promise<number>((resolve) => server.getConnections((_e: Error | null, n: number) => resolve(n))) < 20) await new Promise((r) => setImmediate(r));

    // Act
    const extra = open(port);
    const dropped = await extra.closed;
    held[0].socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const answer = await held[0].closed;
    for (const c of held) c.socket.destroy();

    // Assert
    expect(dropped).toBe('');
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
  });
});
