/**
 * `npm run bench`: the real service (dist/main.js, its default configuration, on Fastify and on
 * Express) against a raw node:http reference server, bare NestJS on both adapters and raw
 * onnxruntime, plus a decay run (minutes of steady load), with autocannon; its V2 gRPC API with
 * a closed-loop @grpc/grpc-js generator (grpc-load.ts). See bench/README.md.
 */
import type autocannon from 'autocannon';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';

import { GrpcLoadGenerator } from './grpc-load';
import { irisBody, IRIS_ROWS, JSON_HEADERS, uniqueIrisRequests } from './iris-bodies';
import { largeTensorsLines, median, runLargeTensors } from './large-tensors';
import { LoadResult, mergeLoads, runLoad } from './load';
import { bestRows, measureRawOrt, OrtMeasurement, seededRandom } from './raw-ort';
import {
  DecayResult,
  DecaySlice,
  decayTable,
  machineFacts,
  machineLine,
  ortTable,
  RatioResult,
  ratioTable,
  ScenarioResult,
  scenarioTable,
} from './report';
import {
  benchServiceEnv,
  cpuSeconds,
  HttpAdapter,
  ManagedProcess,
  rssBytes,
  serviceNodeFlags,
  ServiceStartError,
  startReferenceServer,
  startService,
} from './service-process';
import { ensureBenchRepository, ensureDefaultRepository, XL_MODEL, xlModelPath } from './xl-model';
import { RedisServerProcess } from '../test/support/redis-server';

const DURATION_S = positive(process.env.BENCH_DURATION, 10);
const WARMUP_S = positive(process.env.BENCH_WARMUP, 2, true);
const ORT_SECONDS = positive(process.env.BENCH_ORT_SECONDS, 3);
/** Minutes of the decay run (0 skips it). */
const DECAY_MINUTES = Math.floor(positive(process.env.BENCH_DECAY_MINUTES, 10, true));
/** Length of one decay slice: 60 s; shorter only to test the harness (the report then says slices, not minutes). */
const DECAY_SLICE_S = positive(process.env.BENCH_DECAY_SLICE_SECONDS, 60);
/** Tracing scenarios: rounds the interleaved measured time is cut into (see runTracingComparison). */
const TRACING_ROUNDS = Math.floor(positive(process.env.BENCH_TRACING_ROUNDS, 3));
/** Rounds of the interleaved service ÷ bare NestJS comparison (the issue-10 ratios), and seconds of load per side per round. */
const PAIRED_ROUNDS = Math.floor(positive(process.env.BENCH_PAIRED_ROUNDS, 5));
const PAIRED_SLICE_S = positive(process.env.BENCH_PAIRED_SLICE, 5);
/** gRPC scenarios: callers per channel (one HTTP/2 connection each; it multiplexes their calls). */
const GRPC_CALLERS_PER_CHANNEL = Math.floor(positive(process.env.BENCH_GRPC_CALLERS_PER_CHANNEL, 8));
/** Where results.json / results.md go (default bench/); point it elsewhere for quick runs. */
const OUT_DIR = resolve(process.env.BENCH_OUT_DIR?.trim() || __dirname);
/** BENCH_SCENARIOS, or `--only <names>` (`npm run bench -- --only large-tensors`): comma lists of name prefixes. */
const ONLY = process.argv.indexOf('--only');
const FILTER = (ONLY >= 0 ? process.argv[ONLY + 1] ?? '' : process.env.BENCH_SCENARIOS ?? '')
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

/**
 * The iris rows as gRPC ModelInfer requests, typed (`contents.fp32_contents`), every row different
 * as in uniqueV2IrisRequests (a step of 5e-7 per row is more than FP32's spacing near 5, so the
 * FP32 tensors, and the cache keys made of them, differ too).
 */
let grpcIrisSeq = 0;
function uniqueGrpcIrisRequests(): () => unknown {
  return () => {
    const n = grpcIrisSeq++;
    const row = [...IRIS_ROWS[n % IRIS_ROWS.length]];
    row[0] = Number((row[0] + ((n % 1_000_000) + 1) * 1e-7).toFixed(7));
    return { model_name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: row } }] };
  };
}

/** The XL rows of xlBinaryRequests as gRPC ModelInfer requests: `raw_input_contents`, little-endian FP32 (tritonclient's default). */
const XL_GRPC_RAW_REQUESTS = (() => {
  const rand = seededRandom(11);
  return Array.from({ length: 8 }, () => {
    const raw = Buffer.alloc(2048 * 4);
    for (let j = 0; j < 2048; j++) raw.writeFloatLE(Math.round((rand() * 2 - 1) * 1e4) / 1e4, j * 4);
    return { model_name: XL_MODEL, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2048] }], raw_input_contents: [raw] };
  });
})();
function xlGrpcRawRequests(): () => unknown {
  let i = 0;
  return () => XL_GRPC_RAW_REQUESTS[i++ % XL_GRPC_RAW_REQUESTS.length];
}

// ---------------------------------------------------------------------------------------------
// Scenarios

type LimitServer = 'reference' | 'nest-express' | 'nest-fastify';
type ServiceKey = 'svc-fastify' | 'svc-express' | 'svc-tracing-off' | 'svc-tracing-1' | 'svc-tracing-0.01' | 'svc-batching-on' | 'svc-batching-off' | 'svc-workers-1' | 'svc-workers-2';
type ServerKey = LimitServer | ServiceKey;

interface ServiceSpec {
  label: string;
  adapter: HttpAdapter;
  repository: 'default' | 'xl';
  env: Record<string, string>;
  /** Tracing on, exported over OTLP/HTTP to the local sink (otlp-sink.js), at this sampling ratio (parentbased_traceidratio). */
  tracingRatio?: string;
  /** REDIS_URL set to a redis-server the bench starts (WORKERS > 1 needs it). */
  redis?: boolean;
}

/**
 * The service processes. svc-fastify / svc-express run the service's default configuration
 * (see serviceEnv) on the bundled models; the batching pair turn the cache off (their bodies
 * repeat) and serve the bench repository with bench-mlp-xl, so MAX_MEMORY_MB is raised for it.
 * The tracing trio are svc-fastify three times, back to back: tracing off (the defaults), and on
 * at ratio 1 and 0.01 with the SDK's export defaults (batches of 512, every 5 s, queue of 2048).
 */
const SERVICES: Record<ServiceKey, ServiceSpec> = {
  'svc-fastify': { label: 'service, Fastify, defaults', adapter: 'fastify', repository: 'default', env: {} },
  'svc-express': { label: 'service, Express, defaults', adapter: 'express', repository: 'default', env: {} },
  'svc-tracing-off': { label: 'service, Fastify, defaults (tracing off)', adapter: 'fastify', repository: 'default', env: {} },
  'svc-tracing-1': { label: 'service, Fastify, tracing on, ratio 1, OTLP to a local sink', adapter: 'fastify', repository: 'default', env: {}, tracingRatio: '1' },
  'svc-tracing-0.01': { label: 'service, Fastify, tracing on, ratio 0.01, OTLP to a local sink', adapter: 'fastify', repository: 'default', env: {}, tracingRatio: '0.01' },
  // WORKERS=1 vs 2, both on one Redis (the same rate-limit, cache and state stores), iris /predict c=32.
  'svc-workers-1': { label: 'service, Fastify, defaults + REDIS_URL, WORKERS=1', adapter: 'fastify', repository: 'default', env: { WORKERS: '1' }, redis: true },
  'svc-workers-2': { label: 'service, Fastify, defaults + REDIS_URL, WORKERS=2', adapter: 'fastify', repository: 'default', env: { WORKERS: '2' }, redis: true },
  'svc-batching-on': {
    label: 'service, Fastify, cache off, batching on',
    adapter: 'fastify',
    repository: 'xl',
    env: { ENABLE_CACHING: 'false', ENABLE_DYNAMIC_BATCHING: 'true', MAX_MEMORY_MB: '16384' },
  },
  'svc-batching-off': {
    label: 'service, Fastify, cache off, batching off',
    adapter: 'fastify',
    repository: 'xl',
    env: { ENABLE_CACHING: 'false', ENABLE_DYNAMIC_BATCHING: 'false', MAX_MEMORY_MB: '16384' },
  },
};

const isLimitServer = (key: ServerKey): key is LimitServer => key === 'reference' || key === 'nest-express' || key === 'nest-fastify';
const envText = (env: Record<string, string>): string => Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');

interface Scenario {
  name: string;
  label: string;
  server: ServerKey;
  /** Connections (HTTP), or concurrent callers (gRPC, sharing one channel per GRPC_CALLERS_PER_CHANNEL). */
  connections: number;
  /** HTTP scenarios: autocannon's requests. */
  makeRequests?: () => autocannon.Request[];
  /** gRPC scenarios (the service's GRPC_PORT, ModelInfer): the source of each call's request (bench/grpc-load.ts). */
  grpcRequests?: () => () => unknown;
  /** Before the warm-up: e.g. one pass over the bodies so that the cache holds them. */
  prepare?: (url: string) => Promise<Record<string, unknown>>;
  /** Model whose /metrics series (cache counters, batch sizes) are diffed over the measured run. */
  metricsModel?: string;
}

/** The same load on each of the tracing trio: iris /predict, unique bodies, c=32 (as iris-fastify-c32). */
const tracingScenario = (name: string, server: ServiceKey, label: string): Scenario => ({
  name, label, server, connections: 32, makeRequests: uniqueIrisRequests, metricsModel: 'iris',
});

const SCENARIOS: Scenario[] = [
  { name: 'ref-c1', label: 'raw node:http reference', server: 'reference', connections: 1, makeRequests: uniqueIrisRequests },
  { name: 'ref-c32', label: 'raw node:http reference', server: 'reference', connections: 32, makeRequests: uniqueIrisRequests },
  { name: 'ref-c128', label: 'raw node:http reference', server: 'reference', connections: 128, makeRequests: uniqueIrisRequests },
  { name: 'nest-express-c32', label: 'bare NestJS (Express), fixed answer', server: 'nest-express', connections: 32, makeRequests: uniqueIrisRequests },
  { name: 'nest-fastify-c32', label: 'bare NestJS (Fastify), fixed answer', server: 'nest-fastify', connections: 32, makeRequests: uniqueIrisRequests },
  // The target scenario first on its process: scenarios on one process share its state (e.g. the
  // throttler's per-client hit list), so what ran before can slow what runs after.
  { name: 'iris-fastify-c32', label: 'iris /predict (unique bodies)', server: 'svc-fastify', connections: 32, makeRequests: uniqueIrisRequests, metricsModel: 'iris' },
  { name: 'iris-fastify-c1', label: 'iris /predict (unique bodies)', server: 'svc-fastify', connections: 1, makeRequests: uniqueIrisRequests },
  { name: 'iris-fastify-c128', label: 'iris /predict (unique bodies)', server: 'svc-fastify', connections: 128, makeRequests: uniqueIrisRequests },
  { name: 'v2-iris-c32', label: 'iris V2 /infer (unique bodies)', server: 'svc-fastify', connections: 32, makeRequests: uniqueV2IrisRequests, metricsModel: 'iris' },
  {
    name: 'grpc-iris-c32',
    label: 'iris V2 gRPC ModelInfer, fp32_contents (unique rows)',
    server: 'svc-fastify',
    connections: 32,
    grpcRequests: uniqueGrpcIrisRequests,
    metricsModel: 'iris',
  },
  {
    name: 'iris-cache-c32',
    label: 'iris /predict, cache hits',
    server: 'svc-fastify',
    connections: 32,
    makeRequests: cachedIrisRequests,
    prepare: warmCache,
    metricsModel: 'iris',
  },
  { name: 'iris-express-c32', label: 'iris /predict (unique bodies)', server: 'svc-express', connections: 32, makeRequests: uniqueIrisRequests, metricsModel: 'iris' },
  { name: 'workers-1-c32', label: 'iris /predict (unique bodies), WORKERS=1, Redis', server: 'svc-workers-1', connections: 32, makeRequests: uniqueIrisRequests },
  { name: 'workers-2-c32', label: 'iris /predict (unique bodies), WORKERS=2, Redis', server: 'svc-workers-2', connections: 32, makeRequests: uniqueIrisRequests },
  tracingScenario('tracing-off-c32', 'svc-tracing-off', 'iris /predict (unique bodies), tracing off'),
  tracingScenario('tracing-1-c32', 'svc-tracing-1', 'iris /predict (unique bodies), tracing ratio 1'),
  tracingScenario('tracing-0.01-c32', 'svc-tracing-0.01', 'iris /predict (unique bodies), tracing ratio 0.01'),
  {
    name: 'mlp-batching-on-c64',
    label: 'bench-mlp /predict, batching on',
    server: 'svc-batching-on',
    connections: 64,
    makeRequests: mlpRequests,
    metricsModel: 'bench-mlp',
  },
  {
    name: 'xl-batching-on-c64',
    label: 'bench-mlp-xl /predict, batching on',
    server: 'svc-batching-on',
    connections: 64,
    makeRequests: xlRequests,
    metricsModel: XL_MODEL,
  },
  {
    name: 'xl-v2-binary-c64',
    label: 'bench-mlp-xl V2 binary /infer, batching on',
    server: 'svc-batching-on',
    connections: 64,
    makeRequests: xlBinaryRequests,
    metricsModel: XL_MODEL,
  },
  {
    name: 'grpc-xl-raw-c64',
    label: 'bench-mlp-xl V2 gRPC ModelInfer, raw_input_contents, batching on',
    server: 'svc-batching-on',
    connections: 64,
    grpcRequests: xlGrpcRawRequests,
    metricsModel: XL_MODEL,
  },
  {
    name: 'mlp-batching-off-c64',
    label: 'bench-mlp /predict, batching off',
    server: 'svc-batching-off',
    connections: 64,
    makeRequests: mlpRequests,
    metricsModel: 'bench-mlp',
  },
  {
    name: 'xl-batching-off-c64',
    label: 'bench-mlp-xl /predict, batching off',
    server: 'svc-batching-off',
    connections: 64,
    makeRequests: xlRequests,
    metricsModel: XL_MODEL,
  },
];

/** The decay run: its own fresh svc-fastify process, steady c=32 iris load in back-to-back slices. */
const DECAY_NAME = 'decay';
const DECAY_CONNECTIONS = 32;

/** The large-tensor scenario (bench/large-tensors.ts): selected by its name like the others. */
const LARGE_TENSORS = 'large-tensors';
const LARGE_TITLE = 'Large tensors (issue 14): PaddleOCR det, one [1, 3, 640, 640] FP32 image';

/** BENCH_SCENARIOS=targets: only what the issue-10 targets need. */
const PAIRED_NAME = 'paired';
const TARGET_SCENARIOS = ['ref-c32', 'nest-express-c32', 'nest-fastify-c32', 'iris-fastify-c32', 'iris-express-c32', PAIRED_NAME, DECAY_NAME];
const FILTER_NAMES = FILTER.flatMap((t) => (t === 'targets' ? TARGET_SCENARIOS : [t]));

const selected = (name: string): boolean => FILTER_NAMES.length === 0 || FILTER_NAMES.some((t) => name === t || name.startsWith(t));

// ---------------------------------------------------------------------------------------------
// One scenario's load: autocannon (HTTP) or the closed-loop gRPC generator, run for a warm-up and
// then for the measured run (the caller reads /metrics in between)

interface Measure {
  run(durationS: number): Promise<LoadResult>;
  close(): void;
}

function httpMeasure(s: Scenario, url: string): Measure {
  const makeRequests = s.makeRequests;
  if (!makeRequests) throw new Error(`${s.name}: no requests`);
  return { run: (durationS) => runLoad({ url, connections: s.connections, durationS, makeRequests }), close: () => undefined };
}

/** Opens the channels to the service's GRPC_PORT (waiting until ServerReady answers: gRPC binds right after HTTP listens). */
async function grpcMeasure(s: Scenario, server: ManagedProcess, notes: Record<string, unknown>): Promise<Measure> {
  if (!server.grpcPort || !s.grpcRequests) throw new Error(`${s.name}: ${server.name} serves no gRPC (GRPC_PORT=0 in BENCH_SERVICE_ENV?)`);
  const load = await GrpcLoadGenerator.open({
    address: `127.0.0.1:${server.grpcPort}`,
    connections: s.connections,
    durationS: DURATION_S,
    callersPerChannel: GRPC_CALLERS_PER_CHANNEL,
    makeRequests: s.grpcRequests,
  });
  notes.grpcChannels = load.channels;
  return {
    run: async (durationS) => {
      const { channels: _channels, ...res } = await load.run(durationS);
      return res;
    },
    close: () => load.close(),
  };
}

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
// Tracing scenarios: the service's OTLP exporter pointed at the local sink

/** The OTEL_* settings of a traced service: OTLP/HTTP to the sink, parent-based ratio sampling; the export batching left at the SDK's defaults. */
function tracingEnv(sinkUrl: string, ratio: string): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: ratio, OTEL_SERVICE_NAME: 'nms-bench' };
}

interface SinkStats { requests: number; bytes: number; spans: number }

async function sinkStats(url: string): Promise<SinkStats> {
  return JSON.parse((await httpCall(`${url}/stats`, 'GET')).text) as SinkStats;
}

/**
 * What a service's sink received while it was measured. The exporter sends every ~5 s, so the
 * figure is of the exports that landed in the window (spans of the warm-up included, the last
 * seconds' not): a sanity check that spans flow, not an exact count.
 */
function sinkDelta(before: SinkStats, after: SinkStats, requests: number): Record<string, unknown> {
  const spans = after.spans - before.spans;
  return { spansExported: spans, exports: after.requests - before.requests, spansPerRequest: requests ? Math.round((spans / requests) * 100) / 100 : null };
}

const TRACING_SERVICES: readonly ServerKey[] = ['svc-tracing-off', 'svc-tracing-1', 'svc-tracing-0.01'];

interface TracedRun {
  scenario: Scenario;
  server: ManagedProcess;
  /** The traced services' own OTLP sink (its own process). */
  sink?: ManagedProcess;
  parts: LoadResult[];
  latencies: number[];
  metricsBefore?: MetricsSnapshot;
  sinkBefore?: SinkStats;
  cpuBefore?: number;
}

/**
 * The tracing scenarios (off, ratio 1, ratio 0.01; those selected), INTERLEAVED rather than one
 * after the other: their services all start (each traced one with an OTLP sink of its own), get
 * one warm-up each, then every round loads each for DURATION_S / TRACING_ROUNDS seconds, the
 * order rotating each round; a scenario's figures merge its rounds. On a shared machine the load
 * from elsewhere drifts during a run; interleaving spreads the drift over the three alike, so the
 * on / off ratios compare like with like. A service waiting its turn is idle.
 */
async function runTracingComparison(repository: string): Promise<ScenarioResult[]> {
  const scenarios = SCENARIOS.filter((s) => TRACING_SERVICES.includes(s.server) && selected(s.name));
  if (scenarios.length === 0) return [];
  const runs: TracedRun[] = [];
  try {
    for (const scenario of scenarios) {
      const svc = SERVICES[scenario.server as ServiceKey];
      const sink = svc.tracingRatio === undefined ? undefined : await startReferenceServer('otlp-sink');
      const env = sink ? { ...svc.env, ...tracingEnv(sink.url, svc.tracingRatio!) } : svc.env;
      log(`starting ${svc.label} (HTTP_ADAPTER=${svc.adapter}${Object.keys(env).length ? ` ${envText(env)}` : ''})`);
      const server = await startService(scenario.server, { adapter: svc.adapter, overrides: { MODEL_REPOSITORY: repository, ...env } });
      log(`${scenario.server} pid ${server.pid} ready on ${server.url}${sink ? `; its OTLP sink pid ${sink.pid}` : ''}`);
      runs.push({ scenario, server, sink, parts: [], latencies: [] });
    }
    const load = (run: TracedRun, durationS: number, latencies?: number[]): Promise<LoadResult> =>
      runLoad({ url: run.server.url, connections: run.scenario.connections, durationS, makeRequests: run.scenario.makeRequests!, latencies });
    for (const run of runs) {
      if (WARMUP_S > 0) await load(run, WARMUP_S);
      run.metricsBefore = await metricsSnapshot(run.server.url, 'iris');
      run.sinkBefore = run.sink && (await sinkStats(run.sink.url));
      run.cpuBefore = cpuSeconds(run.server.pid);
    }
    const sliceS = DURATION_S / TRACING_ROUNDS;
    log(`tracing: ${runs.map((r) => r.scenario.name).join(', ')} interleaved, ${TRACING_ROUNDS} rounds of ${sliceS.toFixed(1)} s each at c=32`);
    for (let round = 0; round < TRACING_ROUNDS; round++) {
      for (let i = 0; i < runs.length; i++) {
        const run = runs[(i + round) % runs.length];
        const part = await load(run, sliceS, run.latencies);
        run.parts.push(part);
        log(`  round ${round + 1}/${TRACING_ROUNDS} ${run.scenario.name}: ${part.rps} req/s, p50 ${part.p50} ms, p99 ${part.p99} ms`);
      }
    }
    const results: ScenarioResult[] = [];
    for (const run of runs) {
      const res = mergeLoads(run.parts, run.latencies);
      const cpuAfter = cpuSeconds(run.server.pid);
      const notes: Record<string, unknown> = { rounds: run.parts.map((p) => p.rps) };
      if (cpuAfter !== undefined && run.cpuBefore !== undefined && res.requests) notes.cpuUsPerRequest = Math.round(((cpuAfter - run.cpuBefore) / res.requests) * 1e6);
      Object.assign(notes, metricsDelta(run.metricsBefore!, await metricsSnapshot(run.server.url, 'iris')));
      if (run.sink && run.sinkBefore) Object.assign(notes, sinkDelta(run.sinkBefore, await sinkStats(run.sink.url), res.requests));
      const rss = rssBytes(run.server.pid);
      if (rss !== undefined) notes.rssMb = Math.round(rss / 1048576);
      const { scenario } = run;
      results.push({ name: scenario.name, label: scenario.label, server: `${scenario.server}: ${SERVICES[scenario.server as ServiceKey].label}`, concurrency: scenario.connections, ...res, notes });
      log(`${scenario.name}: ${res.rps} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms, non-2xx ${res.non2xx}, errors ${res.errors} ${JSON.stringify(notes)}`);
    }
    return results;
  } finally {
    for (const run of runs) {
      await run.server.stop();
      await run.sink?.stop();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The issue-10 ratios, interleaved: service and bare NestJS on the same adapter, running side by side

/**
 * One adapter's interleaved comparison: each round's req/s of the service and of bare NestJS, their
 * ratio, and the median ratio (the judged figure). `nestFlagged` is bare NestJS again, started with
 * the service's node flags ({@link serviceNodeFlags}), loaded in the same rounds: context, so the
 * report shows what those flags alone would give the framework (empty when the start script has none).
 */
export interface PairedRatio {
  adapter: 'Fastify' | 'Express';
  rounds: { svc: number; nest: number; ratio: number; nestFlagged?: number; ratioFlagged?: number }[];
  median: number;
  medianFlagged?: number;
}

const ratio3 = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;

/**
 * `paired-fastify`, `paired-express`: the service (defaults) and bare NestJS on the same adapter
 * (and bare NestJS with the service's node flags, when it has any) start together, get a warm-up
 * each, then PAIRED_ROUNDS rounds load each in turn at c=32 for PAIRED_SLICE_S seconds (the
 * service and bare NestJS back to back, which goes first alternating, the context server last),
 * and the ratio is the median of the rounds' ratios. The separate scenarios
 * run minutes apart, and the load from elsewhere on this shared machine moved their ratio between
 * 0.35 and 0.47 in four runs of one build; a round's slices are seconds apart (as in the issue's
 * own "three rounds alternating, medians").
 */
async function runPairedRatios(repository: string): Promise<PairedRatio[]> {
  const out: PairedRatio[] = [];
  const pairs = [['Fastify', 'svc-fastify', 'nest-fastify'], ['Express', 'svc-express', 'nest-express']] as const;
  for (const [adapter, svcKey, nestKey] of pairs) {
    if (!selected(`${PAIRED_NAME}-${adapter.toLowerCase()}`)) continue;
    const svc = SERVICES[svcKey];
    const started: ManagedProcess[] = [];
    try {
      const nest = await startReferenceServer(nestKey);
      started.push(nest);
      const flagged = serviceNodeFlags().length ? await startReferenceServer(nestKey, serviceNodeFlags()) : undefined;
      if (flagged) started.push(flagged);
      const service = await startService(svcKey, { adapter: svc.adapter, overrides: { MODEL_REPOSITORY: repository, ...svc.env } });
      started.push(service);
      const flagNote = flagged ? ` and ${nestKey} with ${serviceNodeFlags().join(' ')} pid ${flagged.pid}` : '';
      log(`${PAIRED_NAME}-${adapter.toLowerCase()}: ${svcKey} pid ${service.pid}, ${nestKey} pid ${nest.pid}${flagNote}, ${PAIRED_ROUNDS} interleaved rounds of ${PAIRED_SLICE_S} s each at c=32`);
      const load = (url: string, durationS: number): Promise<LoadResult> => runLoad({ url, connections: 32, durationS, makeRequests: uniqueIrisRequests });
      if (WARMUP_S > 0) for (const server of [nest, service, ...(flagged ? [flagged] : [])]) await load(server.url, WARMUP_S);
      const rounds: PairedRatio['rounds'] = [];
      for (let round = 0; round < PAIRED_ROUNDS; round++) {
        // The judged pair back to back, which goes first alternating; the context server after them.
        const order = round % 2 === 0 ? [nest, service] : [service, nest];
        if (flagged) order.push(flagged);
        const rps = new Map<ManagedProcess, number>();
        for (const server of order) rps.set(server, (await load(server.url, PAIRED_SLICE_S)).rps);
        const [svcRps, nestRps] = [rps.get(service)!, rps.get(nest)!];
        const row: PairedRatio['rounds'][number] = { svc: svcRps, nest: nestRps, ratio: ratio3(svcRps, nestRps) };
        if (flagged) Object.assign(row, { nestFlagged: rps.get(flagged)!, ratioFlagged: ratio3(svcRps, rps.get(flagged)!) });
        rounds.push(row);
        const flaggedNote = flagged ? `; bare NestJS with the service's node flags ${row.nestFlagged} req/s, ratio ${row.ratioFlagged}` : '';
        log(`  round ${round + 1}/${PAIRED_ROUNDS}: service ${svcRps} req/s, bare NestJS ${nestRps} req/s, ratio ${row.ratio}${flaggedNote}`);
      }
      const pair: PairedRatio = { adapter, rounds, median: ratio3(median(rounds.map((r) => r.ratio)), 1) };
      if (flagged) pair.medianFlagged = ratio3(median(rounds.map((r) => r.ratioFlagged!)), 1);
      out.push(pair);
    } finally {
      for (const server of started.reverse()) await server.stop();
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ratios against the targets of issue 10 (and a few figures for context, no target)

function ratios(results: ScenarioResult[], ort: OrtMeasurement[], decay: DecayResult | undefined, paired: PairedRatio[] = []): RatioResult[] {
  const r = (name: string): ScenarioResult | undefined => results.find((x) => x.name === name);
  const ratio = (a?: number, b?: number): number | null =>
    a === undefined || b === undefined || !b ? null : Math.round((a / b) * 1000) / 1000;
  const check = (value: number | null, ok: (v: number) => boolean): RatioResult['status'] =>
    value === null ? 'n/a' : ok(value) ? 'PASS' : 'FAIL';
  const rps = (x?: number): string => (x === undefined ? '–' : Math.round(x).toLocaleString('en-US'));
  const over = (a: string, b: string, unit = 'req/s'): string => `${rps(r(a)?.rps)} ÷ ${rps(r(b)?.rps)} ${unit}`;
  const out: RatioResult[] = [];

  for (const [adapter, svc, nest] of [
    ['Fastify', 'iris-fastify-c32', 'nest-fastify-c32'],
    ['Express', 'iris-express-c32', 'nest-express-c32'],
  ] as const) {
    // With the interleaved comparison run, it is the one judged; the separate runs are context.
    const pair = paired.find((p) => p.adapter === adapter);
    if (pair) {
      out.push({
        name: `service (${adapter}) / bare NestJS (${adapter}), interleaved`,
        formula: `${PAIRED_NAME}-${adapter.toLowerCase()}: median of ${pair.rounds.length} rounds' ratios`,
        value: pair.median,
        measured: pair.rounds.map((x) => `${rps(x.svc)} ÷ ${rps(x.nest)}`).join('; '),
        target: '≥ 0.5',
        status: check(pair.median, (x) => x >= 0.5),
      });
      if (pair.medianFlagged !== undefined) {
        out.push({
          name: `service (${adapter}) / bare NestJS (${adapter}) started with the service's node flags, interleaved`,
          formula: `${PAIRED_NAME}-${adapter.toLowerCase()}, bare NestJS under \`node ${serviceNodeFlags().join(' ')}\``,
          value: pair.medianFlagged,
          measured: pair.rounds.map((x) => `${rps(x.svc)} ÷ ${rps(x.nestFlagged)}`).join('; '),
          target: '(context)',
          status: 'info',
        });
      }
    }
    const v = ratio(r(svc)?.rps, r(nest)?.rps);
    out.push({
      name: `service (${adapter}) / bare NestJS (${adapter})${pair ? ', separate runs' : ''}`,
      formula: `${svc} ÷ ${nest}`, value: v, measured: over(svc, nest),
      target: pair ? '(context)' : '≥ 0.5', status: pair ? (v === null ? 'n/a' : 'info') : check(v, (x) => x >= 0.5),
    });
  }
  const p99 = r('iris-fastify-c32')?.p99 ?? null;
  out.push({ name: 'service (Fastify) p99', formula: 'iris-fastify-c32', value: p99, unit: 'ms', measured: p99 === null ? '' : `p50 ${r('iris-fastify-c32')?.p50} ms`, target: '≤ 15 ms', status: check(p99, (v) => v <= 15) });

  const first = decay?.slices[0];
  const last = decay?.slices[decay.slices.length - 1];
  const span = decay ? `${decay.slices.length} × ${decay.sliceSeconds} s` : 'not run';
  out.push({
    name: 'decay: req/s, last minute vs first',
    formula: `service (Fastify) c=${DECAY_CONNECTIONS}, ${span}`,
    value: decay?.rpsChangePct ?? null,
    unit: '%',
    measured: first && last ? `${rps(first.rps)} → ${rps(last.rps)} req/s` : '',
    target: 'within ±10 %',
    status: check(decay?.rpsChangePct ?? null, (v) => Math.abs(v) <= 10),
  });
  out.push({
    name: 'decay: RSS growth, minute 1 → end',
    formula: `service (Fastify), ${span}`,
    value: decay?.rssGrowthPct ?? null,
    unit: '%',
    measured: first && last ? `${first.rssMb ?? '–'} → ${last.rssMb ?? '–'} MB` : '',
    target: '< 10 %',
    status: check(decay?.rssGrowthPct ?? null, (v) => v < 10),
  });
  const cpuFirst = first?.cpuUsPerRequest;
  const cpuLast = last?.cpuUsPerRequest;
  if (typeof cpuFirst === 'number' && typeof cpuLast === 'number' && cpuFirst > 0) {
    out.push({
      name: 'decay: service CPU per request, last minute vs first',
      formula: `service (Fastify), ${span}: process CPU ÷ requests per slice`,
      value: Math.round(((cpuLast - cpuFirst) / cpuFirst) * 1000) / 10,
      unit: '%',
      measured: `${cpuFirst} → ${cpuLast} µs`,
      target: '(context)',
      status: 'info',
    });
  }

  // Context only: no targets.
  const info = (name: string, formula: string, value: number | null, measured: string): void => {
    if (value !== null) out.push({ name, formula, value, measured, target: '(context)', status: 'info' });
  };
  for (const [adapter, svc] of [['Fastify', 'iris-fastify-c32'], ['Express', 'iris-express-c32']] as const) {
    info(`service (${adapter}) / raw node:http`, `${svc} ÷ ref-c32`, ratio(r(svc)?.rps, r('ref-c32')?.rps), over(svc, 'ref-c32'));
  }
  for (const [adapter, nest] of [['Fastify', 'nest-fastify-c32'], ['Express', 'nest-express-c32']] as const) {
    info(`bare NestJS (${adapter}) / raw node:http`, `${nest} ÷ ref-c32`, ratio(r(nest)?.rps, r('ref-c32')?.rps), over(nest, 'ref-c32'));
  }
  info('cache hits / raw node:http', 'iris-cache-c32 ÷ ref-c32', ratio(r('iris-cache-c32')?.rps, r('ref-c32')?.rps), over('iris-cache-c32', 'ref-c32'));
  info('V2 /infer / /predict', 'v2-iris-c32 ÷ iris-fastify-c32', ratio(r('v2-iris-c32')?.rps, r('iris-fastify-c32')?.rps), over('v2-iris-c32', 'iris-fastify-c32'));
  info('V2 gRPC / V2 REST JSON (iris)', 'grpc-iris-c32 ÷ v2-iris-c32', ratio(r('grpc-iris-c32')?.rps, r('v2-iris-c32')?.rps), over('grpc-iris-c32', 'v2-iris-c32'));
  info('V2 gRPC raw / V2 REST binary (XL)', 'grpc-xl-raw-c64 ÷ xl-v2-binary-c64', ratio(r('grpc-xl-raw-c64')?.rps, r('xl-v2-binary-c64')?.rps), over('grpc-xl-raw-c64', 'xl-v2-binary-c64'));
  for (const ratioName of ['1', '0.01']) {
    const on = `tracing-${ratioName}-c32`;
    info(`tracing on (ratio ${ratioName}) / off`, `${on} ÷ tracing-off-c32`, ratio(r(on)?.rps, r('tracing-off-c32')?.rps), over(on, 'tracing-off-c32'));
    const cpuOn = r(on)?.notes?.cpuUsPerRequest as number | undefined;
    const cpuOff = r('tracing-off-c32')?.notes?.cpuUsPerRequest as number | undefined;
    if (cpuOn !== undefined && cpuOff !== undefined) {
      out.push({ name: `tracing on (ratio ${ratioName}): CPU per request`, formula: `${on} vs tracing-off-c32, service process CPU ÷ requests`, value: cpuOn - cpuOff, unit: 'µs', measured: `${cpuOff} → ${cpuOn} µs (+${Math.round(((cpuOn - cpuOff) / cpuOff) * 1000) / 10} %)`, target: '(context)', status: 'info' });
    }
    const p99On = r(on)?.p99;
    const p99Off = r('tracing-off-c32')?.p99;
    if (p99On !== undefined && p99Off !== undefined) {
      out.push({ name: `tracing on (ratio ${ratioName}): p99`, formula: `${on} vs tracing-off-c32`, value: p99On, unit: 'ms', measured: `off ${p99Off} ms; p50 ${r('tracing-off-c32')?.p50} → ${r(on)?.p50} ms`, target: '(context)', status: 'info' });
    }
  }
  info('WORKERS=2 / WORKERS=1 (both with Redis)', 'workers-2-c32 ÷ workers-1-c32', ratio(r('workers-2-c32')?.rps, r('workers-1-c32')?.rps), over('workers-2-c32', 'workers-1-c32'));
  info('batching on / off (bench-mlp)', 'c=64', ratio(r('mlp-batching-on-c64')?.rps, r('mlp-batching-off-c64')?.rps), over('mlp-batching-on-c64', 'mlp-batching-off-c64'));
  info('batching on / off (XL)', 'c=64', ratio(r('xl-batching-on-c64')?.rps, r('xl-batching-off-c64')?.rps), over('xl-batching-on-c64', 'xl-batching-off-c64'));
  const xlRows64 = bestRows(ort, XL_MODEL, 64);
  info('service / raw ORT (XL)', 'xl-batching-on-c64 req/s ÷ raw ORT rows/s at batch 64', ratio(r('xl-batching-on-c64')?.rps, xlRows64), `${rps(r('xl-batching-on-c64')?.rps)} ÷ ${rps(xlRows64)}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decay: one fresh service process under steady load, req/s and RSS per slice

async function runDecay(repository: string): Promise<DecayResult> {
  const label = 'service, Fastify, defaults (fresh process)';
  log(`${DECAY_NAME}: starting ${label}; ${WARMUP_S} s warm-up, then ${DECAY_MINUTES} × ${DECAY_SLICE_S} s at c=${DECAY_CONNECTIONS}`);
  const server = await startService('svc-decay', { adapter: 'fastify', overrides: { MODEL_REPOSITORY: repository } });
  log(`svc-decay pid ${server.pid} ready on ${server.url}`);
  const slices: DecaySlice[] = [];
  const load = { url: server.url, connections: DECAY_CONNECTIONS, durationS: DECAY_SLICE_S, makeRequests: uniqueIrisRequests };
  let notes: Record<string, unknown> = {};
  try {
    if (WARMUP_S > 0) await runLoad({ ...load, durationS: WARMUP_S });
    const before = await metricsSnapshot(server.url, 'iris');
    for (let minute = 1; minute <= DECAY_MINUTES; minute++) {
      const cpuBefore = cpuSeconds(server.pid);
      const res = await runLoad(load);
      const cpuAfter = cpuSeconds(server.pid);
      const rss = rssBytes(server.pid);
      const cpuUsPerRequest = cpuBefore === undefined || cpuAfter === undefined || !res.requests ? null : Math.round(((cpuAfter - cpuBefore) * 1e6) / res.requests);
      const slice: DecaySlice = { minute, rps: res.rps, p50: res.p50, p99: res.p99, errors: res.non2xx + res.errors, rssMb: rss === undefined ? null : Math.round((rss / 1048576) * 10) / 10, cpuUsPerRequest };
      slices.push(slice);
      log(`  ${minute}/${DECAY_MINUTES}: ${slice.rps} req/s, p50 ${slice.p50} ms, p99 ${slice.p99} ms, errors ${slice.errors}, RSS ${slice.rssMb} MB, ${cpuUsPerRequest ?? '–'} µs CPU per request`);
    }
    notes = metricsDelta(before, await metricsSnapshot(server.url, 'iris'));
    log(`  over the decay run: ${JSON.stringify(notes)}`);
  } finally {
    await server.stop();
    const errTail = server.stderrTail().trim();
    if (errTail) log(`svc-decay stderr tail:\n${errTail.split('\n').slice(-10).join('\n')}`);
  }
  const pct = (a: number | null | undefined, b: number | null | undefined): number | null =>
    a === null || a === undefined || b === null || b === undefined || !b ? null : Math.round(((a - b) / b) * 1000) / 10;
  const first = slices[0];
  const last = slices[slices.length - 1];
  const two = slices.length >= 2;
  return {
    server: label,
    concurrency: DECAY_CONNECTIONS,
    sliceSeconds: DECAY_SLICE_S,
    slices,
    rpsChangePct: two ? pct(last.rps, first.rps) : null,
    rssGrowthPct: two ? pct(last.rssMb, first.rssMb) : null,
    notes,
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const machine = machineFacts();
  const startedAt = new Date().toISOString();
  const extraEnv = benchServiceEnv();
  const runDecayToo = DECAY_MINUTES > 0 && selected(DECAY_NAME);
  log(`${machineLine(machine)}`);
  log(
    `duration ${DURATION_S} s, warm-up ${WARMUP_S} s, decay ${runDecayToo ? `${DECAY_MINUTES} × ${DECAY_SLICE_S} s` : 'off'}` +
      `${FILTER.length ? `, scenarios matching ${FILTER.join(',')}` : ''}${Object.keys(extraEnv).length ? `, BENCH_SERVICE_ENV ${envText(extraEnv)}` : ''}`,
  );

  // 0. The repositories the services serve: the bundled models alone (default-configuration
  //    services), and the bundled models plus bench-mlp-xl (built once; batching scenarios).
  const defaultRepository = ensureDefaultRepository();
  const needsXl = selected('ort') || SCENARIOS.some((s) => SERVICES[s.server as ServiceKey]?.repository === 'xl' && selected(s.name));
  const xlRepository = needsXl ? ensureBenchRepository(log) : undefined;

  // 1. Raw onnxruntime first, while no other process competes for the cores.
  let ort: OrtMeasurement[] = [];
  if (selected('ort')) {
    log(`raw onnxruntime: ~${ORT_SECONDS} s per batch size`);
    ort = await measureRawOrt(ORT_SECONDS, xlModelPath());
    for (const o of ort) log(`  ${o.model} (${o.options}) batch ${o.batch}: ${o.rowsPerS} rows/s (${o.runMs} ms/run)`);
  }

  // 2. HTTP scenarios, one server process at a time.
  const results: ScenarioResult[] = [];
  const order: ServerKey[] = ['reference', 'nest-express', 'nest-fastify', 'svc-fastify', 'svc-express', 'svc-workers-1', 'svc-workers-2', 'svc-batching-on', 'svc-batching-off'];
  let redis: RedisServerProcess | undefined;
  for (const key of order) {
    const scenarios = SCENARIOS.filter((s) => s.server === key && selected(s.name));
    if (scenarios.length === 0) continue;
    let server: ManagedProcess;
    if (isLimitServer(key)) {
      server = await startReferenceServer(key === 'reference' ? 'raw' : key);
      log(`${key} server pid ${server.pid} on ${server.url}`);
    } else {
      const svc = SERVICES[key];
      const repository = svc.repository === 'xl' ? (xlRepository as string) : defaultRepository;
      if (svc.redis && !redis) {
        redis = await RedisServerProcess.start();
        log(`redis-server pid ${redis.pid} on ${redis.url} (for the WORKERS scenarios)`);
      }
      const env = svc.redis ? { ...svc.env, REDIS_URL: redis!.url } : svc.env;
      log(`starting ${svc.label} (HTTP_ADAPTER=${svc.adapter}${Object.keys(env).length ? ` ${envText(env)}` : ''})`);
      server = await startService(key, { adapter: svc.adapter, overrides: { MODEL_REPOSITORY: repository, ...env } });
      log(`${key} pid ${server.pid} ready on ${server.url}`);
    }
    try {
      for (const s of scenarios) {
        const notes: Record<string, unknown> = {};
        if (s.prepare) Object.assign(notes, await s.prepare(server.url));
        const measure = s.grpcRequests ? await grpcMeasure(s, server, notes) : httpMeasure(s, server.url);
        log(`${s.name}: c=${s.connections}${s.grpcRequests ? ` over gRPC (127.0.0.1:${server.grpcPort}, ${notes.grpcChannels} channels)` : ''}, ${WARMUP_S} s warm-up + ${DURATION_S} s`);
        let res: LoadResult;
        try {
          if (WARMUP_S > 0) await measure.run(WARMUP_S);
          const before = s.metricsModel ? await metricsSnapshot(server.url, s.metricsModel) : undefined;
          res = await measure.run(DURATION_S);
          if (s.metricsModel && before) Object.assign(notes, metricsDelta(before, await metricsSnapshot(server.url, s.metricsModel)));
        } finally {
          measure.close();
        }
        if (!isLimitServer(key)) {
          const rss = rssBytes(server.pid);
          if (rss !== undefined) notes.rssMb = Math.round(rss / 1048576);
        }
        const serverLabel = isLimitServer(key) ? key : `${key}: ${SERVICES[key].label}`;
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
      if (errTail && !isLimitServer(key)) log(`${key} stderr tail:\n${errTail.split('\n').slice(-10).join('\n')}`);
    }
  }
  await redis?.stop();

  // 2b. Tracing off / ratio 1 / ratio 0.01, interleaved (see runTracingComparison).
  results.push(...(await runTracingComparison(defaultRepository)));

  // 2b'. The issue-10 ratios, service and bare NestJS interleaved (see runPairedRatios).
  const paired = await runPairedRatios(defaultRepository);

  // 2c. Image-sized tensors (issue 14): raw onnxruntime, V2 binary and JSON, RSS under 8 at once.
  const largeTensors = selected(LARGE_TENSORS) ? await runLargeTensors(log) : undefined;
  const largeText = largeTensors ? largeTensorsLines(largeTensors).map((line) => `- ${line}`).join('\n') : '';

  // 3. Decay, last: minutes of steady load on a fresh service process.
  const decay = runDecayToo ? await runDecay(defaultRepository) : undefined;

  // 4. Report.
  const ratioRows = ratios(results, ort, decay, paired);
  const table = scenarioTable(results);
  const ratioText = ratioTable(ratioRows);
  const ortText = ort.length ? ortTable(ort) : '';
  const decayText = decay ? decayTable(decay) : '';
  const decayTitle = decay
    ? `Decay: ${decay.server}, c=${decay.concurrency}, ${decay.slices.length} back-to-back slices of ${decay.sliceSeconds} s after a ${WARMUP_S} s warm-up`
    : '';
  const header =
    `Machine: ${machineLine(machine)}\nRun: ${startedAt}, ${DURATION_S} s per scenario after a ${WARMUP_S} s warm-up` +
    (decay ? `; decay ${decay.slices.length} × ${decay.sliceSeconds} s` : '; no decay run') +
    (FILTER.length ? ` (partial run: BENCH_SCENARIOS=${FILTER.join(',')})` : '') +
    (Object.keys(extraEnv).length ? ` (not the defaults: BENCH_SERVICE_ENV=${envText(extraEnv)})` : '');

  const ratioTitle = 'Targets (issue 10) and context';
  const console_ = [
    header,
    '',
    table,
    '',
    ...(decayText ? [`${decayTitle}:`, '', decayText, ''] : []),
    ...(ortText ? ["Raw onnxruntime (in-process; default = onnxruntime's session options, served = the service's; the limit is the better):", '', ortText, ''] : []),
    ...(largeText ? [`${LARGE_TITLE}:`, '', largeText, ''] : []),
    `${ratioTitle}:`,
    '',
    ratioText,
  ];
  process.stdout.write(`\n${console_.join('\n')}\n`);

  const md = [
    '# Benchmark results',
    '',
    `Generated by \`npm run bench\` (bench/run.ts). ${header.replace('\n', '  \n')}`,
    '',
    'Latencies are client-side (autocannon, 2xx only). "raw node:http reference" parses the same JSON and answers a fixed body of the same shape; ' +
      '"bare NestJS" answers that fixed body from a controller with nothing else installed. The services run their default configuration ' +
      '(LOG_LEVEL=info, cache on, metrics on, throttling on at 10^9 requests per minute and per hour) unless the server column says otherwise.',
    '',
    table,
    '',
    ...(decayText ? [`## ${decayTitle}`, '', decayText, ''] : []),
    ...(ortText ? ["## Raw onnxruntime (in-process; default = onnxruntime's session options, served = the service's; the limit is the better)", '', ortText, ''] : []),
    ...(largeText ? [`## ${LARGE_TITLE}`, '', largeText, ''] : []),
    `## ${ratioTitle}`,
    '',
    ratioText,
    '',
  ].join('\n');
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(resolve(OUT_DIR, 'results.md'), md);
  writeFileSync(
    resolve(OUT_DIR, 'results.json'),
    `${JSON.stringify(
      {
        startedAt,
        finishedAt: new Date().toISOString(),
        machine,
        settings: { durationS: DURATION_S, warmupS: WARMUP_S, pairedRounds: PAIRED_ROUNDS, pairedSliceS: PAIRED_SLICE_S, ortSeconds: ORT_SECONDS, decayMinutes: DECAY_MINUTES, decaySliceS: DECAY_SLICE_S, grpcCallersPerChannel: GRPC_CALLERS_PER_CHANNEL, filter: FILTER, serviceEnv: extraEnv },
        scenarios: results,
        paired,
        decay,
        rawOrt: ort,
        largeTensors,
        ratios: ratioRows,
      },
      null,
      2,
    )}\n`,
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
