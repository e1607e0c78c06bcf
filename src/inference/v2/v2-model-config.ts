import { ServingSettings } from '../../models/registry/model-version';
import { TensorDatatype, TensorSpec } from '../../models/repository/model-manifest';
import { RuntimeSignature } from '../../models/runtimes/model-runtime';

/**
 * Triton's model configuration extension: a model version as Triton's ModelConfig message
 * (model_config.proto), in the JSON Triton's HTTP `/config` answers (field names as in the proto,
 * enums by name, 64-bit integers as numbers, the empty defaults printed) and, with the same
 * object, in gRPC's ModelConfigResponse.
 */

/** Triton's DataType names; BYTES is TYPE_STRING in model_config.proto. */
const DATA_TYPES: Record<TensorDatatype, string> = {
  BOOL: 'TYPE_BOOL',
  UINT8: 'TYPE_UINT8', UINT16: 'TYPE_UINT16', UINT32: 'TYPE_UINT32', UINT64: 'TYPE_UINT64',
  INT8: 'TYPE_INT8', INT16: 'TYPE_INT16', INT32: 'TYPE_INT32', INT64: 'TYPE_INT64',
  FP16: 'TYPE_FP16', FP32: 'TYPE_FP32', FP64: 'TYPE_FP64',
  BYTES: 'TYPE_STRING',
};

export interface TritonModelInput {
  name: string;
  data_type: string;
  format: 'FORMAT_NONE';
  dims: number[];
  is_shape_tensor: boolean;
  allow_ragged_batch: boolean;
  optional: boolean;
}

export interface TritonModelOutput {
  name: string;
  data_type: string;
  dims: number[];
  label_filename: string;
  is_shape_tensor: boolean;
}

export interface TritonDynamicBatching {
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  preserve_ordering: boolean;
  priority_levels: number;
  default_priority_level: number;
  priority_queue_policy: Record<string, never>;
}

export interface TritonInstanceGroup {
  name: string;
  kind: 'KIND_CPU';
  count: number;
  gpus: number[];
  secondary_devices: never[];
  profile: string[];
  passive: boolean;
  host_policy: string;
}

/** The ModelConfig fields this server fills (the rest are Triton features it does not have). */
export interface TritonModelConfig {
  name: string;
  platform: 'onnxruntime_onnx';
  backend: 'onnxruntime';
  version_policy: { all: Record<string, never> };
  max_batch_size: number;
  input: TritonModelInput[];
  output: TritonModelOutput[];
  batch_input: never[];
  batch_output: never[];
  /** Present only when the version's dynamic batcher merges requests (Triton's scheduling_choice). */
  dynamic_batching?: TritonDynamicBatching;
  instance_group: TritonInstanceGroup[];
  default_model_filename: string;
  cc_model_filenames: Record<string, never>;
  metric_tags: Record<string, never>;
  parameters: Record<string, { string_value: string }>;
  model_warmup: never[];
}

/** A tensor's dims as Triton lists them: without the batch dimension when the model batches on dim 0. */
const dimsOf = (spec: TensorSpec, batchDimension: boolean): number[] => (batchDimension ? spec.shape.slice(1) : [...spec.shape]);

const inputOf = (spec: TensorSpec, batchDimension: boolean): TritonModelInput => ({
  name: spec.name,
  data_type: DATA_TYPES[spec.datatype],
  format: 'FORMAT_NONE',
  dims: dimsOf(spec, batchDimension),
  is_shape_tensor: false,
  allow_ragged_batch: false,
  optional: false,
});

const outputOf = (spec: TensorSpec, batchDimension: boolean): TritonModelOutput => ({
  name: spec.name,
  data_type: DATA_TYPES[spec.datatype],
  dims: dimsOf(spec, batchDimension),
  label_filename: '',
  is_shape_tensor: false,
});

/**
 * The dynamic batcher as Triton's dynamic_batching: no preferred sizes (a batch flushes at
 * max_batch_size rows or when its oldest request has waited the delay, as Triton's does without
 * them), the delay in microseconds. Undefined when the version runs every request alone.
 */
function dynamicBatchingOf(settings: ServingSettings): TritonDynamicBatching | undefined {
  if (!settings.batching.enabled) return undefined;
  return {
    preferred_batch_size: [],
    max_queue_delay_microseconds: Math.round(settings.batching.maxQueueDelayMs * 1000),
    preserve_ordering: false,
    priority_levels: 0,
    default_priority_level: 0,
    priority_queue_policy: {},
  };
}

/**
 * One instance on the CPU: a version has one onnxruntime session, run on the event loop's thread
 * or on a worker thread of its own (model.json `worker_thread`, or by size), never several.
 * Batches in flight at once (MAX_CONCURRENT_BATCHES) take turns on that one session.
 */
const instanceGroupOf = (model: string): TritonInstanceGroup[] => [
  { name: `${model}_0`, kind: 'KIND_CPU', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' },
];

/** onnxruntime's own settings, under the parameter names Triton's onnxruntime backend reads. */
function parametersOf(settings: ServingSettings): Record<string, { string_value: string }> {
  const parameters: Record<string, { string_value: string }> = {};
  if (settings.intraOpNumThreads !== undefined) parameters.intra_op_thread_count = { string_value: String(settings.intraOpNumThreads) };
  return parameters;
}

/**
 * The Triton model configuration of a loaded version: its signature (dims without the batch
 * dimension when max_batch_size > 0, as Triton), its batcher (max_batch_size, dynamic_batching)
 * and runtime placement (instance_group, parameters). Every version on disk is served (a pinned
 * request reaches any READY one): the version policy is `all`.
 */
export function tritonModelConfig(model: string, signature: RuntimeSignature, settings: ServingSettings): TritonModelConfig {
  const { batchDimension } = settings;
  const dynamicBatching = dynamicBatchingOf(settings);
  return {
    name: model,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { all: {} },
    max_batch_size: batchDimension ? settings.batching.maxBatchSize : 0,
    input: signature.inputs.map((s) => inputOf(s, batchDimension)),
    output: signature.outputs.map((s) => outputOf(s, batchDimension)),
    batch_input: [],
    batch_output: [],
    ...(dynamicBatching ? { dynamic_batching: dynamicBatching } : {}),
    instance_group: instanceGroupOf(model),
    default_model_filename: 'model.onnx',
    cc_model_filenames: {},
    metric_tags: {},
    parameters: parametersOf(settings),
    model_warmup: [],
  };
}
