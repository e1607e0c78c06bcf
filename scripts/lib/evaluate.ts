import { InferenceSession, Tensor } from 'onnxruntime-node';
import { TensorSpec } from './onnx-graph';

/** onnxruntime tensor type -> KServe V2 datatype name used in model.json. */
const V2_DATATYPE: Partial<Record<Tensor.Type, TensorSpec['datatype']>> = { float32: 'FP32' };

/** onnxruntime reports symbolic dims (dim_param) as strings; model.json writes them as -1. */
function normaliseShape(shape: ReadonlyArray<number | string>): number[] {
  return shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
}

function signature(specs: readonly TensorSpec[]): string {
  return JSON.stringify(specs.map(({ name, datatype, shape }) => ({ name, datatype, shape })));
}

function actualSpecs(names: readonly string[], metadata: readonly InferenceSession.ValueMetadata[]): TensorSpec[] {
  return names.map((name, i) => {
    const meta = metadata[i];
    if (!meta?.isTensor) throw new Error(`${name}: not a tensor value`);
    const datatype = V2_DATATYPE[meta.type];
    if (!datatype) throw new Error(`${name}: unsupported tensor type ${meta.type}`);
    return { name, datatype, shape: normaliseShape(meta.shape) };
  });
}

/** Fails unless the session's input/output names, dtypes and shapes equal what model.json declares. */
export function checkSignature(session: InferenceSession, inputs: TensorSpec[], outputs: TensorSpec[]): void {
  const pairs: [string, TensorSpec[], TensorSpec[]][] = [
    ['inputs', inputs, actualSpecs(session.inputNames, session.inputMetadata)],
    ['outputs', outputs, actualSpecs(session.outputNames, session.outputMetadata)],
  ];
  for (const [kind, declared, actual] of pairs) {
    if (signature(declared) !== signature(actual)) {
      throw new Error(`ONNX ${kind} ${signature(actual)} do not match model.json ${signature(declared)}`);
    }
  }
}

/** Runs `rows` as one [n, cols] FP32 batch and returns the named output as [n][k]. */
export async function predict(
  session: InferenceSession,
  input: string,
  output: string,
  rows: readonly number[][],
): Promise<number[][]> {
  const cols = rows[0].length;
  const feed = new Tensor('float32', Float32Array.from(rows.flat()), [rows.length, cols]);
  const result = (await session.run({ [input]: feed }))[output];
  const [n, k] = result.dims;
  if (n !== rows.length) throw new Error(`expected ${rows.length} output rows, got ${n}`);
  const data = result.data as Float32Array;
  return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * k, (i + 1) * k)));
}

export const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

const argmax = (row: readonly number[]) => row.reduce((best, v, j) => (v > row[best] ? j : best), 0);

export function accuracy(probabilities: readonly number[][], y: readonly number[]): number {
  return probabilities.filter((row, i) => argmax(row) === y[i]).length / y.length;
}

export function regressionMetrics(predicted: readonly number[][], y: readonly number[]): { rmse: number; r2: number } {
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  const ssRes = y.reduce((s, v, i) => s + (v - predicted[i][0]) ** 2, 0);
  const ssTot = y.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { rmse: Math.sqrt(ssRes / y.length), r2: 1 - ssRes / ssTot };
}
