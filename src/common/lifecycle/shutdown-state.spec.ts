import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';

import { ShutdownState } from './shutdown-state';

/** A tracked server on 127.0.0.1 with a clock the test moves. */
async function tracked(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handle);
  const sut = new ShutdownState();
  let clock = 0;
  sut.now = () => clock;
  sut.track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const open = async (): Promise<Socket> => {
    const before = sut.accepted;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    while (sut.accepted === before) await new Promise((resolve) => setImmediate(resolve));
    return socket;
  };
  return { server, sut, open, advance: (ms: number) => { clock += ms; } };
}

const closed = (socket: Socket) => new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
/** Lets the server read and answer what was sent. */
const settle = async (ticks = 20) => { for (let i = 0; i < ticks; i += 1) await new Promise((resolve) => setImmediate(resolve)); };

describe('ShutdownState', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  });

  describe('closeIdleConnections', () => {
    it('leaves a connection that has sent nothing yet while it is younger than the silence allowed (closing it would reset a client that connected)', async () => {
      // Arrange
      const t = await tracked((_req, res) => res.end('ok'));
      server = t.server;
      const socket = await t.open();
      t.advance(999);

      // Act
      t.sut.closeIdleConnections(1000);
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const answer = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));

      // Assert
      expect(answer).toMatch(/^HTTP\/1.1 200/);
    });

    it('closes a connection silent for the allowed time once nothing is in flight (nothing sent, nothing lost)', async () => {
      // Arrange
      const t = await tracked((_req, res) => res.end('ok'));
      server = t.server;
      const socket = await t.open();
      t.advance(1000);

      // Act
      t.sut.closeIdleConnections(1000);
      await closed(socket);

      // Assert
      expect(socket.closed).toBe(true);
    });

    it('closes a keep-alive connection between requests, but not one whose request is in flight', async () => {
      // Arrange
      let release!: () => void;
      const held = new Promise<void>((resolve) => { release = resolve; });
      const t = await tracked((req, res) => (req.url === '/hold' ? void held.then(() => res.end('held')) : res.end('ok')));
      server = t.server;
      const idle = await t.open();
      idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((resolve) => idle.once('data', resolve));
      const busy = await t.open();
      busy.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
      while (t.sut.inFlight === 0) await settle(1);
      await settle();

      // Act
      t.sut.closeIdleConnections(1000);
      await closed(idle);
      release();
      const answer = await new Promise<string>((resolve) => busy.once('data', (d: Buffer) => resolve(d.toString())));

      // Assert
      expect(idle.closed).toBe(true);
      expect(answer).toMatch(/^HTTP\/1.1 200[\s\S]*held$/);
    });
  });

  describe('the budget', () => {
    it('has no remaining time before a budgeted stop, then counts down from the start and never below 0', () => {
      // Arrange
      const sut = new ShutdownState();
      let clock = 500;
      sut.now = () => clock;

      // Act
      const before = sut.remainingMs();
      sut.startBudget(100);
      clock += 40;
      const during = sut.remainingMs();
      sut.startBudget(10_000);
      clock += 100;
      const after = sut.remainingMs();

      // Assert
      expect(before).toBeUndefined();
      expect(during).toBe(60);
      expect(after).toBe(0);
      expect(sut.shuttingDown).toBe(true);
    });
  });

  it('counts requests in flight and, once shutting down, answers them with Connection: close', async () => {
    // Arrange
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const t = await tracked((_req, res) => void held.then(() => res.end('ok')));
    server = t.server;
    const socket = await t.open();
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    while (t.sut.inFlight === 0) await settle(1);

    // Act
    t.sut.begin();
    release();
    const answer = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
    await closed(socket);

    // Assert
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(t.sut.inFlight).toBe(0);
  });
});
