import { InferenceSession, Tensor } from 'onnxruntime-node';
import { resolve } from 'node:path';

import { mulberry32 } from '../scripts/lib/random';
import { ROOT } from './service-process';

/** Deterministic PRNG (the model build's mulberry32) so bodies and tensors are the same on every run. */
export const seededRandom = mulberry32;

export interface OrtMeasurement {
  model: string;
  /** 'default' (onnxruntime's own session options) or 'served' (the options the service uses for this model). */
  options: 'default' | 'served';
  batch: number;
  /** Median over the runs of rows per second. */
  rowsPerS: number;
  /** Median latency of one session.run (ms). */
  runMs: number;
  runs: number[];
  calls: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * session.run throughput, sequential awaits, on a batch of `batch` rows: a warm-up, then `runs`
 * runs of `totalS / runs` seconds each; rows/s is the median run.
 */
async function measure(
  session: InferenceSession,
  model: string,
  options: OrtMeasurement['options'],
  width: number,
  batch: number,
  totalS: number,
  runs = 5,
): Promise<OrtMeasurement> {
  const rand = seededRandom(42 + batch);
  const data = Float32Array.from({ length: batch * width }, () => rand() * 2 - 1);
  const feeds = { [session.inputNames[0]]: new Tensor('float32', data, [batch, width]) };
  const warmEnd = performance.now() + 300;
  while (performance.now() < warmEnd) await session.run(feeds);
  const perRunMs = (totalS * 1000) / runs;
  const rates: number[] = [];
  const perCall: number[] = [];
  let calls = 0;
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < perRunMs) {
      await session.run(feeds);
      n++;
      now = performance.now();
    }
    calls += n;
    rates.push((n * batch * 1000) / (now - start));
    perCall.push((now - start) / n);
  }
  return {
    model,
    options,
    batch,
    rowsPerS: Math.round(median(rates)),
    runMs: Math.round(median(perCall) * 1000) / 1000,
    runs: rates.map((x) => Math.round(x)),
    calls,
  };
}

/** The session options the service uses for bench-mlp and bench-mlp-xl (model.json: two intra-op threads; the server never spins). */
const SERVED_OPTIONS: InferenceSession.SessionOptions = {
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

async function measureModel(path: string, model: string, width: number, batches: number[], totalS: number): Promise<OrtMeasurement[]> {
  const out: OrtMeasurement[] = [];
  for (const [options, sessionOptions] of [['default', {}], ['served', SERVED_OPTIONS]] as const) {
    const session = await InferenceSession.create(path, sessionOptions);
    try {
      for (const batch of batches) out.push(await measure(session, model, options, width, batch, totalS));
    } finally {
      await session.release();
    }
  }
  return out;
}

/**
 * Raw onnxruntime in this process, with onnxruntime's default session options and with the
 * service's: bench-mlp at 1/32/64 rows, bench-mlp-xl (when `xlPath` is given) at 1/64, iris at 1.
 * The compute limit of a model is the better of the two at 64 rows.
 */
export async function measureRawOrt(totalSPerBatch = 3, xlPath?: string): Promise<OrtMeasurement[]> {
  const out: OrtMeasurement[] = [];
  if (xlPath) out.push(...(await measureModel(xlPath, 'bench-mlp-xl', 2048, [1, 64], totalSPerBatch)));
  out.push(...(await measureModel(resolve(ROOT, 'models/bench-mlp/1/model.onnx'), 'bench-mlp', 256, [1, 32, 64], totalSPerBatch)));
  const iris = await InferenceSession.create(resolve(ROOT, 'models/iris/2/model.onnx'));
  try {
    out.push(await measure(iris, 'iris', 'default', 4, 1, totalSPerBatch));
  } finally {
    await iris.release();
  }
  return out;
}

/** The compute limit: the best rows/s of `model` at `batch` rows under either session options. */
export function bestRows(ort: OrtMeasurement[], model: string, batch: number): number | undefined {
  const rows = ort.filter((o) => o.model === model && o.batch === batch).map((o) => o.rowsPerS);
  return rows.length ? Math.max(...rows) : undefined;
}
