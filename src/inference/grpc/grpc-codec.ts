import { ErrorDetail } from '../../common/errors/app-error';
import { TensorDatatype } from '../../models/repository/model-manifest';
import { NamedTensors, Tensor } from '../../models/tensors/tensor';
import { tensorBytes } from '../v2/v2-binary';
import { GrpcInferInputTensor, GrpcInferOutputTensor, GrpcInferParameter, GrpcModelInferRequest, GrpcModelInferResponse, GrpcTensorContents } from './grpc.types';

type ContentsField = keyof GrpcTensorContents;

/** The `contents` field each datatype travels in (the proto's comments); FP16 has none: it travels raw. */
const CONTENTS_FIELD: Record<TensorDatatype, ContentsField | undefined> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  FP16: undefined, FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
};

const FIELDS: readonly ContentsField[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents',
];

/**
 * A ModelInferRequest as the V2 REST request it stands for: the JSON body (`data` from the typed
 * contents, or `parameters.binary_data_size` for raw inputs) and the binary part after it (the
 * raw contents, concatenated in input order). The V2 codec then checks and converts it exactly as
 * it does a REST request, so both transports accept the same tensors with the same messages.
 * `problems` are what only gRPC can get wrong (contents in the wrong field, raw and typed mixed).
 */
export interface V2Equivalent {
  body: Record<string, unknown>;
  binary: Buffer | undefined;
  /** The inputs came as raw_input_contents: the outputs go back as raw_output_contents (tritonclient's default). */
  raw: boolean;
  problems: ErrorDetail[];
}

const isV2Datatype = (t: string): t is TensorDatatype => Object.hasOwn(CONTENTS_FIELD, t);

/** A parameter's value (the set member of its oneof); undefined when none is set. */
export function parameterValue(p: GrpcInferParameter): boolean | number | string | undefined {
  return p.parameter_choice === undefined ? undefined : p[p.parameter_choice];
}

/** A parameters map as plain values, as a V2 JSON body carries them. */
export function plainParameters(map: Record<string, GrpcInferParameter> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map ?? {}).map(([k, p]) => [k, parameterValue(p)]));
}

/** The typed contents of one input as V2 JSON `data` (flat); problems with the fields go to `problems`. */
function typedData(input: GrpcInferInputTensor, where: string, problems: ErrorDetail[]): unknown[] {
  const contents = input.contents ?? {};
  const given = FIELDS.filter((f) => (contents[f]?.length ?? 0) > 0);
  // An unknown datatype is named by the V2 codec; its data is whatever field was filled.
  if (!isV2Datatype(input.datatype)) return given.length ? [...contents[given[0]]!] : [];
  const field = CONTENTS_FIELD[input.datatype];
  if (field === undefined) {
    problems.push({ field: `${where}.contents`, message: `${input.datatype} has no contents field: send its bytes in raw_input_contents` });
    return [];
  }
  const wrong = given.find((f) => f !== field);
  if (wrong) problems.push({ field: `${where}.contents.${wrong}`, message: `is not the field for ${input.datatype} (use contents.${field})` });
  const values = contents[field] ?? [];
  return field === 'bytes_contents' ? (values as Uint8Array[]).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) : [...values];
}

const hasContents = (input: GrpcInferInputTensor): boolean => FIELDS.some((f) => (input.contents?.[f]?.length ?? 0) > 0);

/** The V2 REST request a ModelInferRequest stands for; see {@link V2Equivalent}. */
export function v2Equivalent(request: GrpcModelInferRequest): V2Equivalent {
  const problems: ErrorDetail[] = [];
  const rawContents = request.raw_input_contents ?? [];
  const raw = rawContents.length > 0;
  if (raw && rawContents.length !== request.inputs.length) {
    problems.push({ field: 'raw_input_contents', message: `has ${rawContents.length} entries; one per input (${request.inputs.length}) is needed` });
  }
  const inputs = request.inputs.map((input, i) => {
    const tensor = { name: input.name, datatype: input.datatype, shape: input.shape };
    const where = `inputs[${i}] (${input.name})`;
    if (!raw) return { ...tensor, data: typedData(input, where, problems) };
    if (hasContents(input)) problems.push({ field: `${where}.contents`, message: 'must be empty when raw_input_contents is given' });
    const bytes = rawContents[i];
    return bytes === undefined ? tensor : { ...tensor, parameters: { binary_data_size: bytes.length } };
  });
  const body: Record<string, unknown> = {
    inputs,
    // Output parameters pass on as V2 JSON carries them (`classification`: the classification extension).
    outputs: request.outputs.map((o) => ({ name: o.name, parameters: plainParameters(o.parameters) })),
    parameters: plainParameters(request.parameters),
  };
  if (request.id !== '') body.id = request.id;
  const binary = raw ? Buffer.concat(rawContents.slice(0, request.inputs.length)) : undefined;
  return { body, binary, raw, problems };
}

/** One output's data in its contents field. 64-bit integers go as decimal strings, so no digit is lost. */
function contentsOf(t: Tensor): Partial<GrpcTensorContents> {
  const field = CONTENTS_FIELD[t.datatype]!;
  const { data } = t;
  if (field === 'bytes_contents') return { bytes_contents: (data as string[]).map((s) => Buffer.from(s, 'utf8')) };
  if (field === 'bool_contents') return { bool_contents: Array.from(data as Uint8Array, (v) => v !== 0) };
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return { [field]: Array.from(data, (v) => v.toString()) };
  return { [field]: Array.from(data as ArrayLike<number>) };
}

/**
 * The ModelInferResponse: the requested outputs in request order, as raw_output_contents when
 * `raw` (the request's inputs were raw) or when an output is FP16 (which has no contents field;
 * the proto allows raw for all outputs or none), else in each output's contents field.
 */
export function encodeModelInferResponse(
  modelName: string,
  version: number,
  id: string,
  outputs: NamedTensors,
  names: string[],
  raw: boolean,
): GrpcModelInferResponse {
  const tensors = names.filter((n) => outputs[n]).map((name) => ({ name, tensor: outputs[name] }));
  const asRaw = raw || tensors.some(({ tensor }) => tensor.datatype === 'FP16');
  const encoded: GrpcInferOutputTensor[] = tensors.map(({ name, tensor }) => ({
    name,
    datatype: tensor.datatype,
    shape: tensor.shape,
    parameters: {},
    ...(asRaw ? {} : { contents: contentsOf(tensor) }),
  }));
  const rawOutputs = asRaw ? tensors.map(({ tensor }) => tensorBytes(tensor)) : [];
  return { model_name: modelName, model_version: String(version), id, parameters: {}, outputs: encoded, raw_output_contents: rawOutputs };
}
