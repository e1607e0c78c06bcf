import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, AddressInfo } from 'node:net';
import { resolve } from 'node:path';

import { EnvironmentVariables } from '../src/config/environment.variables';

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

/** A port that was free a moment ago (and is none of `not`): listen on 0, read it, close. */
export async function freePort(not: number[] = []): Promise<number> {
  for (;;) {
    const port = await anyFreePort();
    if (!not.includes(port)) return port;
  }
}

function anyFreePort(): Promise<number> {
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

/**
 * Keeps (about) the last `max` bytes written to a stream. Chunks are kept as Buffers and only
 * decoded when read: a service logging one JSON line per request writes megabytes a minute, and
 * this runs in the same process as the load generator, so draining must stay cheap.
 */
class Tail {
  private chunks: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly max = 16_384) {}
  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.chunks.push(buf);
    this.bytes += buf.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0].length >= this.max) {
      this.bytes -= this.chunks[0].length;
      this.chunks.shift();
    }
  }
  toString(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return text.length > this.max ? text.slice(-this.max) : text;
  }
}

export interface ManagedProcess {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  /** The service's GRPC_PORT (a free port of its own); undefined for the limit servers and when gRPC is off (GRPC_PORT=0). */
  readonly grpcPort?: number;
  stdoutTail(): string;
  stderrTail(): string;
  /** Also hands every chunk of the child's stdout to `listener` from now on (e.g. V8's --trace-gc-nvp lines). */
  onStdout(listener: (chunk: Buffer) => void): void;
  /** SIGTERM by pid; SIGKILL after `graceMs`. Resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

function manage(name: string, child: ChildProcess, port: number, out: Tail, err: Tail, grpcPort?: number): ManagedProcess {
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
    grpcPort,
    stdoutTail: () => out.toString(),
    stderrTail: () => err.toString(),
    onStdout: (listener) => void child.stdout?.on('data', listener),
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

/** Which limit server: raw node:http (reference-server.js) or a bare NestJS app on Express or Fastify; or the OTLP sink of the tracing scenarios (otlp-sink.js). */
export type ReferenceKind = 'raw' | 'nest-express' | 'nest-fastify' | 'otlp-sink';

const REFERENCE_ARGS: Record<ReferenceKind, string[]> = {
  raw: [resolve(__dirname, 'reference-server.js'), '0'],
  'nest-express': ['-r', 'ts-node/register/transpile-only', resolve(__dirname, 'nest-baseline-server.ts'), '0', 'express'],
  'nest-fastify': ['-r', 'ts-node/register/transpile-only', resolve(__dirname, 'nest-baseline-server.ts'), '0', 'fastify'],
  'otlp-sink': [resolve(__dirname, 'otlp-sink.js'), '0'],
};

/**
 * Starts a limit server in its own process (its own event loop, not autocannon's), with node's
 * defaults unless `nodeFlags` are given (e.g. {@link serviceNodeFlags}, for a context figure).
 */
export async function startReferenceServer(kind: ReferenceKind = 'raw', nodeFlags: string[] = []): Promise<ManagedProcess> {
  const { child, out, err } = spawnTracked([...nodeFlags, ...REFERENCE_ARGS[kind]], process.env);
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
  return manage(kind === 'raw' ? 'reference' : kind, child, port, out, err);
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

/** The HTTP adapter the service is asked to run on (HTTP_ADAPTER; the service's default is fastify). */
export type HttpAdapter = 'fastify' | 'express';

export function adapterFrom(raw: string | undefined, fallback: HttpAdapter = 'fastify'): HttpAdapter {
  const v = (raw ?? '').trim().toLowerCase();
  if (v === '') return fallback;
  if (v === 'fastify' || v === 'express') return v;
  throw new Error(`HTTP_ADAPTER must be fastify or express, not ${JSON.stringify(raw)}`);
}

/** Throttling stays ON (the guard and its storage run on every request) at limits no run reaches. */
export const HIGH_RATE_LIMIT = '1000000000';

/**
 * Variables of the service that the parent's environment must not leak into a measured child
 * (the run is of the service's defaults unless a scenario, or BENCH_SERVICE_ENV, says otherwise).
 * Every variable of EnvironmentVariables plus HTTP_ADAPTER, and every OTEL_* (an exporter
 * endpoint in the shell would turn tracing on in every service).
 */
const SERVICE_VARIABLES = new Set([...Object.keys(new EnvironmentVariables()), 'HTTP_ADAPTER']);
const isServiceVariable = (name: string): boolean => SERVICE_VARIABLES.has(name) || name.startsWith('OTEL_');

/**
 * Extra settings for every measured service from BENCH_SERVICE_ENV ("K=V K2=V2", space or comma
 * separated), e.g. `LOG_LEVEL=warn` to see what the request log costs. Empty by default.
 */
export function benchServiceEnv(raw = process.env.BENCH_SERVICE_ENV): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(/[\s,]+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`BENCH_SERVICE_ENV: expected K=V, got ${JSON.stringify(pair)}`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * The environment of every measured service: the service's own defaults (LOG_LEVEL=info with one
 * JSON line per request on stdout, cache on, metrics on, gRPC on, MAX_QUEUE and MAX_MEMORY_MB at
 * their defaults) except NODE_ENV=production, the port (metrics on that same port, so a scenario
 * can diff /metrics), GRPC_PORT `grpcPort` (a free port, not the default 8001 that a service
 * running on the machine may hold), 127.0.0.1, throttling on at {@link HIGH_RATE_LIMIT} per
 * minute and per hour, and HTTP_ADAPTER=`adapter`. `overrides` add the scenario's settings,
 * BENCH_SERVICE_ENV last.
 */
export function serviceEnv(port: number, adapter: HttpAdapter, overrides: Record<string, string>, grpcPort?: number): NodeJS.ProcessEnv {
  const inherited: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!isServiceVariable(k)) inherited[k] = v;
  return {
    ...inherited,
    NODE_ENV: 'production',
    // Production refuses to start without API_KEYS unless anonymous callers are meant: the bench's are.
    ALLOW_ANONYMOUS: 'true',
    PORT: String(port),
    HOST: '127.0.0.1',
    HTTP_ADAPTER: adapter,
    REQUESTS_PER_MINUTE: HIGH_RATE_LIMIT,
    REQUESTS_PER_HOUR: HIGH_RATE_LIMIT,
    ENABLE_METRICS: 'true',
    METRICS_PORT: String(port),
    ...(grpcPort === undefined ? {} : { GRPC_PORT: String(grpcPort) }),
    ...overrides,
    ...benchServiceEnv(),
  };
}

/**
 * The node flags of package.json's start script (`node <flags> dist/main.js`, as the Dockerfile's
 * CMD): the bench starts the service as `npm start` does, so a flag there is part of the default
 * configuration measured. Read from package.json, so the two cannot drift apart.
 */
export function startScriptNodeFlags(start = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start): string[] {
  const words = start.trim().split(/\s+/);
  const main = words.indexOf('dist/main.js');
  if (words[0] !== 'node' || main < 1) throw new Error(`package.json's start script is not "node [flags] dist/main.js": ${start}`);
  return words.slice(1, main);
}

let serviceNodeFlagsRead: string[] | undefined;

/** {@link startScriptNodeFlags} of this checkout, read once, on first use (importing this module never reads package.json). */
export function serviceNodeFlags(): string[] {
  serviceNodeFlagsRead ??= startScriptNodeFlags();
  return serviceNodeFlagsRead;
}

export interface StartServiceOptions {
  /** HTTP_ADAPTER for the child (fastify unless said). */
  adapter?: HttpAdapter;
  /** Scenario settings on top of {@link serviceEnv}. */
  overrides?: Record<string, string>;
  /** Node flags before dist/main.js besides {@link serviceNodeFlags}, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Default 60 s. */
  readyTimeoutMs?: number;
}

/**
 * Starts `node <serviceNodeFlags()> dist/main.js` on a free port (GRPC_PORT on another) with {@link serviceEnv} and
 * waits until GET /health/ready answers 200 (at most `readyTimeoutMs`; gRPC binds right after HTTP
 * listens, so grpc-load.ts waits for ServerReady itself). Throws {@link ServiceStartError}
 * with the output tails when it exits or never becomes ready (the process is stopped then).
 * The child's stdout (the request log) is drained continuously; only a tail is kept.
 */
export async function startService(name: string, options: StartServiceOptions = {}): Promise<ManagedProcess> {
  const { adapter = 'fastify', overrides = {}, nodeArgs = [], readyTimeoutMs = 60_000 } = options;
  const port = await freePort();
  const env = serviceEnv(port, adapter, overrides, await freePort([port]));
  const grpcPort = Number(env.GRPC_PORT ?? 8001);
  const { child, out, err } = spawnTracked([...serviceNodeFlags(), ...nodeArgs, resolve(ROOT, 'dist/main.js')], env);
  const managed = manage(name, child, port, out, err, Number.isInteger(grpcPort) && grpcPort > 0 ? grpcPort : undefined);
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

/** Resident set size of a process in bytes (Linux /proc/<pid>/status VmRSS, else `ps -o rss=`); undefined if gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* no procfs (macOS) or the process is gone: try ps */
  }
  try {
    const kb = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim());
    return Number.isFinite(kb) && kb > 0 ? kb * 1024 : undefined;
  } catch {
    return undefined;
  }
}

let clockTicks: number | undefined;

/**
 * CPU time a process has used so far, user + system, in seconds (Linux /proc/<pid>/stat, all its
 * threads: the event loop, the onnxruntime worker, GC); undefined elsewhere or once it is gone.
 * Diffed around a run and divided by its requests, it is a cost per request that other load on a
 * shared machine disturbs far less than req/s.
 */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses: state is [0], utime [11], stime [12].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}
