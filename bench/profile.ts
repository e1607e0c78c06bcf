/**
 * `npm run bench:profile`: where a request's CPU time goes. Starts the built service
 * (dist/main.js) under `node --cpu-prof` in the benchmark's default configuration (HTTP_ADAPTER
 * from the environment, default fastify; throttling on at 10^9 per minute and per hour; LOG_LEVEL
 * info with stdout drained), drives iris POST /predict at c=32 with autocannon, stops it with
 * SIGTERM so that V8 writes the .cpuprofile on exit, and prints self time grouped by bucket
 * (npm package, node:internal subsystem, the project's dist/ folders, GC, program, idle) and the
 * top functions. See bench/README.md.
 *
 *   npm run bench:profile                                  # profile a run, then analyse it
 *   npx ts-node -T bench/profile.ts a.cpuprofile [...]     # only analyse existing profiles (any Node 20 .cpuprofile)
 *
 * Knobs: HTTP_ADAPTER (fastify), BENCH_PROFILE_SECONDS (20), BENCH_WARMUP (2, not analysed),
 * BENCH_PROFILE_DIR (bench/.profiles/<time>-<adapter>), BENCH_PROFILE_TOP (25), BENCH_SERVICE_ENV.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { uniqueIrisRequests } from './iris-bodies';
import { runLoad } from './load';
import { adapterFrom, ServiceStartError, startService } from './service-process';
import { ensureDefaultRepository } from './xl-model';

// ---------------------------------------------------------------------------------------------
// The .cpuprofile format (what V8's Profiler.stop returns; node --cpu-prof writes it as JSON)

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number; scriptId?: string | number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  /** Microseconds, V8's monotonic clock (CLOCK_MONOTONIC on Linux, as process.hrtime). */
  startTime: number;
  endTime: number;
  /** Node id of each sample. */
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

/** The bucket a frame's self time is counted in. */
export function bucketOf(functionName: string, url: string): string {
  if (!url) {
    // V8's pseudo-frames: (garbage collector), (program), (idle), (root).
    if (functionName.startsWith('(')) return functionName;
    return '(V8 builtins / native)';
  }
  let u = url;
  if (u.startsWith('file://')) {
    try {
      u = decodeURIComponent(u.slice('file://'.length));
    } catch {
      u = u.slice('file://'.length);
    }
  }
  u = u.replace(/\\/g, '/');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = u.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') && parts.length > 1 ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  // Node's own JavaScript: node:internal/<subsystem>/..., node:<module> (older Nodes: no "node:").
  const internal = /^(?:node:)?internal\/([^/]+)/.exec(u);
  if (internal) return `node:internal/${internal[1]}`;
  const builtin = /^node:(.+)$/.exec(u);
  if (builtin) {
    const name = builtin[1];
    if (name.startsWith('_http_')) return 'node:http (_http_*)';
    if (name.startsWith('_stream_') || name === 'stream') return 'node:stream';
    if (name.startsWith('_tls_') || name === 'tls') return 'node:tls';
    return `node:${name}`;
  }
  if (u.startsWith('wasm://')) return '(wasm)';
  if (u.startsWith('evalmachine') || u.startsWith('VM')) return '(eval)';
  // The project's own files: by folder under dist/ (or src/ when run through ts-node).
  for (const root of ['dist', 'src']) {
    const at = u.lastIndexOf(`/${root}/`);
    if (at >= 0) {
      const rest = u.slice(at + root.length + 2).split('/');
      return rest.length > 1 ? `${root}/${rest[0]}` : `${root}/ (top-level files)`;
    }
  }
  return `other: ${u.split('/').slice(-2).join('/')}`;
}

/** A short, readable location: the path from node_modules/<pkg>, dist/ or node:, plus the 1-based line. */
function shortLocation(url: string, lineNumber: number): string {
  if (!url) return '';
  let u = url.startsWith('file://') ? url.slice('file://'.length) : url;
  u = u.replace(/\\/g, '/');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) u = u.slice(nm + '/node_modules/'.length);
  else {
    const at = Math.max(u.lastIndexOf('/dist/'), u.lastIndexOf('/src/'));
    if (at >= 0) u = u.slice(at + 1);
  }
  return `${u}:${lineNumber + 1}`;
}

export interface Row {
  key: string;
  bucket?: string;
  samples: number;
  selfMs: number;
}

export interface Analysis {
  /** Samples counted (inside the window, if one was given and it overlaps the profile). */
  samples: number;
  /** Time-weighted total of the counted samples (ms), and of the (idle) ones. */
  totalMs: number;
  idleMs: number;
  windowed: boolean;
  /** Sorted by self time, largest first. */
  buckets: Row[];
  functions: Row[];
}

/**
 * Self time per bucket and per function. A sample's time is the gap to the next sample (the last
 * one: the mean gap), so a sample that V8 took late (e.g. after a GC pause) weighs what it cost.
 * `window` (µs on the profile's clock) keeps only samples taken inside it; it is ignored, with
 * `windowed: false`, when it does not overlap the profile.
 */
export function analyse(profile: CpuProfile, window?: { startUs: number; endUs: number }): Analysis {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const { samples, timeDeltas } = profile;
  const stamps = new Float64Array(samples.length);
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] ?? 0;
    stamps[i] = t;
  }
  const meanGap = samples.length > 1 ? (stamps[samples.length - 1] - stamps[0]) / (samples.length - 1) : 0;
  const overlaps = window !== undefined && samples.length > 0 && window.startUs < stamps[samples.length - 1] && window.endUs > stamps[0];
  const buckets = new Map<string, Row>();
  const functions = new Map<string, Row>();
  let counted = 0;
  let idleUs = 0;
  let totalUs = 0;
  for (let i = 0; i < samples.length; i++) {
    if (overlaps && (stamps[i] < window.startUs || stamps[i] > window.endUs)) continue;
    const node = byId.get(samples[i]);
    if (!node) continue;
    const gap = Math.max(0, i + 1 < samples.length ? stamps[i + 1] - stamps[i] : meanGap);
    const { functionName, url, lineNumber } = node.callFrame;
    const bucket = bucketOf(functionName, url);
    counted++;
    totalUs += gap;
    if (bucket === '(idle)') idleUs += gap;
    const b = buckets.get(bucket) ?? { key: bucket, samples: 0, selfMs: 0 };
    b.samples++;
    b.selfMs += gap / 1000;
    buckets.set(bucket, b);
    const fnKey = `${functionName || '(anonymous)'}${url ? ` ${shortLocation(url, lineNumber)}` : ''}`;
    const f = functions.get(fnKey) ?? { key: fnKey, bucket, samples: 0, selfMs: 0 };
    f.samples++;
    f.selfMs += gap / 1000;
    functions.set(fnKey, f);
  }
  const bySelf = (a: Row, b: Row): number => b.selfMs - a.selfMs || b.samples - a.samples;
  return {
    samples: counted,
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    windowed: overlaps,
    buckets: [...buckets.values()].sort(bySelf),
    functions: [...functions.values()].sort(bySelf),
  };
}

const pct = (n: number, of: number): string => (of > 0 ? ((n / of) * 100).toFixed(1) : '–');
const ms = (x: number): string => Math.round(x).toLocaleString('en-US');

/** Markdown tables: top buckets and top functions by self time. */
export function report(a: Analysis, top = 25): string {
  const busyMs = a.totalMs - a.idleMs;
  const lines: string[] = [];
  lines.push(
    `${a.samples.toLocaleString('en-US')} samples, ${ms(a.totalMs)} ms (${a.windowed ? 'the load window only' : 'the whole profile'}), ` +
      `${pct(a.idleMs, a.totalMs)} % idle. "% of busy" leaves (idle) out; "% of samples" counts samples unweighted.`,
  );
  lines.push('', `Top ${Math.min(top, a.buckets.length)} buckets by self time:`, '');
  lines.push('| bucket | self ms | % self time | % of busy | % of samples |', '|---|---:|---:|---:|---:|');
  for (const b of a.buckets.slice(0, top)) {
    lines.push(`| ${b.key} | ${ms(b.selfMs)} | ${pct(b.selfMs, a.totalMs)} | ${b.key === '(idle)' ? '' : pct(b.selfMs, busyMs)} | ${pct(b.samples, a.samples)} |`);
  }
  lines.push('', `Top ${Math.min(top, a.functions.length)} functions by self time:`, '');
  lines.push('| function (location) | bucket | self ms | % self time | % of busy |', '|---|---|---:|---:|---:|');
  for (const f of a.functions.slice(0, top)) {
    lines.push(`| ${f.key.replace(/\|/g, '\\|')} | ${f.bucket} | ${ms(f.selfMs)} | ${pct(f.selfMs, a.totalMs)} | ${f.bucket === '(idle)' ? '' : pct(f.selfMs, busyMs)} |`);
  }
  return lines.join('\n');
}

export function readProfile(path: string): CpuProfile {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Partial<CpuProfile>;
  if (!Array.isArray(p.nodes) || !Array.isArray(p.samples) || !Array.isArray(p.timeDeltas) || typeof p.startTime !== 'number') {
    throw new Error(`${path}: not a V8 .cpuprofile (needs nodes, samples, timeDeltas, startTime)`);
  }
  return p as CpuProfile;
}

/** node --cpu-prof names files CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread. */
function threadOf(file: string): number | undefined {
  const m = /^CPU\.\d+\.\d+\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(basename(file));
  return m ? Number(m[1]) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The profiled run

const log = (msg: string): void => void process.stderr.write(`bench:profile: ${msg}\n`);

function seconds(raw: string | undefined, fallback: number, allowZero = false): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new Error(`bad value ${JSON.stringify(raw)}`);
  return n;
}

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

async function profileRun(): Promise<number> {
  const adapter = adapterFrom(process.env.HTTP_ADAPTER);
  const durationS = seconds(process.env.BENCH_PROFILE_SECONDS, 20);
  const warmupS = seconds(process.env.BENCH_WARMUP, 2, true);
  const top = Math.floor(seconds(process.env.BENCH_PROFILE_TOP, 25));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = resolve(process.env.BENCH_PROFILE_DIR?.trim() || join(__dirname, '.profiles', `${stamp}-${adapter}`));
  mkdirSync(dir, { recursive: true });
  const connections = 32;

  const repository = ensureDefaultRepository();
  log(`starting dist/main.js with --cpu-prof (HTTP_ADAPTER=${adapter}), profiles into ${dir}`);
  const server = await startService(`profile-${adapter}`, {
    adapter,
    overrides: { MODEL_REPOSITORY: repository },
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
  });
  log(`pid ${server.pid} ready on ${server.url}; ${warmupS} s warm-up, then ${durationS} s of iris /predict at c=${connections}`);
  let window: { startUs: number; endUs: number };
  try {
    const load = { url: server.url, connections, durationS, makeRequests: uniqueIrisRequests };
    if (warmupS > 0) await runLoad({ ...load, durationS: warmupS });
    const startUs = nowUs();
    const res = await runLoad(load);
    window = { startUs, endUs: nowUs() };
    log(`${res.rps} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms, non-2xx ${res.non2xx}, errors ${res.errors} (profiling slows the service)`);
  } finally {
    // SIGTERM: the service drains and exits 0, and V8 writes the profile on that exit. The grace
    // is above SHUTDOWN_TIMEOUT_SECONDS' default (25 s): a SIGKILL would lose the profile.
    await server.stop(60_000);
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  if (files.length === 0) {
    log(`no .cpuprofile in ${dir}; service stderr tail:\n${server.stderrTail().split('\n').slice(-20).join('\n')}`);
    return 1;
  }
  const main = files.find((f) => threadOf(f) === 0) ?? files[0];
  const profile = readProfile(main);
  const a = analyse(profile, window);
  if (!a.windowed) log('the load window does not overlap the profile clock: analysing the whole profile (start-up included)');
  process.stdout.write(`\n## Main thread (${basename(main)}), HTTP_ADAPTER=${adapter}, iris /predict c=${connections}, ${durationS} s\n\n${report(a, top)}\n`);
  for (const f of files.filter((x) => x !== main)) {
    const w = analyse(readProfile(f), window);
    process.stdout.write(`\n## Other thread (${basename(f)}): worker\n\n${report(w, Math.min(top, 10))}\n`);
  }
  process.stdout.write(`\nProfiles (open in Chrome DevTools > Performance, or analyse again with npx ts-node -T bench/profile.ts <file>):\n${files.map((f) => `  ${f}`).join('\n')}\n`);
  return 0;
}

async function main(): Promise<number> {
  const files = process.argv.slice(2);
  if (files.length === 0) return profileRun();
  const top = Math.floor(seconds(process.env.BENCH_PROFILE_TOP, 25));
  for (const f of files) process.stdout.write(`\n## ${f}\n\n${report(analyse(readProfile(f)), top)}\n`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof ServiceStartError) {
        process.stderr.write(`\nbench:profile: ${err.message}\n--- service stderr (tail) ---\n${err.stderrTail.split('\n').slice(-40).join('\n')}\n`);
      } else {
        process.stderr.write(`\nbench:profile: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      }
      process.exit(1);
    },
  );
}
