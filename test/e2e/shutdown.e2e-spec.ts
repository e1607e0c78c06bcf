import { request as httpRequest } from 'node:http';

import { ChildServer, startServer } from './support/child-server';

/** One POST over a fresh connection (no keep-alive): the status, or the socket error code; `connected` resolves when its TCP connect completed. */
function post(url: string, body: string): { result: Promise<number | string>; connected: Promise<void> } {
  let connected!: () => void;
  const onConnect = new Promise<void>((resolve) => { connected = resolve; });
  const result = new Promise<number | string>((resolve) => {
    const req = httpRequest(`${url}/predict`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('socket', (socket) => socket.once('connect', connected));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'ERR'));
    req.end(body);
  });
  return { result, connected: onConnect };
}

const row = Array.from({ length: 256 }, (_, i) => Math.cos(i));
const heavy = JSON.stringify({ model_id: 'bench-mlp', features: { input: Array.from({ length: 64 }, () => row) } });

describe('graceful shutdown (child process)', () => {
  jest.setTimeout(120_000);
  let server: ChildServer | undefined;
  afterEach(() => { if (server?.proc.exitCode === null) server.proc.kill('SIGKILL'); });

  it('SIGTERM with 50 connections open (no keep-alive): every client that connected before the signal gets 200, none a reset; new connections are refused; exit 0', async () => {
    server = await startServer({ REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false', MAX_QUEUE: '1000', LOG_LEVEL: 'info' });
    const { url } = server;
    let answered = 0;
    const calls = Array.from({ length: 50 }, () => post(url, heavy));
    for (const c of calls) void c.result.then(() => { answered += 1; });
    // Every TCP connect completed (in the kernel's accept queue at least), and one answer came back.
    await Promise.all(calls.map((c) => c.connected));
    while (answered < 1) await new Promise((r) => setTimeout(r, 5));
    server.proc.kill('SIGTERM');
    const inFlightAtSignal = 50 - answered;
    // The late connections come once the server says its listener is closed (its event loop may be
    // busy parsing the bodies it just received): waited for as an event, never a fixed sleep.
    while (!/listener closed: new connections are refused/.test(server.output())) await new Promise((r) => setTimeout(r, 5));
    const late = await Promise.all(Array.from({ length: 5 }, () => post(url, heavy).result));
    const settled = await Promise.all(calls.map((c) => c.result));
    const code = await server.exited;

    const served = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.route === '/predict' && typeof l.msg === 'string' && l.msg.startsWith('request_'));
    expect(inFlightAtSignal).toBeGreaterThan(0);
    expect(settled).toEqual(Array(50).fill(200));
    expect(served.length).toBe(50);
    expect(late).toEqual(Array(5).fill('ECONNREFUSED'));
    expect(server.output()).toMatch(/released 5 model versions \(onnxruntime sessions\)/);
    expect(code).toBe(0);
    expect(server.output()).not.toMatch(/Unhandled|ERR_/);
  });

  it('SIGTERM during 200 concurrent predictions: every request the server took is answered 200, exit 0', async () => {
    server = await startServer({ REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false', MAX_QUEUE: '1000', LOG_LEVEL: 'info' });
    const { url } = server;
    let answered = 0;
    const calls = Array.from({ length: 200 }, () => post(url, heavy));
    for (const c of calls) void c.result.then(() => { answered += 1; });
    await Promise.all(calls.map((c) => c.connected));
    while (answered < 10) await new Promise((r) => setTimeout(r, 5));
    server.proc.kill('SIGTERM');
    const settled = await Promise.all(calls.map((c) => c.result));
    const code = await server.exited;

    // Every connection completed before the signal, so every one must be answered (none reset).
    expect(settled.filter((s) => s !== 200)).toEqual([]);
    expect(code).toBe(0);
  });

  it('with SHUTDOWN_DELAY_SECONDS, readiness is 503 at once while predictions are still served', async () => {
    server = await startServer({ SHUTDOWN_DELAY_SECONDS: '2', LOG_LEVEL: 'info' });
    const { url } = server;
    server.proc.kill('SIGTERM');
    // Waited for as the server's own log line of the signal, never a fixed sleep.
    while (!/SIGTERM: readiness now 503/.test(server.output())) await new Promise((r) => setTimeout(r, 5));
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: { shutdown: { status: string } } }).error.shutdown.status).toBe('down');
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    const predict = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: [5.1, 3.5, 1.4, 0.2] }) });
    expect(predict.status).toBe(200);
    expect(await server.exited).toBe(0);
  });
});
