/** Swagger examples for Triton's model configuration and statistics extensions (iris version 2). */
export const V2_MODEL_CONFIG_EXAMPLE = {
  name: 'iris',
  platform: 'onnxruntime_onnx',
  backend: 'onnxruntime',
  version_policy: { all: {} },
  max_batch_size: 32,
  input: [{ name: 'input', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4], is_shape_tensor: false, allow_ragged_batch: false, optional: false }],
  output: [{ name: 'probabilities', data_type: 'TYPE_FP32', dims: [3], label_filename: '', is_shape_tensor: false }],
  batch_input: [],
  batch_output: [],
  dynamic_batching: { preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0, priority_queue_policy: {} },
  instance_group: [{ name: 'iris_0', kind: 'KIND_CPU', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' }],
  default_model_filename: 'model.onnx',
  cc_model_filenames: {},
  metric_tags: {},
  parameters: {},
  model_warmup: [],
};

const duration = (count: number, ns: number) => ({ count, ns });

export const V2_STATISTICS_EXAMPLE = {
  model_stats: [
    {
      name: 'iris',
      version: '2',
      last_inference: 1735689600123,
      inference_count: 6,
      execution_count: 2,
      inference_stats: {
        success: duration(3, 412000),
        fail: duration(0, 0),
        queue: duration(3, 95000),
        compute_input: duration(3, 21000),
        compute_infer: duration(3, 180000),
        compute_output: duration(3, 9000),
        cache_hit: duration(0, 0),
        cache_miss: duration(0, 0),
      },
      batch_stats: [
        { batch_size: 1, compute_input: duration(1, 0), compute_infer: duration(1, 52000), compute_output: duration(1, 0) },
        { batch_size: 5, compute_input: duration(1, 10500), compute_infer: duration(1, 64000), compute_output: duration(1, 4500) },
      ],
    },
  ],
};
