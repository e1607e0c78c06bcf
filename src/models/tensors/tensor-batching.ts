import { NamedTensors, Tensor, TensorData } from './tensor';

function concatData(parts: TensorData[]): TensorData {
  const first = parts[0];
  if (Array.isArray(first)) return (parts as string[][]).flat();
  const total = parts.reduce((n, p) => n + p.length, 0);
  const Ctor = first.constructor as new (n: number) => Exclude<TensorData, string[]>;
  const out = new Ctor(total);
  let offset = 0;
  for (const p of parts as Exclude<TensorData, string[]>[]) {
    (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(p as ArrayLike<unknown>, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Rows (dim 0) of a request's first input (0 for none); requests of one batch must agree on the
 * rest of the shape. Read without building an array: it is called per request on the hot path.
 */
export function rowsOf(inputs: NamedTensors): number {
  for (const name in inputs) return inputs[name].shape[0] ?? 0;
  return 0;
}

/**
 * True when every request names the same inputs with the same datatype and trailing dims, so they
 * stack on dim 0. Called per batch on the hot path: compares in place, building no arrays per request.
 */
export function canStack(requests: NamedTensors[]): boolean {
  const first = requests[0];
  if (first === undefined) return true;
  const count = Object.keys(first).length;
  for (let k = 1; k < requests.length; k += 1) {
    const r = requests[k];
    let seen = 0;
    for (const name in r) {
      if (!Object.hasOwn(r, name)) continue;
      seen += 1;
      const f = Object.hasOwn(first, name) ? first[name] : undefined;
      const t = r[name];
      if (f === undefined || f.datatype !== t.datatype || f.shape.length !== t.shape.length) return false;
      for (let i = 1; i < t.shape.length; i += 1) if (f.shape[i] !== t.shape[i]) return false;
    }
    if (seen !== count) return false;
  }
  return true;
}

/** Stacks requests along dim 0 into one batch. Callers check {@link canStack} first. */
export function stack(requests: NamedTensors[]): NamedTensors {
  const out: NamedTensors = {};
  for (const name of Object.keys(requests[0])) {
    const parts = requests.map((r) => r[name]);
    const rows = parts.reduce((n, t) => n + t.shape[0], 0);
    out[name] = { datatype: parts[0].datatype, shape: [rows, ...parts[0].shape.slice(1)], data: concatData(parts.map((t) => t.data)) };
  }
  return out;
}

function sliceRows(t: Tensor, start: number, rows: number, total: number): Tensor {
  if (t.shape.length === 0 || t.shape[0] !== total) {
    throw new Error(`output of shape [${t.shape}] does not have the batch's ${total} rows in dim 0`);
  }
  const rowSize = total === 0 ? 0 : t.data.length / total;
  const data = t.data.slice(start * rowSize, (start + rows) * rowSize) as TensorData;
  return { datatype: t.datatype, shape: [rows, ...t.shape.slice(1)], data };
}

/** Splits a batched output back per request, in order, by each request's row count. */
export function unstack(outputs: NamedTensors, rowCounts: number[]): NamedTensors[] {
  const total = rowCounts.reduce((a, b) => a + b, 0);
  let start = 0;
  return rowCounts.map((rows) => {
    const part: NamedTensors = {};
    for (const [name, t] of Object.entries(outputs)) part[name] = sliceRows(t, start, rows, total);
    start += rows;
    return part;
  });
}
