import { ServingSettings } from '../../models/registry/model-version';
import { RuntimeSignature } from '../../models/runtimes/model-runtime';
import { tritonModelConfig } from './v2-model-config';

const BATCHED: RuntimeSignature = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }, { name: 'ids', datatype: 'INT64', shape: [-1] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }, { name: 'names', datatype: 'BYTES', shape: [-1, 1] }],
};

const settings = (overrides: Partial<ServingSettings> = {}, batching: Partial<ServingSettings['batching']> = {}): ServingSettings => ({
  batching: { enabled: true, maxBatchSize: 32, maxQueueDelayMs: 2.5, maxQueue: 100, maxConcurrentBatches: 1, ...batching },
  batchDimension: true,
  workerThread: false,
  ...overrides,
});

describe('tritonModelConfig', () => {
  it('describes a batching version as Triton does: max_batch_size, dims without the batch dimension, TYPE_ names', () => {
    // Act
    const sut = tritonModelConfig('iris', BATCHED, settings());

    // Assert
    expect(sut).toMatchObject({ name: 'iris', platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 32, version_policy: { all: {} } });
    expect(sut.input).toEqual([
      { name: 'input', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4], is_shape_tensor: false, allow_ragged_batch: false, optional: false },
      { name: 'ids', data_type: 'TYPE_INT64', format: 'FORMAT_NONE', dims: [], is_shape_tensor: false, allow_ragged_batch: false, optional: false },
    ]);
    expect(sut.output).toEqual([
      { name: 'probabilities', data_type: 'TYPE_FP32', dims: [3], label_filename: '', is_shape_tensor: false },
      { name: 'names', data_type: 'TYPE_STRING', dims: [1], label_filename: '', is_shape_tensor: false },
    ]);
  });

  it("turns the batcher's delay into dynamic_batching's microseconds, with no preferred sizes", () => {
    // Act
    const sut = tritonModelConfig('iris', BATCHED, settings());

    // Assert
    expect(sut.dynamic_batching).toEqual({
      preferred_batch_size: [], max_queue_delay_microseconds: 2500, preserve_ordering: false, priority_levels: 0, default_priority_level: 0, priority_queue_policy: {},
    });
  });

  it('leaves dynamic_batching out when the batcher runs every request alone, keeping max_batch_size', () => {
    // Act
    const sut = tritonModelConfig('m', BATCHED, settings({}, { enabled: false, maxBatchSize: 8 }));

    // Assert
    expect(sut).not.toHaveProperty('dynamic_batching');
    expect(sut.max_batch_size).toBe(8);
  });

  it('reports max_batch_size 0 and the full shapes for a model without a batch dimension', () => {
    // Arrange
    const signature: RuntimeSignature = { inputs: [{ name: 'image', datatype: 'UINT8', shape: [3, 224, 224] }], outputs: [{ name: 'logits', datatype: 'FP16', shape: [1000] }] };

    // Act
    const sut = tritonModelConfig('resnet', signature, settings({ batchDimension: false }, { enabled: false }));

    // Assert
    expect(sut.max_batch_size).toBe(0);
    expect(sut.input[0]).toMatchObject({ data_type: 'TYPE_UINT8', dims: [3, 224, 224] });
    expect(sut.output[0]).toMatchObject({ data_type: 'TYPE_FP16', dims: [1000] });
    expect(sut).not.toHaveProperty('dynamic_batching');
  });

  it('has one CPU instance, and passes intra_op_num_threads as the onnxruntime backend parameter', () => {
    // Act
    const plain = tritonModelConfig('iris', BATCHED, settings());
    const threaded = tritonModelConfig('bench-mlp', BATCHED, settings({ workerThread: true, intraOpNumThreads: 2 }));

    // Assert
    expect(plain.instance_group).toEqual([{ name: 'iris_0', kind: 'KIND_CPU', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' }]);
    expect(plain.parameters).toEqual({});
    expect(threaded.parameters).toEqual({ intra_op_thread_count: { string_value: '2' } });
  });
});
