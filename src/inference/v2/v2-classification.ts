import { AppError, ErrorDetail } from '../../common/errors/app-error';
import { TensorDatatype, TensorSpec } from '../../models/repository/model-manifest';
import { RuntimeSignature } from '../../models/runtimes/model-runtime';
import { NamedTensors, Tensor } from '../../models/tensors/tensor';
import { probabilityOutput } from '../../models/wrapper/postprocess';

/**
 * Triton's classification extension: a requested output with `parameters.classification: k`
 * (tritonclient's `InferRequestedOutput(name, class_count=k)`; gRPC's int64_param) is answered
 * as BYTES of shape [batch, k] (or [k] for a rank-1 output): per row, the k highest-valued
 * elements by value descending, each `"<value>:<index>"` or `"<value>:<index>:<label>"`, the
 * value printed as Triton prints it (C++ std::to_string: `%f`, six decimals, for floats; the
 * integer for integer outputs). Ties keep the lower index first. Labels are model.json's, on the
 * output that carries the class probabilities (the one /predict reads).
 */

/** Output name → the number of classes to return. */
export type Classifications = ReadonlyMap<string, number>;

/** Datatypes Triton classifies (its TopkClassifications): the integer and the 32/64-bit float types. */
const CLASSIFIABLE = new Set<TensorDatatype>(['UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP32', 'FP64']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Elements per classification: the whole of a rank-0/1 tensor, else each row's (dim 0 is the batch). -1 when a dim is variable. */
function classCountOf(shape: readonly number[]): number {
  const classDims = shape.length <= 1 ? shape : shape.slice(1);
  return classDims.some((d) => d < 0) ? -1 : classDims.reduce((n, d) => n * d, 1);
}

/** One output's `classification`, checked against its spec; problems go to `details` under `field`. */
function classificationOf(value: unknown, spec: TensorSpec, field: string, details: ErrorDetail[]): number | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    details.push({ field, message: `must be a positive integer (how many classes to return), got ${JSON.stringify(value)}` });
    return undefined;
  }
  if (!CLASSIFIABLE.has(spec.datatype)) {
    details.push({ field, message: `output '${spec.name}' is ${spec.datatype}: classification needs an integer, FP32 or FP64 output` });
    return undefined;
  }
  const classes = classCountOf(spec.shape);
  if (classes >= 0 && value > classes) {
    details.push({ field, message: `${value} is more than the ${classes} classes of output '${spec.name}'` });
    return undefined;
  }
  return value;
}

/**
 * The `parameters.classification` of a V2 request's outputs (JSON, or gRPC's as the V2 body it
 * stands for), checked against the signature: a positive integer, on a classifiable output, at
 * most its class count when that is fixed. Unknown outputs are the codec's to name. Problems go
 * to `details`, one per bad parameter.
 */
export function requestedClassifications(body: unknown, signature: RuntimeSignature, details: ErrorDetail[]): Classifications {
  const found = new Map<string, number>();
  const outputs = isObject(body) && Array.isArray(body.outputs) ? body.outputs : [];
  outputs.forEach((o, i) => {
    if (!isObject(o) || typeof o.name !== 'string' || !isObject(o.parameters) || !Object.hasOwn(o.parameters, 'classification')) return;
    const spec = signature.outputs.find((s) => s.name === o.name);
    if (!spec || found.has(o.name)) return;
    const k = classificationOf(o.parameters.classification, spec, `outputs[${i}].parameters.classification`, details);
    if (k !== undefined) found.set(o.name, k);
  });
  return found;
}

/** A decimal string one unit larger in its last digit, carrying: "0.000009" → "0.000010", "9.999999" → "10.000000". */
function incrementLastDigit(text: string): string {
  const chars = text.split('');
  for (let i = chars.length - 1; i >= 0; i -= 1) {
    if (chars[i] === '.') continue;
    if (chars[i] !== '9') {
      chars[i] = String(Number(chars[i]) + 1);
      return chars.join('');
    }
    chars[i] = '0';
  }
  return `1${chars.join('')}`;
}

/**
 * `value` as C's `printf("%f")` (glibc, round-to-nearest-even on exact ties), which Triton's
 * std::to_string gives: six decimals, `-0.000000` for negative zero, `inf`/`-inf`/`nan`.
 * Number#toFixed rounds exact ties up; an exact tie at the seventh decimal is a value that is an
 * odd multiple of 2^-7 (e.g. 0.0078125), and is rounded to even here instead.
 */
export function formatFixed6(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  const magnitude = Math.abs(value);
  // Beyond 1e21 toFixed writes an exponent; such a double is an integer, written out in full by %f.
  if (magnitude >= 1e21) return `${sign}${BigInt(magnitude).toString()}.000000`;
  const scaled = magnitude * 128;
  const tie = Number.isInteger(scaled) && scaled % 2 === 1;
  if (!tie) return sign + magnitude.toFixed(6);
  // Exactly seven decimals, the last a 5: keep the six before it when the sixth is even, else round it up.
  const seven = magnitude.toFixed(7);
  const six = seven.slice(0, -1);
  return sign + (Number(six[six.length - 1]) % 2 === 0 ? six : incrementLastDigit(six));
}

/** One element as Triton writes its value: `%f` for floats, the integer itself for integers. */
function valueText(value: number | bigint, datatype: TensorDatatype): string {
  return datatype === 'FP32' || datatype === 'FP64' ? formatFixed6(value as number) : String(value);
}

/** Indices of `values[offset .. offset + count)` with the `k` highest values, highest first; ties keep the lower index first. */
export function topK(values: ArrayLike<number | bigint>, offset: number, count: number, k: number): number[] {
  const indices = Array.from({ length: count }, (_, i) => i);
  indices.sort((a, b) => {
    const va = values[offset + a];
    const vb = values[offset + b];
    return va > vb ? -1 : va < vb ? 1 : a - b;
  });
  return indices.slice(0, k);
}

/** An output's top-k strings; throws AppError VALIDATION_FAILED when `k` exceeds its class count. */
function classify(name: string, tensor: Tensor, k: number, labels: readonly string[] | undefined): Tensor {
  const rows = tensor.shape.length <= 1 ? 1 : tensor.shape[0];
  const classes = classCountOf(tensor.shape);
  if (k > classes) throw AppError.validation([{ field: 'outputs', message: `classification ${k} is more than the ${classes} classes of output '${name}'` }], 'Invalid inference request');
  const values = tensor.data as ArrayLike<number | bigint>;
  const data: string[] = [];
  for (let r = 0; r < rows; r += 1) {
    for (const index of topK(values, r * classes, classes, k)) {
      const label = labels?.[index];
      const text = `${valueText(values[r * classes + index], tensor.datatype)}:${index}`;
      data.push(label === undefined ? text : `${text}:${label}`);
    }
  }
  return { datatype: 'BYTES', shape: tensor.shape.length <= 1 ? [k] : [rows, k], data };
}

/**
 * The outputs with each classified one replaced by its top-k strings (a new object: `outputs`
 * may be the cache's value and is never changed). `labels`: model.json's, given to the output
 * that carries one probability per label. Throws AppError VALIDATION_FAILED when a k exceeds
 * the class count of an output whose classes were variable in the signature.
 */
export function classifyOutputs(outputs: NamedTensors, classifications: Classifications, labels?: readonly string[]): NamedTensors {
  const labelled = labels?.length ? probabilityOutput(outputs, labels.length) : undefined;
  const answer: NamedTensors = { ...outputs };
  for (const [name, k] of classifications) {
    const tensor = outputs[name];
    if (tensor) answer[name] = classify(name, tensor, k, tensor === labelled ? labels : undefined);
  }
  return answer;
}
