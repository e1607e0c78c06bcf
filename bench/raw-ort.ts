import { InferenceSession, Tensor } from 'onnxruntime-node';
import { resolve } from 'node:path';

import { mulberry32 } from '../scripts/lib/random';
import { ROOT } from './service-process';

/** Deterministic PRNG (the model build's mulberry32) so bodies and tensors are the same on every run. */
export const seededRandom = mulberry32;

export interface OrtMeasurement {
  model: string;
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
    batch,
    rowsPerS: Math.round(median(rates)),
    runMs: Math.round(median(perCall) * 1000) / 1000,
    runs: rates.map((x) => Math.round(x)),
    calls,
  };
}

/**
 * Raw onnxruntime in this process, default session options: bench-mlp at 1/32/64 rows, iris at 1,
 * and bench-mlp-xl (when `xlPath` is given) at 1/64.
 */
export async function measureRawOrt(totalSPerBatch = 3, xlPath?: string): Promise<OrtMeasurement[]> {
  const out: OrtMeasurement[] = [];
  if (xlPath) {
    const xl = await InferenceSession.create(xlPath);
    try {
      for (const batch of [1, 64]) out.push(await measure(xl, 'bench-mlp-xl', 2048, batch, totalSPerBatch));
    } finally {
      await xl.release();
    }
  }
  const mlp = await InferenceSession.create(resolve(ROOT, 'models/bench-mlp/1/model.onnx'));
  try {
    for (const batch of [1, 32, 64]) out.push(await measure(mlp, 'bench-mlp', 256, batch, totalSPerBatch));
  } finally {
    await mlp.release();
  }
  const iris = await InferenceSession.create(resolve(ROOT, 'models/iris/2/model.onnx'));
  try {
    out.push(await measure(iris, 'iris', 4, 1, totalSPerBatch));
  } finally {
    await iris.release();
  }
  return out;
}
