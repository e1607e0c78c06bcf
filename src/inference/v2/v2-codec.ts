import { ErrorDetail } from '../../common/errors/app-error';
import { JsonNumbers, plainNumbers } from '../codec/json-numbers';
import { fromHalfBits, tensorFromNested, typedData } from '../codec/nested-tensor';
import { TensorDatatype, TensorSpec } from '../../models/repository/model-manifest';
import { RuntimeSignature } from '../../models/runtimes/model-runtime';
import { markMovable } from '../../models/tensors/movable-memory';
import { NamedTensors, Tensor, elementCount } from '../../models/tensors/tensor';
import { tensorBytes, tensorDataFromBytes } from './v2-binary';
import { DIRECT_JSON_VALUES } from './v2-json-answer';
import { V2InferResponse, V2NumericData, V2OutputTensor } from './v2.types';

const DATATYPES = new Set<string>(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']);

/** A decoded V2 inference request: the model's input tensors and the outputs to return. */
export type DecodedInfer =
  | { ok: true; id: string | undefined; inputs: NamedTensors; outputs: string[]; binaryOutputs: Set<string> }
  | { ok: false; details: ErrorDetail[] };

/** An input's bytes in the binary part of the body (binary tensor data extension), when it has any. */
type BinarySlice = Uint8Array | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The model's inputs by name, and its name for the datatype message. */
interface ModelInputs {
  name: string;
  specs: Map<string, TensorSpec>;
}

/** V2 values are held to their datatype: true/false only for BOOL (the protocol's JSON), never a number elsewhere. */
const STRICT = { booleans: 'bool-only' } as const;

/**
 * The V2 protocol's datatype check (Triton's wording): the declared datatype must be the model's,
 * on JSON, binary and gRPC alike; nothing is converted between datatypes.
 */
function datatypeMismatch(type: TensorDatatype, spec: TensorSpec, model: string): string {
  return `is '${type}', but model '${model}' expects '${spec.datatype}'`;
}

/** Checks one request input against the model's spec and converts its data; problems go to `details`. */
function decodeInput(raw: unknown, field: string, model: ModelInputs, details: ErrorDetail[], binary: BinarySlice): Tensor | undefined {
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
  if (binary && data !== undefined) details.push({ field: `${field}.data`, message: 'must be absent when parameters.binary_data_size is given' });
  if (!binary && !Array.isArray(data) && !(data instanceof JsonNumbers)) details.push({ field: `${field}.data`, message: 'must be an array (flat in row-major order, or nested)' });
  if (details.length > before) return undefined;

  const spec = model.specs.get(name as string);
  const where = `${field} (${name as string})`;
  if (!spec) {
    details.push({ field: `${field}.name`, message: `'${name as string}' is not an input of this model (inputs: ${[...model.specs.keys()].join(', ')})` });
    return undefined;
  }
  const dims = shape as number[];
  const type = datatype as TensorDatatype;
  if (type !== spec.datatype) {
    details.push({ field: `${where}.datatype`, message: datatypeMismatch(type, spec, model.name) });
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
  if (binary) return binaryInput(binary, spec, dims, where, details);
  if (data instanceof JsonNumbers) return numbersInput(data, spec, dims, where, details);
  return jsonInput(data as unknown[], spec, dims, where, details);
}

/**
 * Data the body parser read straight into a typed array (see JsonNumbers): the same checks and messages
 * as {@link jsonInput} for the same JSON (a flat array's element count, a nested one's nesting),
 * then one pass into the datatype.
 */
function numbersInput(data: JsonNumbers, spec: TensorSpec, dims: number[], where: string, details: ErrorDetail[]): Tensor | undefined {
  const problem = data.flat ? countProblem(data.length, dims) : nestingProblem(data.shape, dims);
  const converted = problem ?? (spec.datatype === 'FP32' ? float32Data(data, spec) : typedData(data.values, spec, STRICT));
  if (typeof converted === 'string') {
    details.push({ field: `${where}.data`, message: converted });
    return undefined;
  }
  return { datatype: spec.datatype, shape: dims, data: markMovable(converted) };
}

/**
 * FP32 data as the body parser read it (float32 already: no second array), kept when every value
 * is finite; otherwise typedData's checks on the exact values name the first problem (a value past
 * float32's range is ±Infinity as float32). The exact values, and the body they would be read
 * from, are given up once the float32 ones are taken.
 */
function float32Data(data: JsonNumbers, spec: TensorSpec): Float32Array | string {
  const floats = data.float32;
  if (!data.float32Finite) return typedData(data.values, spec, STRICT) as Float32Array | string;
  data.releaseExact();
  return floats;
}

/** Why `count` flat elements do not fill `dims`, or undefined. */
function countProblem(count: number, dims: number[]): string | undefined {
  const expected = elementCount(dims);
  return count === expected ? undefined : `has ${count} elements, shape [${dims.join(', ')}] needs ${expected}`;
}

/** Why data nested as `nesting` is not shaped `dims` (tensorFromNested's words), or undefined. */
function nestingProblem(nesting: readonly number[], dims: number[]): string | undefined {
  if (nesting.length !== dims.length) return `must have rank ${dims.length} (shape [${dims.join(', ')}], -1 = any), got rank ${nesting.length}`;
  const mismatch = dims.findIndex((d, i) => d !== nesting[i]);
  return mismatch >= 0 ? `dimension ${mismatch} must be ${dims[mismatch]}, got ${nesting[mismatch]}` : undefined;
}

/** True when an item of `data` is an array (nested data): one plain loop over a tensor-sized array. */
function isNested(data: unknown[]): boolean {
  for (let i = 0; i < data.length; i += 1) if (Array.isArray(data[i])) return true;
  return false;
}

/** JSON data, flat or nested as the shape says, each value checked for the datatype (which is the model's). */
function jsonInput(data: unknown[], spec: TensorSpec, dims: number[], where: string, details: ErrorDetail[]): Tensor | undefined {
  if (isNested(data)) {
    // Nested data must nest exactly as the shape says (rectangular, same dims).
    const tensor = tensorFromNested(data, { name: spec.name, datatype: spec.datatype, shape: dims }, STRICT);
    if (typeof tensor === 'string') {
      details.push({ field: `${where}.data`, message: tensor });
      return undefined;
    }
    markMovable(tensor.data);
    return tensor;
  }
  const count = countProblem(data.length, dims);
  if (count) {
    details.push({ field: `${where}.data`, message: count });
    return undefined;
  }
  const converted = typedData(data, spec, STRICT);
  if (typeof converted === 'string') {
    details.push({ field: `${where}.data`, message: converted });
    return undefined;
  }
  return { datatype: spec.datatype, shape: dims, data: markMovable(converted) };
}

/** Binary input data is taken as it is (its datatype is the model's: raw bytes are never converted). */
function binaryInput(bytes: Uint8Array, spec: TensorSpec, dims: number[], where: string, details: ErrorDetail[]): Tensor | undefined {
  const data = tensorDataFromBytes(bytes, spec.datatype, elementCount(dims));
  if (typeof data === 'string') {
    details.push({ field: `${where}.parameters.binary_data_size`, message: `binary data ${data}` });
    return undefined;
  }
  return { datatype: spec.datatype, shape: dims, data };
}

/**
 * Splits the binary part of the body among the inputs that declare `parameters.binary_data_size`,
 * in the order of the inputs; every byte must belong to exactly one input.
 */
function binarySlices(inputs: unknown[], binary: Uint8Array | undefined, details: ErrorDetail[]): BinarySlice[] {
  let offset = 0;
  const slices = inputs.map((raw, i): BinarySlice => {
    const parameters = isObject(raw) && isObject(raw.parameters) ? raw.parameters : undefined;
    const size = parameters?.binary_data_size;
    if (size === undefined) return undefined;
    if (!Number.isInteger(size) || (size as number) < 0) {
      details.push({ field: `inputs[${i}].parameters.binary_data_size`, message: 'must be a non-negative integer' });
      return new Uint8Array(0);
    }
    const start = offset;
    offset += size as number;
    if (!binary || offset > binary.length) {
      details.push({ field: `inputs[${i}].parameters.binary_data_size`, message: `${size as number} bytes at offset ${start} run past the ${binary?.length ?? 0} bytes of binary data after the JSON header` });
      return new Uint8Array(0);
    }
    return binary.subarray(start, offset);
  });
  if (binary && offset < binary.length && details.length === 0) {
    details.push({ field: 'body', message: `${binary.length - offset} bytes of binary data after the JSON header belong to no input (binary_data_size)` });
  }
  return slices;
}

/**
 * Which outputs go back as binary data: an output's `parameters.binary_data`, else the request's
 * `parameters.binary_data_output`.
 */
function binaryOutputsOf(body: Record<string, unknown>, names: string[]): Set<string> {
  const all = isObject(body.parameters) && body.parameters.binary_data_output === true;
  const own = new Map<string, boolean>();
  if (Array.isArray(body.outputs)) {
    for (const o of body.outputs) {
      if (isObject(o) && typeof o.name === 'string' && isObject(o.parameters) && typeof o.parameters.binary_data === 'boolean') own.set(o.name, o.parameters.binary_data);
    }
  }
  return new Set(names.filter((n) => own.get(n) ?? all));
}

/** The requested output names (all of the model's when the request names none). */
function decodeOutputs(raw: unknown, signature: RuntimeSignature, details: ErrorDetail[]): string[] {
  const all = signature.outputs.map((o) => o.name);
  // No requested outputs (absent or empty) means every output, as the protocol says.
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return all;
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
 * input present once, known, of the model's datatype (as Triton, no conversion: `modelName` is
 * named in the message), with the model's rank and fixed dims, and as many elements as its shape
 * says, each a value of the datatype. Every problem is named.
 */
export function decodeInferRequest(body: unknown, signature: RuntimeSignature, binary?: Uint8Array, modelName = 'the model'): DecodedInfer {
  if (!isObject(body)) return { ok: false, details: [{ field: 'body', message: 'must be a JSON object {inputs: [...]}' }] };
  const details: ErrorDetail[] = [];
  if (body.id !== undefined && typeof body.id !== 'string') details.push({ field: 'id', message: 'must be a string' });
  if (body.parameters !== undefined && !isObject(body.parameters)) details.push({ field: 'parameters', message: 'must be an object' });
  const specs = new Map(signature.inputs.map((s) => [s.name, s]));
  const model: ModelInputs = { name: modelName, specs };
  const inputs: NamedTensors = {};
  if (binary && (!Array.isArray(body.inputs) || body.inputs.length === 0)) details.push({ field: 'body', message: 'has binary data but no inputs' });
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) {
    details.push({ field: 'inputs', message: `must be a non-empty array of input tensors (${[...specs.keys()].join(', ')})` });
  } else {
    const slices = binarySlices(body.inputs, binary, details);
    body.inputs.forEach((raw, i) => {
      const tensor = decodeInput(raw, `inputs[${i}]`, model, details, slices[i]);
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
  return { ok: true, id: body.id as string | undefined, inputs, outputs, binaryOutputs: binaryOutputsOf(body, outputs) };
}

/**
 * Tensor data as JSON values: BOOL as booleans, FP16 as numbers, 64-bit integers as numbers; a
 * numeric output of DIRECT_JSON_VALUES values or more as its typed array, which the direct writer
 * reads (see V2OutputTensor.data).
 */
function jsonData(t: Tensor): unknown[] | V2NumericData {
  const { data } = t;
  if (Array.isArray(data)) return data;
  if (t.datatype === 'BOOL') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (t.datatype === 'FP16') return Array.from(data as Uint16Array, fromHalfBits);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, (v) => Number(v));
  if (data.length >= DIRECT_JSON_VALUES) return data as V2NumericData;
  return plainNumbers(data as ArrayLike<number>);
}

/** A V2 inference answer: the JSON response, and the bytes of its binary outputs in output order (none for plain JSON). */
export interface V2InferResult {
  response: V2InferResponse;
  binary: Buffer[];
}

/**
 * The V2 inference response: the requested outputs, flat in row-major order, or, for the outputs
 * in `binaryOutputs`, `parameters.binary_data_size` in the JSON and their bytes after it.
 */
export function encodeInferResponse(
  modelName: string,
  version: number,
  id: string,
  outputs: NamedTensors,
  names: string[],
  binaryOutputs: ReadonlySet<string> = new Set(),
): V2InferResult {
  const binary: Buffer[] = [];
  const tensors: V2OutputTensor[] = names.filter((n) => outputs[n]).map((name) => {
    const t = outputs[name];
    if (!binaryOutputs.has(name)) return { name, datatype: t.datatype, shape: t.shape, data: jsonData(t) };
    const bytes = tensorBytes(t);
    binary.push(bytes);
    return { name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: bytes.length } };
  });
  return { response: { model_name: modelName, model_version: String(version), id, parameters: {}, outputs: tensors }, binary };
}
