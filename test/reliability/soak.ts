/**
 * Soak (issue 12): `npm run soak -- [--minutes 10] [--warmup-minutes M] [--connections 32] [--source]`
 *
 * Starts the real server as a child process on a free port of 127.0.0.1 and drives mixed traffic
 * at saturation for --minutes: valid /predict for iris (every body different: cache misses and
 * evictions) and penguins (a few fixed bodies: cache hits), deliberately invalid /predict bodies
 * (422), /predict/batch with a bad item in its slot, V2 JSON /v2/models/iris/infer and V2 binary
 * (binary_data_size in, binary outputs back). One autocannon instance per kind of traffic, so each
 * response's status is judged against what that kind must answer (200, or 422 for the invalid
 * bodies); anything else is unexpected.
 *
 * The child: `node dist/main.js` when dist/main.js exists (build it with `npm run build`; a dist
 * older than src/ is reported), else — or with --source — `node -r ts-node/register/transpile-only
 * src/main.ts`. Its configuration is the service's defaults (LOG_LEVEL=info with one request line
 * per request, cache, metrics, dynamic batching, MAX_MEMORY_MB=1000, …; service variables of this
 * shell are not passed on) except: HOST=127.0.0.1, free ports for PORT, METRICS_PORT and GRPC_PORT,
 * REQUESTS_PER_MINUTE=0 and REQUESTS_PER_HOUR=0 (rate limits off), and a registry state file in
 * the temp dir (the checkout's models/ is never written).
 *
 * Every 10 s: the child's RSS (VmRSS of /proc/<pid>/status) and V8 heap used
 * (nodejs_heap_size_used_bytes of its /metrics, prom-client's default metrics). Prints one row per
 * minute: req/s, RSS MB, heap MB, expected and unexpected non-2xx by status, 5xx, client errors.
 *
 * Exits 1 when, after the warm-up (default 20% of the run), RSS or heap grew more than 10%, on ANY
 * 5xx, on any unexpected status, on any client error or timeout (autocannon, 10 s), or when the
 * child dies; 2 on bad options; 130 on Ctrl-C (the partial table is printed). Only the child it
 * started is killed, by its PID (SIGTERM, SIGKILL after 10 s), on every exit; it runs in its own
 * process group, so a terminal's Ctrl-C reaches this script, which stops the load first.
 *
 * Growth compares floors, not single samples: the lowest sample of the first third of the samples
 * after the warm-up against the lowest of the last third. Heap used (and RSS with it) is a GC
 * sawtooth — in a 2-minute run at ~1,300 req/s the heap went 45 → 105 → 45 MB — so one sample can
 * sit anywhere on it; the floor a major GC leaves is what a leak raises. Each window should hold a
 * major GC: a 10-minute run (2-minute warm-up) has 2:40 windows, longer than the ~1.5-minute period
 * seen at that load; a 2-minute run's 30 s windows are not, so its growth verdict is indicative only.
 */
import autocannon from 'autocannon';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { EnvironmentVariables } from '../../src/config/environment.variables';

const ROOT = resolve(__dirname, '../..');
const SAMPLE_SECONDS = 10;
const GROWTH_LIMIT_PCT = 10;
const READY_TIMEOUT_MS = 90_000;
const REQUEST_TIMEOUT_S = 10;
const STOP_GRACE_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  minutes: number;
  warmupMinutes: number;
  connections: number;
  source: boolean;
}

const USAGE = 'usage: npm run soak -- [--minutes 10] [--warmup-minutes <20% of the run>] [--connections 32] [--source]';

function usageError(message: string): never {
  process.stderr.write(`soak: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function positive(name: string, raw: string | undefined, fallback: number, { integer = false, zero = false } = {}): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < 0 || (!zero && n === 0)) {
    usageError(`--${name} must be a ${integer ? 'whole ' : ''}number${zero ? ' ≥ 0' : ' > 0'}, not ${JSON.stringify(raw)}`);
  }
  return n;
}

function parseOptions(argv: string[]): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        minutes: { type: 'string' },
        'warmup-minutes': { type: 'string' },
        connections: { type: 'string' },
        source: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    usageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const minutes = positive('minutes', values.minutes as string | undefined, 10);
  const warmupMinutes = positive('warmup-minutes', values['warmup-minutes'] as string | undefined, minutes * 0.2, { zero: true });
  const connections = positive('connections', values.connections as string | undefined, 32, { integer: true });
  if (connections < KINDS.length) usageError(`--connections must be at least ${KINDS.length} (one per kind of traffic)`);
  const judged = Math.floor(minutes * 60 / SAMPLE_SECONDS) - Math.ceil(warmupMinutes * 60 / SAMPLE_SECONDS) + 1;
  if (judged < 2) usageError(`a ${minutes}-minute run with a ${+warmupMinutes.toFixed(2)}-minute warm-up leaves fewer than two ${SAMPLE_SECONDS} s samples to judge growth`);
  return { minutes, warmupMinutes, connections, source: Boolean(values.source) };
}

// ---------------------------------------------------------------------------------------------
// Traffic

const JSON_HEADERS = { 'content-type': 'application/json' };

const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
  [6.3, 2.9, 5.6, 1.8],
  [4.9, 3.1, 1.5, 0.1],
];
const PENGUIN_ROWS = [
  [39.1, 18.7, 181, 3750],
  [46.1, 13.2, 211, 4500],
  [50.0, 19.5, 196, 3900],
  [38.6, 21.2, 191, 3800],
];
const irisFeatures = ([sepal_length, sepal_width, petal_length, petal_width]: number[]) => ({ sepal_length, sepal_width, petal_length, petal_width });
const penguinFeatures = ([beak_length_mm, beak_depth_mm, flipper_length_mm, body_mass_g]: number[]) => ({ beak_length_mm, beak_depth_mm, flipper_length_mm, body_mass_g });

/** Row `n` of `rows`, its first value moved by a unique amount (7 decimals): every body different. */
let uniqueSeq = 0;
function uniqueRow(rows: number[][]): number[] {
  const n = uniqueSeq++;
  const row = [...rows[n % rows.length]];
  row[0] = Number((row[0] + ((n % 1_000_000) + 1) * 1e-7).toFixed(7));
  return row;
}

function v2Binary(row: number[], binaryOutput: boolean): autocannon.Request {
  const data = Buffer.from(Float32Array.from(row).buffer);
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: data.length } }],
    ...(binaryOutput ? { outputs: [{ name: 'probabilities', parameters: { binary_data: true } }] } : {}),
  }));
  return {
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    body: Buffer.concat([header, data]),
  };
}

interface Kind {
  name: string;
  /** Share of the connections. */
  weight: number;
  /** The statuses this traffic must get. */
  expected: number[];
  requests: () => autocannon.Request[];
}

const KINDS: Kind[] = [
  {
    name: 'predict iris (unique)',
    weight: 6,
    expected: [200],
    requests: () => [{
      method: 'POST', path: '/predict', headers: JSON_HEADERS,
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ model_id: 'iris', features: irisFeatures(uniqueRow(IRIS_ROWS)) }) }),
    }],
  },
  {
    name: 'predict penguins (cached)',
    weight: 5,
    expected: [200],
    requests: () => PENGUIN_ROWS.map((row, i) => ({
      method: 'POST', path: '/predict', headers: JSON_HEADERS,
      body: JSON.stringify({ model_id: 'penguins', features: i % 2 ? row : penguinFeatures(row) }),
    })),
  },
  {
    name: 'predict invalid (422)',
    weight: 5,
    expected: [422],
    requests: () => [
      { model_id: 'iris', features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4 } },
      { model_id: 'iris', features: { sepal_length: 'wide', sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 } },
      { model_id: 'iris', features: { sepal_length: 1e39, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 } },
      { model_id: 'iris', features: { ...irisFeatures(IRIS_ROWS[0]), colour: 'blue' } },
      { model_id: 'penguins', features: [39.1, 18.7, 181] },
      { model_id: 'iris', features: irisFeatures(IRIS_ROWS[1]), options: { cache: 'no' } },
    ].map((body) => ({ method: 'POST', path: '/predict', headers: JSON_HEADERS, body: JSON.stringify(body) })),
  },
  {
    name: 'predict/batch penguins',
    weight: 4,
    expected: [200],
    requests: () => [{
      method: 'POST', path: '/predict/batch?model_id=penguins', headers: JSON_HEADERS,
      setupRequest: (req) => ({
        ...req,
        body: JSON.stringify([
          penguinFeatures(uniqueRow(PENGUIN_ROWS)),
          { features: uniqueRow(PENGUIN_ROWS) },
          ...PENGUIN_ROWS.map(penguinFeatures),
          { beak_length_mm: 'long' }, // an error in its slot; the batch is still a 200
        ]),
      }),
    }],
  },
  {
    name: 'v2 infer iris JSON',
    weight: 6,
    expected: [200],
    requests: () => [{
      method: 'POST', path: '/v2/models/iris/infer', headers: JSON_HEADERS,
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: uniqueRow(IRIS_ROWS) }] }) }),
    }],
  },
  {
    name: 'v2 infer iris binary',
    weight: 6,
    expected: [200],
    requests: () => IRIS_ROWS.map((row, i) => v2Binary(row, i % 2 === 0)),
  },
];

/** `total` connections over the kinds by weight, at least one each (largest remainders). */
function allocate(total: number): number[] {
  const weights = KINDS.map((k) => k.weight);
  const sum = weights.reduce((a, b) => a + b, 0);
  const spare = total - KINDS.length;
  const exact = weights.map((w) => (spare * w) / sum);
  const out = exact.map((x) => 1 + Math.floor(x));
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i]++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The child server

const children = new Set<ChildProcess>();

function freePort(not: number[] = []): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => (not.includes(port) ? freePort(not).then(ok, fail) : ok(port)));
    });
  });
}

/** Keeps the last `max` bytes written to a stream (the request log is megabytes a minute). */
class Tail {
  private chunks: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly max = 16_384) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0].length >= this.max) this.bytes -= this.chunks.shift()!.length;
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8').slice(-this.max);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

interface Server {
  child: ChildProcess;
  pid: number;
  url: string;
  metricsUrl: string;
  command: string;
  stateFile: string;
  stdout: Tail;
  stderr: Tail;
  exited: Promise<void>;
  exit: { code: number | null; signal: string | null } | undefined;
}

async function startServer(source: boolean): Promise<Server> {
  const dist = join(ROOT, 'dist/main.js');
  const useDist = !source && existsSync(dist);
  const args = useDist ? [dist] : ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src/main.ts')];
  const command = useDist ? 'node dist/main.js' : 'node -r ts-node/register/transpile-only src/main.ts';
  if (useDist && newestMtime(join(ROOT, 'src')) > statSync(dist).mtimeMs) {
    log('WARNING: dist/ is older than src/ — this soaks the last build (npm run build, or --source for src/)');
  } else if (!useDist && !source) {
    log('no dist/main.js (npm run build makes it): running src/main.ts with ts-node');
  }

  const port = await freePort();
  const metricsPort = await freePort([port]);
  const grpcPort = await freePort([port, metricsPort]);
  const stateFile = join(tmpdir(), `nms-soak-state-${process.pid}-${port}.json`);
  // The service's defaults: none of its variables from this shell (nor OpenTelemetry's) reach it.
  const serviceVariables = new Set([...Object.keys(new EnvironmentVariables()), 'HTTP_ADAPTER', 'WORKERS']);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!serviceVariables.has(k) && !k.startsWith('OTEL_')) env[k] = v;
  Object.assign(env, {
    HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(metricsPort), GRPC_PORT: String(grpcPort),
    REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', REGISTRY_STATE_FILE: stateFile,
  });

  // Its own process group: a Ctrl-C in the terminal reaches this script only, which stops the load
  // first and then the server, by its PID.
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  const server: Server = {
    child, pid: child.pid ?? -1, url: `http://127.0.0.1:${port}`, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    command, stateFile, stdout: new Tail(), stderr: new Tail(), exit: undefined,
    exited: new Promise<void>((done) => child.once('exit', (code, signal) => {
      server.exit = { code, signal };
      children.delete(child);
      done();
    })),
  };
  child.stdout!.on('data', (c: Buffer) => server.stdout.push(c));
  child.stderr!.on('data', (c: Buffer) => server.stderr.push(c));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exit) throw new Error(`the server exited (${server.exit.code ?? server.exit.signal}) before it was ready:\n${server.stderr}${server.stdout}`);
    const ready = await fetch(`${server.url}/health/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200, () => false);
    if (ready) return server;
    await new Promise((r) => setTimeout(r, 250));
  }
  await stopServer(server);
  throw new Error(`the server was not ready within ${READY_TIMEOUT_MS / 1000} s:\n${server.stderr}`);
}

/** SIGTERM to the child's PID, SIGKILL after {@link STOP_GRACE_MS}; resolves once it is gone. */
async function stopServer(server: Server): Promise<void> {
  if (!server.exit && server.pid > 0) {
    try {
      process.kill(server.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([server.exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), STOP_GRACE_MS)))]);
    clearTimeout(timer);
    if (late && !server.exit) {
      log(`the server (pid ${server.pid}) ignored SIGTERM for ${STOP_GRACE_MS / 1000} s: SIGKILL`);
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
      await server.exited;
    }
  }
  rmSync(server.stateFile, { force: true });
  rmSync(`${server.stateFile}.tmp`, { force: true });
}

// Whatever happens, the child this script started does not outlive it (by its PID, nothing else).
process.on('exit', () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Measurement

interface Sample {
  t: number; // seconds since the load started
  rssMb: number | undefined;
  heapMb: number | undefined;
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function heapMb(metricsUrl: string): Promise<number | undefined> {
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
    const m = /^nodejs_heap_size_used_bytes\s+([0-9.eE+]+)\s*$/m.exec(await res.text());
    return m ? Number(m[1]) / 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}

/** Counts of one minute (or one kind over the run). */
class Tally {
  responses = 0;
  statuses = new Map<number, number>();
  errors = 0;
  add(status: number): void {
    this.responses++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }
}

/** What each response is judged against: its kind's expected statuses. */
interface Counts {
  expected: Tally;
  unexpected: Tally;
  all: Tally;
}
const newCounts = (): Counts => ({ expected: new Tally(), unexpected: new Tally(), all: new Tally() });


const clock = (t: number): string => `${Math.floor(t / 60)}:${String(Math.round(t % 60)).padStart(2, '0')}`;
const log = (msg: string): void => void process.stderr.write(`soak: ${msg}\n`);
const mb = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(1));
const statusList = (m: Map<number, number>, filter: (s: number) => boolean = () => true): string =>
  [...m].filter(([s]) => filter(s)).sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ') || '-';
const sum5xx = (m: Map<number, number>): number => [...m].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Numbers right-aligned, text (and status lists) left-aligned.
  const line = (cells: string[]) => `| ${cells.map((c, i) => (/^[-+]?[\d.]+%?$/.test(c) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The run

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const durationS = opts.minutes * 60;
  const warmupS = opts.warmupMinutes * 60;
  const split = allocate(opts.connections);

  let interrupted: string | undefined;
  let wake: (() => void) | undefined;
  const instances: autocannon.Instance[] = [];
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = signal;
      log(`${signal}: stopping the load and the server`);
      for (const i of instances) i.stop();
      wake?.();
    });
  }

  const server = await startServer(opts.source);
  log(`server pid ${server.pid} (${server.command}) ready on ${server.url}, metrics on ${server.metricsUrl}`);
  log(`${opts.minutes} min at saturation, ${opts.connections} connections (${KINDS.map((k, i) => `${k.name} ${split[i]}`).join(', ')}), warm-up ${opts.warmupMinutes} min`);
  const idle: Sample = { t: 0, rssMb: rssMb(server.pid), heapMb: await heapMb(server.metricsUrl) };
  log(`idle: RSS ${mb(idle.rssMb)} MB, heap ${mb(idle.heapMb)} MB`);

  const minutes = Math.ceil(opts.minutes);
  const perMinute = Array.from({ length: minutes }, newCounts);
  const perKind = KINDS.map(newCounts);
  const samples: Sample[] = [];
  const start = Date.now();
  const minuteOf = () => Math.min(minutes - 1, Math.floor((Date.now() - start) / 60_000));

  const done = KINDS.map((kind, k) => {
    const instance = autocannon({
      url: server.url,
      connections: split[k],
      duration: durationS + 60, // stopped after the last sample, so the load covers it
      timeout: REQUEST_TIMEOUT_S,
      requests: kind.requests(),
    });
    instances.push(instance);
    instance.on('response', (_client: unknown, statusCode: number) => {
      if (interrupted) return; // answers to a stopped run are not judged
      const status = Number(statusCode);
      const ok = kind.expected.includes(status);
      for (const c of [perMinute[minuteOf()], perKind[k]]) {
        c.all.add(status);
        (ok ? c.expected : c.unexpected).add(status);
      }
    });
    instance.on('reqError', () => {
      if (interrupted) return;
      perMinute[minuteOf()].all.errors++;
      perKind[k].all.errors++;
    });
    return new Promise<autocannon.Result>((ok, fail) => instance.then(ok, fail));
  });

  // Sampling every 10 s from the start of the load, on a schedule (not drift-prone sleeps).
  const count = Math.floor(durationS / SAMPLE_SECONDS);
  for (let n = 1; n <= count && !interrupted && !server.exit; n++) {
    const wait = start + n * SAMPLE_SECONDS * 1000 - Date.now();
    if (wait > 0) await new Promise<void>((r) => { wake = r; setTimeout(r, wait); });
    if (interrupted || server.exit) break;
    const s: Sample = { t: n * SAMPLE_SECONDS, rssMb: rssMb(server.pid), heapMb: await heapMb(server.metricsUrl) };
    samples.push(s);
    const m = perMinute[Math.min(minutes - 1, Math.floor((s.t - 1) / 60))];
    log(`${clock(s.t)} RSS ${mb(s.rssMb)} MB, heap ${mb(s.heapMb)} MB, ${m.all.responses} responses this minute${s.t <= warmupS ? ' (warm-up)' : ''}`);
  }
  for (const i of instances) i.stop();
  await Promise.allSettled(done);
  const loadS = (Date.now() - start) / 1000;
  const childDied = server.exit ? `the server exited during the run (${server.exit.code ?? server.exit.signal})` : undefined;
  await stopServer(server);

  // ---- the table
  const rows = perMinute.map((c, i) => {
    const last = [...samples].reverse().find((s) => s.t <= (i + 1) * 60 && s.t > i * 60);
    const span = Math.max(1, Math.min(60, loadS - i * 60));
    return [
      String(i + 1),
      (c.all.responses / span).toFixed(0),
      mb(last?.rssMb),
      mb(last?.heapMb),
      statusList(c.expected.statuses, (s) => s < 200 || s > 299),
      statusList(c.unexpected.statuses),
      String(sum5xx(c.all.statuses)),
      String(c.all.errors),
      (i + 1) * 60 <= warmupS ? 'warm-up' : i * 60 < warmupS ? 'warm-up ends' : '',
    ];
  }).filter((_, i) => i * 60 < loadS);
  const header = ['minute', 'req/s', 'RSS MB', 'heap MB', 'expected non-2xx', 'unexpected', '5xx', 'errors', ''];
  process.stdout.write(`\n${table(header, rows)}\n\n`);

  const kindRows = KINDS.map((k, i) => {
    const c = perKind[i];
    return [k.name, String(split[i]), (c.all.responses / loadS).toFixed(0), statusList(c.expected.statuses), statusList(c.unexpected.statuses), String(c.all.errors)];
  });
  process.stdout.write(`${table(['traffic', 'conns', 'req/s', 'expected', 'unexpected', 'errors'], kindRows)}\n\n`);

  // ---- the verdict
  const failures: string[] = [];
  if (interrupted) failures.push(`interrupted (${interrupted}) after ${clock(loadS)}`);
  if (childDied) failures.push(childDied);

  const judged = samples.filter((s) => s.t >= warmupS);
  const w = Math.max(1, Math.floor(judged.length / 3));
  for (const [name, pick] of [['RSS', (s: Sample) => s.rssMb], ['heap', (s: Sample) => s.heapMb]] as const) {
    if (judged.length < 2 || interrupted || childDied) {
      process.stdout.write(`${name}: not judged (${judged.length} samples after the warm-up)\n`);
      if (!interrupted && !childDied) failures.push(`${name} growth could not be judged`);
      continue;
    }
    const first = judged.slice(0, w);
    const last = judged.slice(-w);
    const a = first.map(pick).filter((x): x is number => x !== undefined);
    const b = last.map(pick).filter((x): x is number => x !== undefined);
    if (!a.length || !b.length) {
      failures.push(`${name} was not measurable (no samples in the compared windows)`);
      continue;
    }
    const base = Math.min(...a);
    const end = Math.min(...b);
    const pct = ((end - base) / base) * 100;
    const verdict = pct > GROWTH_LIMIT_PCT ? 'FAIL' : 'ok';
    process.stdout.write(
      `${name}: floor ${base.toFixed(1)} MB (lowest of ${clock(first[0].t)}–${clock(first[first.length - 1].t)}) → ${end.toFixed(1)} MB ` +
        `(lowest of ${clock(last[0].t)}–${clock(last[last.length - 1].t)}): ${pct >= 0 ? '+' : ''}${pct.toFixed(1)}% (limit +${GROWTH_LIMIT_PCT}%) ${verdict}\n`,
    );
    if (verdict === 'FAIL') failures.push(`${name} grew ${pct.toFixed(1)}% after the warm-up`);
  }

  const total = newCounts();
  for (const c of perKind) {
    for (const t of ['expected', 'unexpected', 'all'] as const) {
      for (const [s, n] of c[t].statuses) total[t].statuses.set(s, (total[t].statuses.get(s) ?? 0) + n);
      total[t].responses += c[t].responses;
    }
    total.all.errors += c.all.errors;
  }
  const fives = sum5xx(total.all.statuses);
  process.stdout.write(
    `responses: ${total.all.responses} in ${loadS.toFixed(0)} s (${(total.all.responses / loadS).toFixed(0)} req/s); ` +
      `expected ${total.expected.responses} (${statusList(total.expected.statuses)}), unexpected ${total.unexpected.responses} (${statusList(total.unexpected.statuses)}); ` +
      `5xx ${fives}; client errors/timeouts ${total.all.errors}\n`,
  );
  if (fives) failures.push(`${fives} responses were 5xx`);
  if (total.unexpected.responses - fives > 0) failures.push(`${total.unexpected.responses - fives} responses had an unexpected non-5xx status (${statusList(total.unexpected.statuses, (s) => s < 500)})`);
  if (total.all.errors) failures.push(`${total.all.errors} client errors or timeouts`);
  if (total.all.responses === 0) failures.push('no responses at all');

  if (failures.length) {
    const tail = server.stderr.toString().trim();
    if (tail && !interrupted) process.stdout.write(`server stderr (tail):\n${tail.split('\n').slice(-15).join('\n')}\n`);
    process.stdout.write(`\nSOAK FAILED: ${failures.join('; ')}\n`);
    return interrupted ? 130 : 1;
  }
  process.stdout.write('\nSOAK PASSED\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
