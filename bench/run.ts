/**
 * `npm run bench`: the real service (dist/main.js, production settings) against a raw node:http
 * reference server and raw onnxruntime, with autocannon. See bench/README.md.
 */
import type autocannon from 'autocannon';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';

import { LoadResult, runLoad } from './load';
import { bestRows, measureRawOrt, OrtMeasurement, seededRandom } from './raw-ort';
import {
  machineFacts,
  machineLine,
  ortTable,
  RatioResult,
  ratioTable,
  ScenarioResult,
  scenarioTable,
} from './report';
import { ManagedProcess, ServiceStartError, startReferenceServer, startService } from './service-process';
import { ensureBenchRepository, XL_MODEL, xlModelPath } from './xl-model';

const DURATION_S = positive(process.env.BENCH_DURATION, 10);
const WARMUP_S = positive(process.env.BENCH_WARMUP, 2, true);
const ORT_SECONDS = positive(process.env.BENCH_ORT_SECONDS, 3);
/** Where results.json / results.md go (default bench/); point it elsewhere for quick runs. */
const OUT_DIR = resolve(process.env.BENCH_OUT_DIR?.trim() || __dirname);
const FILTER = (process.env.BENCH_SCENARIOS ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

function positive(raw: string | undefined, fallback: number, allowZero = false): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new Error(`bad value ${JSON.stringify(raw)} (expected a ${allowZero ? 'non-negative' : 'positive'} number)`);
  }
  return n;
}

const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Request bodies

const JSON_HEADERS = { 'content-type': 'application/json' };

const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
  [6.3, 2.9, 5.6, 1.8],
  [4.9, 3.1, 1.5, 0.1],
];

function irisBody(row: number[], perturb = 0): string {
  return JSON.stringify({
    model_id: 'iris',
    features: {
      sepal_length: perturb ? Number((row[0] + perturb).toFixed(7)) : row[0],
      sepal_width: row[1],
      petal_length: row[2],
      petal_width: row[3],
    },
  });
}

/** Every body different (a unique perturbation of sepal_length), so a cache could never help. */
let irisSeq = 0;
function uniqueIrisRequests(): autocannon.Request[] {
  return [
    {
      method: 'POST',
      path: '/predict',
      headers: JSON_HEADERS,
      setupRequest: (req) => {
        const n = irisSeq++;
        req.body = irisBody(IRIS_ROWS[n % IRIS_ROWS.length], ((n % 1_000_000) + 1) * 1e-7);
        return req;
      },
    },
  ];
}

/** A fixed set of 10 bodies, cycled: after one warm pass every request is a cache hit. */
const CACHE_BODIES = Array.from({ length: 10 }, (_, i) => irisBody(IRIS_ROWS[i % IRIS_ROWS.length], (i + 1) * 0.01));
const cachedIrisRequests = (): autocannon.Request[] =>
  CACHE_BODIES.map((body) => ({ method: 'POST', path: '/predict', headers: JSON_HEADERS, body }));

/** A few seeded random rows of 256 floats for bench-mlp. */
const MLP_BODIES = (() => {
  const rand = seededRandom(7);
  return Array.from({ length: 8 }, () =>
    JSON.stringify({
      model_id: 'bench-mlp',
      features: { input: [Array.from({ length: 256 }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4)] },
    }),
  );
})();
const mlpRequests = (): autocannon.Request[] =>
  MLP_BODIES.map((body) => ({ method: 'POST', path: '/predict', headers: JSON_HEADERS, body }));

/** Seeded random rows of 2048 floats for bench-mlp-xl (one row per request, like bench-mlp). */
const XL_BODIES = (() => {
  const rand = seededRandom(11);
  return Array.from({ length: 8 }, () =>
    JSON.stringify({
      model_id: XL_MODEL,
      features: { input: [Array.from({ length: 2048 }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4)] },
    }),
  );
})();
const xlRequests = (): autocannon.Request[] =>
  XL_BODIES.map((body) => ({ method: 'POST', path: '/predict', headers: JSON_HEADERS, body }));

/** The same XL rows as V2 binary-extension requests (raw FP32 after the JSON header, as tritonclient sends them). */
const XL_BINARY_BODIES = (() => {
  const rand = seededRandom(11);
  return Array.from({ length: 8 }, () => {
    const row = Float32Array.from({ length: 2048 }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 2048], datatype: 'FP32', parameters: { binary_data_size: row.byteLength } }] }));
    return { body: Buffer.concat([header, Buffer.from(row.buffer)]), headerLength: header.length };
  });
})();
const xlBinaryRequests = (): autocannon.Request[] =>
  XL_BINARY_BODIES.map(({ body, headerLength }) => ({
    method: 'POST',
    path: `/v2/models/${XL_MODEL}/infer`,
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) },
    body,
  }));

/** The iris rows as KServe V2 inference requests, every body different (as uniqueIrisRequests). */
let v2Seq = 0;
function uniqueV2IrisRequests(): autocannon.Request[] {
  return [
    {
      method: 'POST',
      path: '/v2/models/iris/infer',
      headers: JSON_HEADERS,
      setupRequest: (req) => {
        const n = v2Seq++;
        const row = [...IRIS_ROWS[n % IRIS_ROWS.length]];
        row[0] = Number((row[0] + ((n % 1_000_000) + 1) * 1e-7).toFixed(7));
        req.body = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: row }] });
        return req;
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Scenarios

type ServerKey = 'reference' | 'nest-express' | 'nest-fastify' | 'svc-a' | 'svc-b' | 'svc-c';

const SERVERS: Record<Exclude<ServerKey, 'reference' | 'nest-express' | 'nest-fastify'>, { label: string; env: Record<string, string> }> = {
  'svc-a': { label: 'service (cache off, batching on)', env: { ENABLE_CACHING: 'false', ENABLE_DYNAMIC_BATCHING: 'true' } },
  'svc-b': { label: 'service (cache on)', env: { ENABLE_CACHING: 'true', ENABLE_DYNAMIC_BATCHING: 'true' } },
  'svc-c': { label: 'service (cache off, batching off)', env: { ENABLE_CACHING: 'false', ENABLE_DYNAMIC_BATCHING: 'false' } },
};

interface Scenario {
  name: string;
  label: string;
  server: ServerKey;
  connections: number;
  makeRequests: () => autocannon.Request[];
  /** Before the warm-up: e.g. one pass over the bodies so that the cache holds them. */
  prepare?: (url: string) => Promise<Record<string, unknown>>;
  /** Model whose /metrics series (cache counters, batch sizes) are diffed over the measured run. */
  metricsModel?: string;
}

const SCENARIOS: Scenario[] = [
  { name: 'ref-c1', label: 'reference node:http', server: 'reference', connections: 1, makeRequests: uniqueIrisRequests },
  { name: 'ref-c32', label: 'reference node:http', server: 'reference', connections: 32, makeRequests: uniqueIrisRequests },
  { name: 'ref-c128', label: 'reference node:http', server: 'reference', connections: 128, makeRequests: uniqueIrisRequests },
  { name: 'nest-express-c32', label: 'bare NestJS (Express), fixed answer', server: 'nest-express', connections: 32, makeRequests: uniqueIrisRequests },
  { name: 'nest-fastify-c32', label: 'bare NestJS (Fastify), fixed answer', server: 'nest-fastify', connections: 32, makeRequests: uniqueIrisRequests },
  { name: 'iris-c1', label: 'iris /predict, cache off', server: 'svc-a', connections: 1, makeRequests: uniqueIrisRequests },
  {
    name: 'iris-c32',
    label: 'iris /predict, cache off',
    server: 'svc-a',
    connections: 32,
    makeRequests: uniqueIrisRequests,
    metricsModel: 'iris',
  },
  { name: 'iris-c128', label: 'iris /predict, cache off', server: 'svc-a', connections: 128, makeRequests: uniqueIrisRequests },
  {
    name: 'iris-cache-c32',
    label: 'iris /predict, cache hits',
    server: 'svc-b',
    connections: 32,
    makeRequests: cachedIrisRequests,
    prepare: warmCache,
    metricsModel: 'iris',
  },
  {
    name: 'mlp-batching-on-c64',
    label: 'bench-mlp /predict, batching on',
    server: 'svc-a',
    connections: 64,
    makeRequests: mlpRequests,
    metricsModel: 'bench-mlp',
  },
  {
    name: 'mlp-batching-off-c64',
    label: 'bench-mlp /predict, batching off',
    server: 'svc-c',
    connections: 64,
    makeRequests: mlpRequests,
    metricsModel: 'bench-mlp',
  },
  { name: 'v2-iris-c32', label: 'iris V2 /infer, cache off', server: 'svc-a', connections: 32, makeRequests: uniqueV2IrisRequests, metricsModel: 'iris' },
  {
    name: 'xl-batching-on-c64',
    label: 'bench-mlp-xl /predict, batching on',
    server: 'svc-a',
    connections: 64,
    makeRequests: xlRequests,
    metricsModel: XL_MODEL,
  },
  {
    name: 'xl-v2-binary-c64',
    label: 'bench-mlp-xl V2 binary /infer, batching on',
    server: 'svc-a',
    connections: 64,
    makeRequests: xlBinaryRequests,
    metricsModel: XL_MODEL,
  },
  {
    name: 'xl-batching-off-c64',
    label: 'bench-mlp-xl /predict, batching off',
    server: 'svc-c',
    connections: 64,
    makeRequests: xlRequests,
    metricsModel: XL_MODEL,
  },
];

const selected = (name: string): boolean => FILTER.length === 0 || FILTER.some((t) => name === t || name.startsWith(t));

// ---------------------------------------------------------------------------------------------
// Small HTTP helpers (node:http, 127.0.0.1 only)

function httpCall(url: string, method: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { method, headers: body ? JSON_HEADERS : {}, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', fail);
    req.end(body);
  });
}

/** Sends every cache body twice; the second answers should say `cached: true`. */
async function warmCache(url: string): Promise<Record<string, unknown>> {
  const cachedFlags: boolean[] = [];
  for (let pass = 0; pass < 2; pass++) {
    for (const body of CACHE_BODIES) {
      const res = await httpCall(`${url}/predict`, 'POST', body);
      if (res.status !== 200) throw new Error(`cache warm pass: ${res.status} ${res.text.slice(0, 300)}`);
      if (pass === 1) cachedFlags.push((JSON.parse(res.text) as { cached?: unknown }).cached === true);
    }
  }
  const hits = cachedFlags.filter(Boolean).length;
  if (hits < cachedFlags.length) log(`warning: only ${hits}/${cachedFlags.length} repeated bodies came back cached: true`);
  return { secondPassCachedTrue: `${hits}/${cachedFlags.length}` };
}

interface MetricsSnapshot {
  cacheHits?: number;
  cacheMisses?: number;
  batchSizeSum?: number;
  batchSizeCount?: number;
  error?: string;
}

/** Scrapes /metrics for the cache counters and the batch-size histogram of one model. */
async function metricsSnapshot(url: string, model: string): Promise<MetricsSnapshot> {
  let text: string;
  try {
    const res = await httpCall(`${url}/metrics`, 'GET');
    if (res.status !== 200) return { error: `GET /metrics → ${res.status}` };
    text = res.text;
  } catch (e) {
    return { error: `GET /metrics failed: ${(e as Error).message}` };
  }
  const modelLabel = new RegExp(`model(_id)?="${model.replace(/[.]/g, '\\.')}"`);
  const sum = (metric: string): number | undefined => {
    let total: number | undefined;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
      if (line.includes('model') && !modelLabel.test(line)) continue;
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(v)) total = (total ?? 0) + v;
    }
    return total;
  };
  return {
    cacheHits: sum('ml_cache_hits_total'),
    cacheMisses: sum('ml_cache_misses_total'),
    batchSizeSum: sum('ml_batch_size_sum'),
    batchSizeCount: sum('ml_batch_size_count'),
  };
}

/** What happened during the measured run, from two /metrics snapshots. */
function metricsDelta(before: MetricsSnapshot, after: MetricsSnapshot): Record<string, unknown> {
  if (before.error || after.error) return { metrics: before.error ?? after.error };
  const d = (k: keyof Omit<MetricsSnapshot, 'error'>): number | undefined =>
    after[k] === undefined ? undefined : (after[k] ?? 0) - (before[k] ?? 0);
  const facts: Record<string, unknown> = {};
  const hits = d('cacheHits');
  const misses = d('cacheMisses');
  if (hits !== undefined) facts.cacheHits = hits;
  if (misses !== undefined) facts.cacheMisses = misses;
  const bsSum = d('batchSizeSum');
  const bsCount = d('batchSizeCount');
  if (bsCount !== undefined) facts.batches = bsCount;
  if (bsSum !== undefined && bsCount) facts.meanBatchSize = Math.round((bsSum / bsCount) * 100) / 100;
  if (Object.keys(facts).length === 0) facts.metrics = 'no ml_cache_* / ml_batch_size_* series for this model';
  return facts;
}

// ---------------------------------------------------------------------------------------------
// Ratios against the targets of issue 6

function ratios(results: ScenarioResult[], ort: OrtMeasurement[]): RatioResult[] {
  const r = (name: string): LoadResult | undefined => results.find((x) => x.name === name);
  const ratio = (a?: number, b?: number): number | null =>
    a === undefined || b === undefined || !b ? null : Math.round((a / b) * 1000) / 1000;
  const check = (value: number | null, ok: (v: number) => boolean): RatioResult['status'] =>
    value === null ? 'n/a' : ok(value) ? 'PASS' : 'FAIL';
  const ortRows64 = bestRows(ort, 'bench-mlp', 64);

  const out: RatioResult[] = [];
  const httpRatio = ratio(r('iris-c32')?.rps, r('ref-c32')?.rps);
  out.push({ name: 'service / HTTP limit', formula: 'iris c=32 cache off ÷ reference c=32', value: httpRatio, target: '≥ 0.5', status: check(httpRatio, (v) => v >= 0.5) });
  const p99 = r('iris-c32')?.p99 ?? null;
  out.push({ name: 'service p99', formula: 'iris c=32 cache off', value: p99, target: '< 20 ms', status: check(p99, (v) => v < 20) });
  const cacheRatio = ratio(r('iris-cache-c32')?.rps, r('ref-c32')?.rps);
  out.push({ name: 'cache-hit / HTTP limit', formula: 'iris cache hits c=32 ÷ reference c=32', value: cacheRatio, target: '≥ 0.7', status: check(cacheRatio, (v) => v >= 0.7) });
  const batching = ratio(r('mlp-batching-on-c64')?.rps, r('mlp-batching-off-c64')?.rps);
  out.push({ name: 'batching on / off', formula: 'bench-mlp c=64', value: batching, target: '≥ 3', status: check(batching, (v) => v >= 3) });
  const vsOrt = ratio(r('mlp-batching-on-c64')?.rps, ortRows64);
  out.push({ name: 'service / raw ORT', formula: 'bench-mlp c=64 batching on req/s ÷ raw ORT rows/s at batch 64', value: vsOrt, target: '≥ 0.8', status: check(vsOrt, (v) => v >= 0.8) });
  // The same two targets on the memory-bound model, where a row costs more than its HTTP request.
  const xlBatching = ratio(r('xl-batching-on-c64')?.rps, r('xl-batching-off-c64')?.rps);
  out.push({ name: 'batching on / off (XL)', formula: 'bench-mlp-xl c=64', value: xlBatching, target: '≥ 3', status: check(xlBatching, (v) => v >= 3) });
  const xlRows64 = bestRows(ort, XL_MODEL, 64);
  const xlVsOrt = ratio(r('xl-batching-on-c64')?.rps, xlRows64);
  out.push({ name: 'service / raw ORT (XL)', formula: 'bench-mlp-xl c=64 batching on req/s ÷ raw ORT rows/s at batch 64', value: xlVsOrt, target: '≥ 0.8', status: check(xlVsOrt, (v) => v >= 0.8) });
  const xlBinary = ratio(r('xl-v2-binary-c64')?.rps, xlRows64);
  if (xlBinary !== null) out.push({ name: 'service / raw ORT (XL, V2 binary)', formula: 'xl-v2-binary-c64 req/s ÷ raw ORT rows/s at batch 64', value: xlBinary, target: '(context)', status: 'info' });
  const xlOrtGain = ratio(xlRows64, bestRows(ort, XL_MODEL, 1));
  if (xlOrtGain !== null) out.push({ name: 'raw ORT batch 64 / batch 1 (XL)', formula: 'rows/s at 64 ÷ rows/s at 1', value: xlOrtGain, target: '(context)', status: 'info' });
  const mlpOrtGain = ratio(ortRows64, bestRows(ort, 'bench-mlp', 1));
  if (mlpOrtGain !== null) out.push({ name: 'raw ORT batch 64 / batch 1 (bench-mlp)', formula: 'rows/s at 64 ÷ rows/s at 1', value: mlpOrtGain, target: '(context)', status: 'info' });
  const v2 = ratio(r('v2-iris-c32')?.rps, r('iris-c32')?.rps);
  if (v2 !== null) out.push({ name: 'V2 /infer / /predict (iris c=32)', formula: 'v2-iris-c32 ÷ iris-c32', value: v2, target: '(context)', status: 'info' });
  // Context only (no target): where the HTTP ratio is lost — the framework, or this service's stack on top of it.
  const frameworks: [string, string][] = [['nest-express-c32', 'bare NestJS (Express)'], ['nest-fastify-c32', 'bare NestJS (Fastify)']];
  for (const [name, label] of frameworks) {
    const v = ratio(r(name)?.rps, r('ref-c32')?.rps);
    if (v !== null) out.push({ name: `${label} / HTTP limit`, formula: `${name} ÷ reference c=32`, value: v, target: '(context)', status: 'info' });
  }
  const overStack = ratio(r('iris-c32')?.rps, r('nest-express-c32')?.rps);
  if (overStack !== null) out.push({ name: 'service / bare NestJS (Express)', formula: 'iris c=32 ÷ nest-express-c32', value: overStack, target: '(context)', status: 'info' });
  for (const c of [1, 128]) {
    const v = ratio(r(`iris-c${c}`)?.rps, r(`ref-c${c}`)?.rps);
    if (v !== null) out.push({ name: `service / HTTP limit at c=${c}`, formula: `iris c=${c} ÷ reference c=${c}`, value: v, target: '(context)', status: 'info' });
  }
  const refC32 = r('ref-c32')?.rps;
  const ceiling = refC32 !== undefined && ortRows64 !== undefined ? Math.min(refC32, ortRows64) : undefined;
  const vsCeiling = ratio(r('mlp-batching-on-c64')?.rps, ceiling);
  if (vsCeiling !== null) out.push({ name: 'bench-mlp batching on / min(HTTP limit, raw ORT)', formula: 'req/s ÷ min(reference c=32, ORT rows/s at 64)', value: vsCeiling, target: '(context)', status: 'info' });
  const ortIris = bestRows(ort, 'iris', 1);
  const irisVsOrt = ratio(r('iris-c1')?.rps, ortIris);
  if (irisVsOrt !== null) out.push({ name: 'iris c=1 / raw ORT iris batch 1', formula: 'req/s ÷ rows/s', value: irisVsOrt, target: '(context)', status: 'info' });
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const machine = machineFacts();
  const startedAt = new Date().toISOString();
  log(`${machineLine(machine)}`);
  log(`duration ${DURATION_S} s, warm-up ${WARMUP_S} s${FILTER.length ? `, scenarios matching ${FILTER.join(',')}` : ''}`);

  // 0. The repository the services serve: the bundled models plus bench-mlp-xl (built once).
  const repository = ensureBenchRepository(log);

  // 1. Raw onnxruntime first, while no other process competes for the cores.
  let ort: OrtMeasurement[] = [];
  if (selected('ort')) {
    log(`raw onnxruntime: ~${ORT_SECONDS} s per batch size`);
    ort = await measureRawOrt(ORT_SECONDS, xlModelPath());
    for (const o of ort) log(`  ${o.model} (${o.options}) batch ${o.batch}: ${o.rowsPerS} rows/s (${o.runMs} ms/run)`);
  }

  // 2. HTTP scenarios, one server process at a time.
  const results: ScenarioResult[] = [];
  const order: ServerKey[] = ['reference', 'nest-express', 'nest-fastify', 'svc-a', 'svc-b', 'svc-c'];
  for (const key of order) {
    const scenarios = SCENARIOS.filter((s) => s.server === key && selected(s.name));
    if (scenarios.length === 0) continue;
    let server: ManagedProcess;
    if (key === 'reference' || key === 'nest-express' || key === 'nest-fastify') {
      server = await startReferenceServer(key === 'reference' ? 'raw' : key);
      log(`${key} server pid ${server.pid} on ${server.url}`);
    } else {
      log(`starting ${SERVERS[key].label} (${Object.entries(SERVERS[key].env).map(([k, v]) => `${k}=${v}`).join(' ')})`);
      server = await startService(key, { MODEL_REPOSITORY: repository, ...SERVERS[key].env });
      log(`${key} pid ${server.pid} ready on ${server.url}`);
    }
    try {
      for (const s of scenarios) {
        const notes: Record<string, unknown> = {};
        if (s.prepare) Object.assign(notes, await s.prepare(server.url));
        log(`${s.name}: c=${s.connections}, ${WARMUP_S} s warm-up + ${DURATION_S} s`);
        const load = { url: server.url, connections: s.connections, durationS: DURATION_S, makeRequests: s.makeRequests };
        if (WARMUP_S > 0) await runLoad({ ...load, durationS: WARMUP_S });
        const before = s.metricsModel ? await metricsSnapshot(server.url, s.metricsModel) : undefined;
        const res = await runLoad(load);
        if (s.metricsModel && before) Object.assign(notes, metricsDelta(before, await metricsSnapshot(server.url, s.metricsModel)));
        const serverLabel = key === 'reference' || key === 'nest-express' || key === 'nest-fastify' ? key : `${key}: ${SERVERS[key].label}`;
        results.push({ name: s.name, label: s.label, server: serverLabel, concurrency: s.connections, ...res, notes });
        log(
          `  ${res.rps} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms, non-2xx ${res.non2xx}, errors ${res.errors}` +
            (Object.keys(notes).length ? ` ${JSON.stringify(notes)}` : ''),
        );
        if (res.non2xx) log(`  status codes: ${JSON.stringify(res.statusCodes)}`);
      }
    } finally {
      await server.stop();
      const errTail = server.stderrTail().trim();
      if (errTail && key.startsWith('svc')) log(`${key} stderr tail:\n${errTail.split('\n').slice(-10).join('\n')}`);
    }
  }

  // 3. Report.
  const ratioRows = ratios(results, ort);
  const table = scenarioTable(results);
  const ratioText = ratioTable(ratioRows);
  const ortText = ort.length ? ortTable(ort) : '';
  const header = `Machine: ${machineLine(machine)}\nRun: ${startedAt}, ${DURATION_S} s per scenario after a ${WARMUP_S} s warm-up` +
    (FILTER.length ? ` (partial run: BENCH_SCENARIOS=${FILTER.join(',')})` : '');

  const console_ = [header, '', table, '', ...(ortText ? ['Raw onnxruntime (in-process; default = onnxruntime\'s session options, served = the service\'s; the limit is the better):', '', ortText, ''] : []), 'Ratios (targets from issue 6):', '', ratioText];
  process.stdout.write(`\n${console_.join('\n')}\n`);

  const md = [
    '# Benchmark results',
    '',
    `Generated by \`npm run bench\` (bench/run.ts). ${header.replace('\n', '  \n')}`,
    '',
    'Latencies are client-side (autocannon, 2xx only); "reference" is a raw node:http server that parses the same JSON and answers a fixed body of the same shape.',
    '',
    table,
    '',
    ...(ortText ? ['## Raw onnxruntime (in-process; default = onnxruntime\'s session options, served = the service\'s; the limit is the better)', '', ortText, ''] : []),
    '## Ratios (targets from issue 6)',
    '',
    ratioText,
    '',
  ].join('\n');
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(resolve(OUT_DIR, 'results.md'), md);
  writeFileSync(
    resolve(OUT_DIR, 'results.json'),
    `${JSON.stringify({ startedAt, finishedAt: new Date().toISOString(), machine, settings: { durationS: DURATION_S, warmupS: WARMUP_S, ortSeconds: ORT_SECONDS, filter: FILTER }, scenarios: results, rawOrt: ort, ratios: ratioRows }, null, 2)}\n`,
  );
  log(`wrote ${resolve(OUT_DIR, 'results.json')} and ${resolve(OUT_DIR, 'results.md')}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ServiceStartError) {
      process.stderr.write(`\nbench: ${err.message}\n--- service stderr (tail) ---\n${err.stderrTail.split('\n').slice(-40).join('\n')}\n`);
      if (err.stdoutTail.trim()) process.stderr.write(`--- service stdout (tail) ---\n${err.stdoutTail.split('\n').slice(-20).join('\n')}\n`);
    } else {
      process.stderr.write(`\nbench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(1);
  },
);
