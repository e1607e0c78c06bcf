import { request as httpRequest } from 'node:http';

import { describeWithRedis, RedisServerProcess } from '../support/redis-server';
import { ChildServer, startServer } from './support/child-server';

/** One POST over a fresh connection (no keep-alive, so the kernel may hand it to any worker): the status, or the socket error code. */
function post(url: string, body: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/predict`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'ERR'));
    req.end(body);
  });
}

const IRIS = JSON.stringify({ model_id: 'iris', features: [5.1, 3.5, 1.4, 0.2] });
const row = Array.from({ length: 256 }, (_, i) => Math.cos(i));
const HEAVY = JSON.stringify({ model_id: 'bench-mlp', features: { input: Array.from({ length: 64 }, () => row) } });

/** The pids of the processes that wrote a /predict completion line so far. */
function servingPids(server: ChildServer): Set<number> {
  return new Set(server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { pid: number; msg?: string; route?: string })
    .filter((l) => l.msg === 'request_completed' && l.route === '/predict').map((l) => l.pid));
}

describeWithRedis('WORKERS=2 (child process: a node:cluster primary and its workers, one Redis)', () => {
  jest.setTimeout(180_000);
  let redis: RedisServerProcess;
  let server: ChildServer | undefined;

  beforeAll(async () => { redis = await RedisServerProcess.start(); });
  afterAll(async () => {
    if (server?.proc.exitCode === null) server.proc.kill('SIGKILL');
    await redis?.stop();
  });

  it('both workers answer; a killed worker is replaced; SIGTERM with requests in flight answers all of them and exits 0', async () => {
    // Arrange
    server = await startServer({ WORKERS: '2', REDIS_URL: redis.url, LOG_LEVEL: 'info', REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false', MAX_QUEUE: '1000' }, { readyTimeoutMs: 120_000 });
    const { url } = server;

    // Act 1: fresh connections until two workers have answered
    for (let i = 0; i < 200 && servingPids(server).size < 2; i += 1) expect(await post(url, IRIS)).toBe(200);
    const first = servingPids(server);

    // Act 2: kill one worker; its replacement answers too
    const [victim] = [...first];
    process.kill(victim, 'SIGKILL');
    while (!/worker \d+ died \(SIGKILL\)/.test(server.output())) await new Promise((r) => setTimeout(r, 20));
    // The replacement loads the models before it listens: wait for its "listening" line (the third one).
    while ((server.output().match(/"msg":"listening on http/g) ?? []).length < 3) await new Promise((r) => setTimeout(r, 50));
    let statuses: (number | string)[] = [];
    for (let i = 0; i < 400 && ![...servingPids(server)].some((p) => !first.has(p)); i += 1) statuses.push(await post(url, IRIS));
    const replaced = [...servingPids(server)].filter((p) => !first.has(p));

    // Act 3: SIGTERM to the primary with heavy requests in flight
    let answered = 0;
    const inFlight = Array.from({ length: 40 }, () => post(url, HEAVY).then((s) => { answered += 1; return s; }));
    while (answered < 2) await new Promise((r) => setTimeout(r, 5));
    server.proc.kill('SIGTERM');
    const settled = await Promise.all(inFlight);
    const code = await server.exited;

    // Assert
    expect(first.size).toBe(2);
    expect(replaced).toHaveLength(1);
    // A connection the dying worker had accepted may be cut by the kill; none of those counts here.
    statuses = statuses.filter((s) => s !== 'ECONNRESET');
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(settled.filter((s) => s !== 200)).toEqual([]);
    expect(server.output()).toMatch(/all workers stopped/);
    expect(code).toBe(0);
  });
});
