/**
 * The messages of proto/grpc_predict_v2.proto as @grpc/proto-loader hands them over with this
 * server's options (keepCase, longs as Number, enums as String, defaults, oneofs): fields keep
 * their proto names, absent scalars and lists hold their defaults, an absent message is null.
 */

/** A parameter value; `parameter_choice` names the field that is set (oneofs: true). */
export interface GrpcInferParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: number;
  string_param?: string;
  double_param?: number;
  uint64_param?: number;
}

export interface GrpcTensorContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: (number | string)[];
  uint_contents: number[];
  uint64_contents: (number | string)[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Uint8Array[];
}

export interface GrpcInferInputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters: Record<string, GrpcInferParameter>;
  contents: Partial<GrpcTensorContents> | null;
}

export interface GrpcModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, GrpcInferParameter>;
  inputs: GrpcInferInputTensor[];
  outputs: { name: string; parameters?: Record<string, GrpcInferParameter> }[];
  raw_input_contents: Uint8Array[];
}

export interface GrpcInferOutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters: Record<string, GrpcInferParameter>;
  contents?: Partial<GrpcTensorContents>;
}

export interface GrpcModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, GrpcInferParameter>;
  outputs: GrpcInferOutputTensor[];
  raw_output_contents: Buffer[];
}
