import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';

import { freePort } from '../e2e/support/child-server';

/** Debian's redis-server (CI installs it: .ci/run). */
export const REDIS_SERVER_BINARY = '/usr/bin/redis-server';

/** How often a start whose free port was taken in the meantime is tried again on a new port. */
const PORT_ATTEMPTS = 5;


/** One PING over a raw socket: true when the server answers +PONG within `timeoutMs`. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((ok) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (result: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      ok(result);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

class PortTaken extends Error {}

export interface RedisServerOptions {
  /**
   * Keep the data across restarts in this (existing) directory: an append-only file synced at
   * every write, as a production Redis with persistence. Default: no persistence.
   */
  dataDir?: string;
}

/**
 * A real redis-server as a child process of the test, on a free loopback port, by default without
 * persistence (`--save '' --appendonly no`: a restart starts empty, as a lost Redis does). It can
 * be stopped by its own pid (never by name) and started again on the same port.
 */
export class RedisServerProcess {
  private proc: ChildProcess | undefined;
  private output = '';

  private constructor(readonly port: number, private readonly options: RedisServerOptions) {}

  /** Starts one on a free port, trying new ports when the chosen one was taken before redis bound it. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServerProcess> {
    for (let attempt = 1; ; attempt += 1) {
      const server = new RedisServerProcess(await freePort(), options);
      try {
        await server.start();
        return server;
      } catch (e) {
        if (!(e instanceof PortTaken) || attempt >= PORT_ATTEMPTS) throw e;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The pid of the running server, or undefined while stopped. */
  get pid(): number | undefined {
    return this.proc?.exitCode === null && this.proc.signalCode === null ? this.proc.pid : undefined;
  }

  /** Starts the server (again) on its port and resolves once it answers PING. */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.pid !== undefined) return;
    this.output = '';
    const { dataDir } = this.options;
    const persistence = dataDir ? ['--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const proc = spawn(REDIS_SERVER_BINARY, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => { this.output += d.toString(); });
    proc.stderr!.on('data', (d: Buffer) => { this.output += d.toString(); });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        if (/already in use|Could not create server TCP listening socket/i.test(this.output)) throw new PortTaken(this.output);
        throw new Error(`redis-server exited early (${proc.exitCode ?? proc.signalCode}):\n${this.output}`);
      }
      if (await ping(this.port, 200)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.stop('SIGKILL');
    throw new Error(`redis-server did not answer PING on port ${this.port} within ${timeoutMs} ms:\n${this.output}`);
  }

  /** Freezes this server (SIGSTOP to its own pid): connections stay open, nothing is answered, the data is kept. */
  pause(): void {
    if (this.pid !== undefined) process.kill(this.pid, 'SIGSTOP');
  }

  /** Lets a paused server run again (SIGCONT). */
  resume(): void {
    if (this.pid !== undefined) process.kill(this.pid, 'SIGCONT');
  }

  /** Stops this server by its own pid and waits for it to exit (SIGCONT follows the signal, so a paused one can act on it). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((ok) => proc.once('exit', () => ok()));
    process.kill(proc.pid!, signal);
    if (signal !== 'SIGKILL') process.kill(proc.pid!, 'SIGCONT');
    await exited;
  }
}

/**
 * `describe` for suites that need a real redis-server. Without the binary the suite is skipped
 * with a message on a developer's machine, and fails when CI=true (CI installs it).
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (existsSync(REDIS_SERVER_BINARY)) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it(`needs ${REDIS_SERVER_BINARY} (CI installs it: apt-get install redis-server)`, () => {
        throw new Error(`${REDIS_SERVER_BINARY} is missing; CI must run the Redis tests`);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`skipping "${name}": ${REDIS_SERVER_BINARY} is missing (apt-get install redis-server; CI runs these tests)`);
  describe.skip(name, body);
}
