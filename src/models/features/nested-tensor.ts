import { TensorSpec } from '../repository/model-manifest';
import { Tensor, TensorData, TYPED_ARRAYS } from '../tensors/tensor';

/** Shape read along the first item of each level; {@link flatten} then checks it is rectangular. */
function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

function flatten(value: unknown, shape: number[], depth: number, out: unknown[]): string | undefined {
  if (depth === shape.length) {
    if (Array.isArray(value)) return `is nested deeper than its shape [${shape.join(', ')}]`;
    out.push(value);
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) return `is not rectangular: expected ${shape[depth]} items at depth ${depth}`;
  for (const item of value) {
    const problem = flatten(item, shape, depth + 1, out);
    if (problem) return problem;
  }
  return undefined;
}

function convert(values: unknown[], spec: TensorSpec): TensorData | string {
  if (spec.datatype === 'BYTES') {
    return values.every((v) => typeof v === 'string') ? (values as string[]) : 'must hold strings (BYTES)';
  }
  const isInt = spec.datatype.includes('INT');
  const nums: number[] = [];
  for (const v of values) {
    const n = typeof v === 'boolean' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) return `must hold finite numbers (${spec.datatype})`;
    if (isInt && !Number.isInteger(n)) return `must hold integers (${spec.datatype})`;
    nums.push(n);
  }
  const Ctor = TYPED_ARRAYS[spec.datatype];
  if (Ctor === BigInt64Array || Ctor === BigUint64Array) return Ctor.from(nums.map((n) => BigInt(n)));
  return (Ctor as Float32ArrayConstructor).from(nums);
}

/** A nested JSON array → a tensor of the declared datatype; a string says what is wrong. */
export function tensorFromNested(value: unknown, spec: TensorSpec): Tensor | string {
  const shape = shapeOf(value);
  if (shape.length !== spec.shape.length) {
    return `must have rank ${spec.shape.length} (shape [${spec.shape.join(', ')}], -1 = any), got rank ${shape.length}`;
  }
  const mismatch = spec.shape.findIndex((d, i) => d !== -1 && d !== shape[i]);
  if (mismatch >= 0) return `dimension ${mismatch} must be ${spec.shape[mismatch]}, got ${shape[mismatch]}`;
  const flat: unknown[] = [];
  const problem = flatten(value, shape, 0, flat);
  if (problem) return problem;
  const data = convert(flat, spec);
  return typeof data === 'string' ? data : { datatype: spec.datatype, shape, data };
}
