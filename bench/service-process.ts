import { ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer, AddressInfo } from 'node:net';
import { resolve } from 'node:path';

/** Root of the project (bench/ lives directly under it). */
export const ROOT = resolve(__dirname, '..');

/** Every child this benchmark started, so that they are killed on any exit. */
const children = new Set<ChildProcess>();

let hooksInstalled = false;
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`);
      process.exit(130);
    });
  }
}

/** A port that was free a moment ago: listen on 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/** Keeps the last `max` characters written to a stream. */
class Tail {
  private text = '';
  constructor(private readonly max = 16_384) {}
  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > this.max) this.text = this.text.slice(-this.max);
  }
  toString(): string {
    return this.text;
  }
}

export interface ManagedProcess {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  stdoutTail(): string;
  stderrTail(): string;
  /** SIGTERM by pid; SIGKILL after `graceMs`. Resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

function manage(name: string, child: ChildProcess, port: number, out: Tail, err: Tail): ManagedProcess {
  const exited = new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', () => done());
  });
  exited.then(() => children.delete(child));
  return {
    name,
    port,
    pid: child.pid ?? -1,
    url: `http://127.0.0.1:${port}`,
    stdoutTail: () => out.toString(),
    stderrTail: () => err.toString(),
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      process.kill(child.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)));
      const killed = await Promise.race([exited.then(() => false), timedOut]);
      clearTimeout(timer);
      if (killed && child.exitCode === null && child.signalCode === null) {
        process.stderr.write(`bench: ${name} (pid ${child.pid}) ignored SIGTERM for ${graceMs} ms, SIGKILL\n`);
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
    },
  };
}

function spawnTracked(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; out: Tail; err: Tail } {
  installExitHooks();
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const out = new Tail();
  const err = new Tail();
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  return { child, out, err };
}

/** Which limit server: raw node:http (reference-server.js) or a bare NestJS app on Express or Fastify. */
export type ReferenceKind = 'raw' | 'nest-express' | 'nest-fastify';

const REFERENCE_ARGS: Record<ReferenceKind, string[]> = {
  raw: [resolve(__dirname, 'reference-server.js'), '0'],
  'nest-express': ['-r', 'ts-node/register/transpile-only', resolve(__dirname, 'nest-baseline-server.ts'), '0', 'express'],
  'nest-fastify': ['-r', 'ts-node/register/transpile-only', resolve(__dirname, 'nest-baseline-server.ts'), '0', 'fastify'],
};

/** Starts a limit server in its own process (its own event loop, not autocannon's). */
export async function startReferenceServer(kind: ReferenceKind = 'raw'): Promise<ManagedProcess> {
  const { child, out, err } = spawnTracked(REFERENCE_ARGS[kind], process.env);
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`reference server did not start: ${err.toString()}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`reference server exited (${code}): ${err.toString()}`));
    });
    child.stdout?.on('data', () => {
      const m = /listening (\d+)/.exec(out.toString());
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
  });
  return manage('reference', child, port, out, err);
}

export class ServiceStartError extends Error {
  constructor(
    message: string,
    readonly stderrTail: string,
    readonly stdoutTail: string,
  ) {
    super(message);
  }
}

function getStatus(url: string, timeoutMs = 2_000): Promise<number> {
  return new Promise((done) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(0));
    req.end();
  });
}

/** The production-like environment of every measured service; `overrides` add the scenario's settings. */
export function serviceEnv(port: number, overrides: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    REQUESTS_PER_MINUTE: '0',
    REQUESTS_PER_HOUR: '0',
    MAX_QUEUE: '10000',
    MAX_MEMORY_MB: '16384',
    ENABLE_METRICS: 'true',
    METRICS_PORT: String(port),
    ...overrides,
  };
}

/**
 * Starts `node dist/main.js` on a free port with {@link serviceEnv} and waits until
 * GET /health/ready answers 200 (at most `readyTimeoutMs`). Throws {@link ServiceStartError}
 * with the output tails when it exits or never becomes ready (the process is stopped then).
 */
export async function startService(
  name: string,
  overrides: Record<string, string>,
  readyTimeoutMs = 60_000,
): Promise<ManagedProcess> {
  const port = await freePort();
  const env = serviceEnv(port, overrides);
  const { child, out, err } = spawnTracked([resolve(ROOT, 'dist/main.js')], env);
  const managed = manage(name, child, port, out, err);
  const deadline = Date.now() + readyTimeoutMs;
  const state: { exit: string | undefined } = { exit: undefined };
  child.once('exit', (code, signal) => (state.exit = String(code ?? signal)));
  while (Date.now() < deadline) {
    if (state.exit !== undefined) {
      throw new ServiceStartError(`service ${name} exited (${state.exit}) before it was ready`, err.toString(), out.toString());
    }
    if ((await getStatus(`${managed.url}/health/ready`)) === 200) return managed;
    await new Promise((r) => setTimeout(r, 200));
  }
  await managed.stop();
  throw new ServiceStartError(
    `service ${name} was not ready within ${readyTimeoutMs / 1000} s`,
    err.toString(),
    out.toString(),
  );
}
