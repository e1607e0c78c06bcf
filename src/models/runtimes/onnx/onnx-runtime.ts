import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';

import { TensorDatatype, TensorSpec } from '../../repository/model-manifest';
import { NamedTensors, TensorData } from '../../tensors/tensor';
import { ModelRuntime, RuntimeOptions, RuntimeSignature } from '../model-runtime';

const TO_ORT: Record<TensorDatatype, OrtTensor.Type> = {
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
  INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  FP16: 'float16', FP32: 'float32', FP64: 'float64', BYTES: 'string',
};
const FROM_ORT = Object.fromEntries(Object.entries(TO_ORT).map(([v2, ort]) => [ort, v2])) as Record<string, TensorDatatype>;

function specOf(meta: InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) throw new Error(`'${meta.name}' is not a tensor; only tensor inputs and outputs are supported`);
  const datatype = FROM_ORT[meta.type];
  if (!datatype) throw new Error(`'${meta.name}' has unsupported element type ${meta.type}`);
  return { name: meta.name, datatype, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

/** The onnxruntime-node implementation of the runtime port (CPU execution provider). */
export class OnnxRuntime extends ModelRuntime {
  private session: InferenceSession | undefined;

  async load(path: string, options: RuntimeOptions = {}): Promise<RuntimeSignature> {
    const sessionOptions: InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    };
    // One intra-op thread by default: Node's event loop needs a core of its own, and concurrency
    // comes from dynamic batching rather than from splitting one small matmul across threads.
    // model.json session_options.intra_op_num_threads overrides it for large models.
    sessionOptions.intraOpNumThreads = options.intraOpNumThreads ?? 1;
    sessionOptions.interOpNumThreads = 1;
    // Idle intra-op threads sleep rather than spin: spinning workers take the cores the event loop
    // and the HTTP stack need between runs (measured: ~0.7 core burnt; +30-45% requests in a
    // run-then-0.7-ms-of-JS loop with two threads). model.json may turn spinning back on.
    if (!options.allowSpinning) sessionOptions.extra = { session: { intra_op: { allow_spinning: '0' } } };
    this.session = await InferenceSession.create(path, sessionOptions);
    return { inputs: this.session.inputMetadata.map(specOf), outputs: this.session.outputMetadata.map(specOf) };
  }

  async run(inputs: NamedTensors): Promise<NamedTensors> {
    if (!this.session) throw new Error('model is not loaded');
    const feeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(inputs)) {
      feeds[name] = new OrtTensor(TO_ORT[t.datatype], t.data as OrtTensor.DataType, t.shape);
    }
    const results = await this.session.run(feeds);
    const out: NamedTensors = {};
    for (const [name, t] of Object.entries(results)) {
      out[name] = { datatype: FROM_ORT[t.type], shape: [...t.dims], data: t.data as TensorData };
    }
    return out;
  }

  async unload(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.release();
  }
}
