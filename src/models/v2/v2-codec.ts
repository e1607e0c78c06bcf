import { ErrorDetail } from '../../common/errors/app-error';
import { fromHalfBits, tensorFromNested, typedData } from '../features/nested-tensor';
import { TensorDatatype, TensorSpec } from '../repository/model-manifest';
import { RuntimeSignature } from '../runtimes/model-runtime';
import { NamedTensors, Tensor, elementCount } from '../tensors/tensor';
import { V2InferResponse, V2OutputTensor } from './v2.types';

const DATATYPES = new Set<string>(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']);

/** A decoded V2 inference request: the model's input tensors and the outputs to return. */
export type DecodedInfer =
  | { ok: true; id: string | undefined; inputs: NamedTensors; outputs: string[] }
  | { ok: false; details: ErrorDetail[] };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const isNumeric = (t: TensorDatatype): boolean => t !== 'BYTES';

/** Checks one request input against the model's spec and converts its data; problems go to `details`. */
function decodeInput(raw: unknown, field: string, specs: Map<string, TensorSpec>, details: ErrorDetail[]): Tensor | undefined {
  if (!isObject(raw)) {
    details.push({ field, message: 'must be an object {name, shape, datatype, data}' });
    return undefined;
  }
  const { name, shape, datatype, data } = raw;
  const before = details.length;
  if (typeof name !== 'string') details.push({ field: `${field}.name`, message: 'must be a string' });
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    details.push({ field: `${field}.shape`, message: 'must be an array of non-negative integers' });
  }
  if (typeof datatype !== 'string' || !DATATYPES.has(datatype)) {
    details.push({ field: `${field}.datatype`, message: `must be one of ${[...DATATYPES].join(', ')}` });
  }
  if (!Array.isArray(data)) details.push({ field: `${field}.data`, message: 'must be an array (flat in row-major order, or nested)' });
  if (details.length > before) return undefined;

  const spec = specs.get(name as string);
  const where = `${field} (${name as string})`;
  if (!spec) {
    details.push({ field: `${field}.name`, message: `'${name as string}' is not an input of this model (inputs: ${[...specs.keys()].join(', ')})` });
    return undefined;
  }
  const dims = shape as number[];
  const type = datatype as TensorDatatype;
  // Numeric data is converted into the model's datatype (each value range-checked); text and numbers never mix.
  if (isNumeric(type) !== isNumeric(spec.datatype)) {
    details.push({ field: `${where}.datatype`, message: `is ${type}, the model expects ${spec.datatype}` });
    return undefined;
  }
  if (dims.length !== spec.shape.length) {
    details.push({ field: `${where}.shape`, message: `must have rank ${spec.shape.length} (model shape [${spec.shape.join(', ')}], -1 = any), got [${dims.join(', ')}]` });
    return undefined;
  }
  const mismatch = spec.shape.findIndex((d, i) => d !== -1 && d !== dims[i]);
  if (mismatch >= 0) {
    details.push({ field: `${where}.shape`, message: `dimension ${mismatch} must be ${spec.shape[mismatch]}, got ${dims[mismatch]}` });
    return undefined;
  }
  const nested = (data as unknown[]).some(Array.isArray);
  if (nested) {
    // Nested data must nest exactly as the shape says (rectangular, same dims).
    const tensor = tensorFromNested(data, { name: spec.name, datatype: spec.datatype, shape: dims });
    if (typeof tensor === 'string') {
      details.push({ field: `${where}.data`, message: tensor });
      return undefined;
    }
  }
  const values = nested ? (data as unknown[]).flat(Infinity) : (data as unknown[]);
  const expected = elementCount(dims);
  if (values.length !== expected) {
    details.push({ field: `${where}.data`, message: `has ${values.length} elements, shape [${dims.join(', ')}] needs ${expected}` });
    return undefined;
  }
  // Values must suit the datatype the client declared as well as the model's (5.1 is no INT32).
  const declared = type === spec.datatype ? undefined : typedData(values, { name: spec.name, datatype: type, shape: dims });
  if (typeof declared === 'string') {
    details.push({ field: `${where}.data`, message: `${declared.replace(/^must/, 'must, as declared,')}` });
    return undefined;
  }
  const converted = typedData(values, spec);
  if (typeof converted === 'string') {
    details.push({ field: `${where}.data`, message: converted });
    return undefined;
  }
  return { datatype: spec.datatype, shape: dims, data: converted };
}

/** The requested output names (all of the model's when the request names none). */
function decodeOutputs(raw: unknown, signature: RuntimeSignature, details: ErrorDetail[]): string[] {
  const all = signature.outputs.map((o) => o.name);
  if (raw === undefined) return all;
  if (!Array.isArray(raw)) {
    details.push({ field: 'outputs', message: 'must be an array of {name}' });
    return all;
  }
  const names: string[] = [];
  raw.forEach((o, i) => {
    const name = isObject(o) ? o.name : undefined;
    if (typeof name !== 'string') details.push({ field: `outputs[${i}].name`, message: 'must be a string' });
    else if (!all.includes(name)) details.push({ field: `outputs[${i}].name`, message: `'${name}' is not an output of this model (outputs: ${all.join(', ')})` });
    else if (!names.includes(name)) names.push(name);
  });
  return names;
}

/**
 * A V2 inference request body → the model's input tensors, checked against its signature: every
 * input present once, known, of a compatible datatype, with the model's rank and fixed dims, and
 * as many elements as its shape says. Every problem is named.
 */
export function decodeInferRequest(body: unknown, signature: RuntimeSignature): DecodedInfer {
  if (!isObject(body)) return { ok: false, details: [{ field: 'body', message: 'must be a JSON object {inputs: [...]}' }] };
  const details: ErrorDetail[] = [];
  if (body.id !== undefined && typeof body.id !== 'string') details.push({ field: 'id', message: 'must be a string' });
  if (body.parameters !== undefined && !isObject(body.parameters)) details.push({ field: 'parameters', message: 'must be an object' });
  const specs = new Map(signature.inputs.map((s) => [s.name, s]));
  const inputs: NamedTensors = {};
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) {
    details.push({ field: 'inputs', message: `must be a non-empty array of input tensors (${[...specs.keys()].join(', ')})` });
  } else {
    body.inputs.forEach((raw, i) => {
      const tensor = decodeInput(raw, `inputs[${i}]`, specs, details);
      if (!tensor) return;
      const name = (raw as { name: string }).name;
      if (Object.hasOwn(inputs, name)) details.push({ field: `inputs[${i}].name`, message: `'${name}' is given more than once` });
      else inputs[name] = tensor;
    });
    const given = new Set(body.inputs.map((raw) => (isObject(raw) ? raw.name : undefined)));
    for (const name of specs.keys()) if (!given.has(name)) details.push({ field: 'inputs', message: `input '${name}' is required` });
    const rows = new Set(Object.values(inputs).map((t) => t.shape[0]));
    if (rows.size > 1) details.push({ field: 'inputs', message: `inputs disagree on the batch dimension (dim 0): ${[...rows].join(' vs ')}` });
  }
  const outputs = decodeOutputs(body.outputs, signature, details);
  if (details.length) return { ok: false, details };
  return { ok: true, id: body.id as string | undefined, inputs, outputs };
}

/** Tensor data as JSON values: BOOL as booleans, FP16 as numbers, 64-bit integers as numbers. */
function jsonData(t: Tensor): unknown[] {
  const { data } = t;
  if (Array.isArray(data)) return data;
  if (t.datatype === 'BOOL') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (t.datatype === 'FP16') return Array.from(data as Uint16Array, fromHalfBits);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, (v) => Number(v));
  return Array.from(data as ArrayLike<number>);
}

/** The V2 inference response: the requested outputs, flat in row-major order. */
export function encodeInferResponse(modelName: string, version: number, id: string, outputs: NamedTensors, names: string[]): V2InferResponse {
  const tensors: V2OutputTensor[] = names.filter((n) => outputs[n]).map((name) => {
    const t = outputs[name];
    return { name, datatype: t.datatype, shape: t.shape, data: jsonData(t) };
  });
  return { model_name: modelName, model_version: String(version), id, parameters: {}, outputs: tensors };
}
