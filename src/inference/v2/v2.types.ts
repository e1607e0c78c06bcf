import { TensorDatatype } from '../../models/repository/model-manifest';

/** KServe V2 / Open Inference Protocol JSON shapes (HTTP/REST). */

export interface V2TensorMetadata {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
}

export interface V2ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface V2ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: V2TensorMetadata[];
  outputs: V2TensorMetadata[];
}

export interface V2ModelReady {
  name: string;
  ready: boolean;
}

/** Output data kept as the runtime's typed array (see V2OutputTensor.data). */
export type V2NumericData = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;

export interface V2OutputTensor {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
  /**
   * Absent when the output travels as binary data (then `parameters.binary_data_size` says how many
   * bytes). A numeric output of DIRECT_JSON_VALUES values or more stays a typed array: such an answer
   * is always written by responseJsonParts (v2-json-answer.ts), never by the serialization interceptor.
   */
  data?: unknown[] | V2NumericData;
  parameters?: { binary_data_size: number };
}

export interface V2InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, unknown>;
  outputs: V2OutputTensor[];
}

/** One row of the repository index (Triton's model repository extension). */
export interface V2RepositoryIndexEntry {
  name: string;
  version: string;
  state: string;
  reason: string;
}
