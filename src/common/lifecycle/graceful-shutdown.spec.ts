import { INestApplication, Logger } from '@nestjs/common';
import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';

import { drainHttp, installGracefulShutdown } from './graceful-shutdown';
import { ShutdownState } from './shutdown-state';

const quiet = new Logger('test');
quiet.log = () => undefined;
quiet.warn = () => undefined;

/** A real HTTP server on 127.0.0.1 whose handler is `handle`, tracked by a ShutdownState. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; state: ShutdownState; port: number }> {
  const server = createServer(handle);
  const state = new ShutdownState();
  state.track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, state, port: (server.address() as AddressInfo).port };
}

/** A raw HTTP/1.1 request on `socket`: the status line's code, or the socket error's code. */
function exchange(socket: Socket, keepAlive = false): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (d: Buffer) => { data += d.toString(); });
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'ERR'));
    socket.on('close', () => resolve(data.split(' ')[1] ?? 'EMPTY'));
    socket.write(`GET / HTTP/1.1\r\nHost: x\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`);
  });
}

const ok = (_req: IncomingMessage, res: ServerResponse) => res.end('ok');

describe('drainHttp', () => {
  it('answers connections still in the kernel accept queue when the drain starts, instead of resetting them', async () => {
    // Arrange: 20 connects complete in the kernel while this turn of the event loop has not reached its poll phase
    const { server, state, port } = await serve(ok);
    const clients = Array.from({ length: 20 }, () => connect(port, '127.0.0.1'));
    await new Promise((resolve) => process.nextTick(resolve));
    await new Promise((resolve) => process.nextTick(resolve));
    const acceptedBefore = state.accepted;

    // Act
    const drained = drainHttp(server, state, 5000, quiet);
    const results = await Promise.all(clients.map((c) => exchange(c)));
    await drained;

    // Assert
    expect(acceptedBefore).toBe(0);
    expect(results).toEqual(Array(20).fill('200'));
  });

  it('refuses new connections once the listener is closed and resolves when the last connection ends', async () => {
    // Arrange
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const { server, state, port } = await serve((_req, res) => void held.then(() => res.end('late')));
    const inFlight = connect(port, '127.0.0.1');
    const answer = exchange(inFlight);
    while (state.inFlight === 0) await new Promise((resolve) => setImmediate(resolve));

    // Act
    let done = false;
    const drained = drainHttp(server, state, 5000, quiet).then(() => { done = true; });
    while (server.listening) await new Promise((resolve) => setImmediate(resolve));
    const refused = await new Promise<string>((resolve) => {
      const late = connect(port, '127.0.0.1');
      late.on('connect', () => resolve('connected'));
      late.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'ERR'));
    });
    await new Promise((resolve) => setImmediate(resolve));
    const doneWhileHeld = done;
    release();
    await drained;

    // Assert
    expect(refused).toBe('ECONNREFUSED');
    expect(doneWhileHeld).toBe(false);
    expect(await answer).toBe('200');
  });

  it('answers a request in flight on a keep-alive connection with Connection: close', async () => {
    // Arrange
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const { server, state, port } = await serve((_req, res) => void held.then(() => res.end('ok')));
    const status = new Promise<{ code?: number; connection?: string }>((resolve) => {
      httpRequest({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'keep-alive' } }, (res) => {
        res.resume();
        resolve({ code: res.statusCode, connection: res.headers.connection });
      }).end();
    });
    while (state.inFlight === 0) await new Promise((resolve) => setImmediate(resolve));

    // Act
    state.begin();
    const drained = drainHttp(server, state, 5000, quiet);
    release();
    await drained;

    // Assert
    expect(await status).toEqual({ code: 200, connection: 'close' });
  });

  it('cuts the connections left when the budget is spent', async () => {
    // Arrange: a handler that never answers
    const { server, state, port } = await serve(() => undefined);
    const stuck = connect(port, '127.0.0.1');
    const answer = exchange(stuck);
    while (state.inFlight === 0) await new Promise((resolve) => setImmediate(resolve));

    // Act
    await drainHttp(server, state, 50, quiet);

    // Assert
    expect(await answer).toBe('EMPTY');
  });
});

/** A stand-in for the Nest app: its ShutdownState, a real HTTP server, and a close() the test controls. */
function fakeApp(server: Server, state: ShutdownState, close: () => Promise<void>): INestApplication {
  return { get: () => state, getHttpServer: () => server, close } as unknown as INestApplication;
}

describe('installGracefulShutdown', () => {
  it('drains, closes the app (shutdown hooks), then exits 0', async () => {
    // Arrange
    const server = createServer(ok);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const state = new ShutdownState();
    const steps: string[] = [];
    const exited = new Promise<number>((resolve) => {
      const run = installGracefulShutdown(fakeApp(server, state, async () => { steps.push(`close, listening=${server.listening}`); }), {
        timeoutMs: 5000, delayMs: 0, signals: [], exit: (code) => resolve(code), sleep: async () => { steps.push('delay'); },
      });
      void run('TEST');
    });

    // Act
    const code = await exited;

    // Assert
    expect(code).toBe(0);
    expect(steps).toEqual(['delay', 'close, listening=false']);
    expect(state.shuttingDown).toBe(true);
  });

  it('gives the shutdown hooks only what is left of the one budget, and exits 1 when they overrun it', async () => {
    // Arrange: a clock the test moves, and hooks that never finish
    const server = createServer(ok);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const state = new ShutdownState();
    let clock = 1000;
    state.now = () => clock;
    let leftForHooks: number | undefined;
    const exited = new Promise<number>((resolve) => {
      const run = installGracefulShutdown(fakeApp(server, state, () => {
        clock += 30;
        leftForHooks = state.remainingMs();
        return new Promise<void>(() => undefined);
      }), { timeoutMs: 100, delayMs: 5000, signals: [], exit: (code) => resolve(code), sleep: async () => { clock += 5000; } });
      void run('TEST');
    });

    // Act
    const code = await exited;

    // Assert: the delay is not part of the budget; the drain took none of the fake clock, the hooks 30 ms of it
    expect(leftForHooks).toBe(70);
    expect(code).toBe(1);
  });

  it('runs once however many signals arrive', async () => {
    // Arrange
    const server = createServer(ok);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const state = new ShutdownState();
    let closes = 0;
    const codes: number[] = [];
    let run!: (signal: string) => Promise<void>;
    await new Promise<void>((resolve) => {
      run = installGracefulShutdown(fakeApp(server, state, async () => { closes += 1; }), {
        timeoutMs: 5000, delayMs: 0, signals: [], exit: (code) => { codes.push(code); resolve(); }, sleep: async () => undefined,
      });
      void run('SIGTERM');
      void run('SIGINT');
    });

    // Act
    await run('SIGTERM');

    // Assert
    expect(closes).toBe(1);
    expect(codes).toEqual([0]);
  });
});
