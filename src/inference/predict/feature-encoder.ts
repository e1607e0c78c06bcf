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

/** The model's input when it is its only one and 2-D (`[-1, F]` or `[N, F]`): the input a `features` array fills. */
export function soleMatrixInput(inputs: TensorSpec[]): TensorSpec | undefined {
  return inputs.length === 1 && inputs[0].shape.length === 2 ? inputs[0] : undefined;
}

/**
 * Tensor models (no `features` list) with one 2-D input: `features` as one flat row `[f1..fF]`
 * (shape [1, F]) or as nested rows `[[f1..fF], …]` (shape from the nesting, as the named form
 * `{input: [[…]]}` takes it). Values become the input's datatype, each checked; a row of the wrong
 * length names the F the model takes.
 */
export function encodeRows(features: unknown[], input: TensorSpec): Encoded {
  const nested = features.some(Array.isArray);
  const width = input.shape[1];
  if (!nested && width !== -1 && features.length !== width) {
    return { ok: false, details: [{ field: 'features', message: `must have ${width} values (input '${input.name}' is [${input.shape.join(', ')}]), got ${features.length}` }] };
  }
  const tensor = tensorFromNested(nested ? features : [features], input);
  if (typeof tensor === 'string') return { ok: false, details: [{ field: 'features', message: tensor }] };
  return { ok: true, inputs: { [input.name]: tensor } };
}

/**
 * Tensor models (no `features` list): `{ input_name: nested array }` → named tensors, shape from
 * the nesting, datatype from the model; checked against the declared rank and fixed dims.
 */
export function encodeNamedTensors(features: unknown, inputs: TensorSpec[]): Encoded {
  if (!isPlainObject(features)) {
    const names = inputs.map((i) => i.name).join(', ');
    const why = Array.isArray(features) ? ': an array of values is taken only by a model whose one input is 2-D' : '';
    return { ok: false, details: [{ field: 'features', message: `must be an object of named input tensors (${names})${why}` }] };
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
