import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

export interface ChildServer {
  proc: ChildProcess;
  url: string;
  /** The gRPC port when started with `{ grpc: true }`. */
  grpcPort?: number;
  output: () => string;
  exited: Promise<number | null>;
}

export interface StartOptions {
  /** Serve gRPC too, on a free port of its own (ChildServer.grpcPort). */
  grpc?: boolean;
  readyTimeoutMs?: number;
}

/** How often a start whose port was taken in the meantime is tried again on new ports. */
const PORT_ATTEMPTS = 5;

/**
 * Starts the real server (src/main.ts via ts-node, no build needed) as a child process on free
 * ports of 127.0.0.1 and resolves once /health/ready answers 200. A free port is released before
 * the child binds it, so another process may take it in between: a child that stops with
 * EADDRINUSE is started again on new ports. gRPC is off unless `options.grpc`.
 */
export async function startServer(env: Record<string, string> = {}, options: StartOptions = {}): Promise<ChildServer> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(env, options);
    } catch (e) {
      if (!(e instanceof PortTaken) || attempt >= PORT_ATTEMPTS) throw e;
    }
  }
}

class PortTaken extends Error {}

async function startOnce(env: Record<string, string>, { grpc = false, readyTimeoutMs = 60_000 }: StartOptions): Promise<ChildServer> {
  const port = await freePort();
  let grpcPort = grpc ? await freePort() : undefined;
  while (grpcPort === port) grpcPort = await freePort();
  let out = '';
  const proc = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', METRICS_PORT: String(port), LOG_LEVEL: 'warn',
      REGISTRY_STATE_FILE: join(tmpdir(), `nms-state-${port}-${Date.now()}.json`), ...env, GRPC_PORT: String(grpcPort ?? 0),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      if (/EADDRINUSE/.test(out)) throw new PortTaken(out);
      throw new Error(`server exited early (${proc.exitCode}):\n${out}`);
    }
    const ok = await fetch(`${url}/health/ready`).then((r) => r.ok, () => false);
    if (ok) return { proc, url, grpcPort, output: () => out, exited };
    await new Promise((r) => setTimeout(r, 200));
  }
  proc.kill('SIGKILL');
  throw new Error(`server not ready within ${readyTimeoutMs} ms:\n${out}`);
}
