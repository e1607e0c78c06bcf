import { ErrorDetail } from '../../common/errors/app-error';
import { TensorSpec } from '../../models/repository/model-manifest';
import { NamedTensors } from '../../models/tensors/tensor';
import { floatRangeProblem, tensorFromNested } from '../codec/nested-tensor';

export type Encoded = { ok: true; inputs: NamedTensors } | { ok: false; details: ErrorDetail[] };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** One feature value as a number, or why it cannot be one. Booleans count as 1/0. */
function numericValue(value: unknown): number | string {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value !== 'number') return `must be a number, got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`;
  if (!Number.isFinite(value)) return 'must be a finite number';
  return value;
}

function rowFromObject(features: Record<string, unknown>, names: string[], details: ErrorDetail[]): number[] {
  const known = new Set(names);
  for (const key of Object.keys(features)) {
    if (!known.has(key)) details.push({ field: `features.${key}`, message: `is not a feature of this model (expected: ${names.join(', ')})` });
  }
  return names.map((name) => {
    if (!Object.prototype.hasOwnProperty.call(features, name)) {
      details.push({ field: `features.${name}`, message: 'is required' });
      return 0;
    }
    const v = numericValue(features[name]);
    if (typeof v === 'string') details.push({ field: `features.${name}`, message: v });
    return typeof v === 'number' ? v : 0;
  });
}

function rowFromArray(features: unknown[], names: string[], details: ErrorDetail[]): number[] {
  if (features.length !== names.length) {
    details.push({ field: 'features', message: `must have ${names.length} values in the order ${names.join(', ')}, got ${features.length}` });
    return [];
  }
  return features.map((value, i) => {
    const v = numericValue(value);
    if (typeof v === 'string') details.push({ field: `features[${i}] (${names[i]})`, message: v });
    return typeof v === 'number' ? v : 0;
  });
}

/**
 * Tabular models: features by name (object) or in declared order (array) → one float row on
 * the model's single 2-D input. Every problem is named (missing, unknown, wrong type, non-finite).
 */
export function encodeTabular(features: unknown, names: string[], input: TensorSpec): Encoded {
  const details: ErrorDetail[] = [];
  let row: number[] = [];
  if (Array.isArray(features)) row = rowFromArray(features, names, details);
  else if (isPlainObject(features)) row = rowFromObject(features, names, details);
  else details.push({ field: 'features', message: 'must be an object of feature values or an array in declared order' });
  row.forEach((v, i) => {
    const overflow = floatRangeProblem(v, input.datatype);
    if (overflow) details.push({ field: `features.${names[i]}`, message: overflow });
  });
  if (details.length) return { ok: false, details };
  // The signature check admits FP32 or FP64 inputs for feature models; encode in the model's own type.
  const data = input.datatype === 'FP64' ? Float64Array.from(row) : Float32Array.from(row);
  return { ok: true, inputs: { [input.name]: { datatype: input.datatype, shape: [1, names.length], data } } };
}

/**
 * Tensor models (no `features` list): `{ input_name: nested array }` → named tensors, shape from
 * the nesting, datatype from the model; checked against the declared rank and fixed dims.
 */
export function encodeNamedTensors(features: unknown, inputs: TensorSpec[]): Encoded {
  if (!isPlainObject(features)) {
    return { ok: false, details: [{ field: 'features', message: `must be an object of named input tensors (${inputs.map((i) => i.name).join(', ')})` }] };
  }
  const details: ErrorDetail[] = [];
  const declared = new Set(inputs.map((i) => i.name));
  for (const key of Object.keys(features)) {
    if (!declared.has(key)) details.push({ field: `features.${key}`, message: `is not an input of this model (inputs: ${[...declared].join(', ')})` });
  }
  const encoded: NamedTensors = {};
  for (const spec of inputs) {
    if (!Object.prototype.hasOwnProperty.call(features, spec.name)) {
      details.push({ field: `features.${spec.name}`, message: 'is required' });
      continue;
    }
    const result = tensorFromNested(features[spec.name], spec);
    if (typeof result === 'string') details.push({ field: `features.${spec.name}`, message: result });
    else encoded[spec.name] = result;
  }
  return details.length ? { ok: false, details } : { ok: true, inputs: encoded };
}
