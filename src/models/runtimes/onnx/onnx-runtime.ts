import { SafeLoadError } from '../../../common/errors/public-reason';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';

import { TensorDatatype, TensorSpec } from '../../repository/model-manifest';
import { NamedTensors, TensorData } from '../../tensors/tensor';
import { ModelRuntime, RuntimeOptions, RuntimeSignature } from '../model-runtime';
import { ortRunError } from './ort-run-error';

const TO_ORT: Record<TensorDatatype, OrtTensor.Type> = {
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
  INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  FP16: 'float16', FP32: 'float32', FP64: 'float64', BYTES: 'string',
};
const FROM_ORT = Object.fromEntries(Object.entries(TO_ORT).map(([v2, ort]) => [ort, v2])) as Record<string, TensorDatatype>;

/** The V2 signature entry of one ONNX input or output; -1 for symbolic (batch) dims. */
export function specOf(meta: InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) throw new SafeLoadError(`'${meta.name}' is not a tensor; only tensor inputs and outputs are supported`);
  const datatype = FROM_ORT[meta.type];
  if (!datatype) throw new SafeLoadError(`'${meta.name}' has unsupported element type ${meta.type}`);
  return { name: meta.name, datatype, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

/** onnxruntime session options from the model's RuntimeOptions (plain data: it also crosses into worker threads). */
export function sessionOptionsOf(options: RuntimeOptions = {}): InferenceSession.SessionOptions {
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    // One intra-op thread by default: Node's event loop needs a core of its own, and concurrency
    // comes from dynamic batching rather than from splitting one small matmul across threads.
    // model.json session_options.intra_op_num_threads overrides it for large models.
    intraOpNumThreads: options.intraOpNumThreads ?? 1,
    interOpNumThreads: 1,
  };
  // Idle intra-op threads sleep rather than spin: spinning workers take the cores the event loop
  // and the HTTP stack need between runs (measured: ~0.7 core burnt; +30-45% requests in a
  // run-then-0.7-ms-of-JS loop with two threads). model.json may turn spinning back on.
  if (!options.allowSpinning) sessionOptions.extra = { session: { intra_op: { allow_spinning: '0' } } };
  return sessionOptions;
}

/** A tensor as onnxruntime takes it, in plain data (so it can be posted to a worker thread). */
export interface OrtTensorData {
  type: OrtTensor.Type;
  data: OrtTensor.DataType;
  dims: readonly number[];
}

export function toOrtData(inputs: NamedTensors): Record<string, OrtTensorData> {
  const feeds: Record<string, OrtTensorData> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = { type: TO_ORT[t.datatype], data: t.data as OrtTensor.DataType, dims: t.shape };
  return feeds;
}

export function fromOrtData(results: Record<string, OrtTensorData>): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, t] of Object.entries(results)) {
    out[name] = { datatype: FROM_ORT[t.type], shape: [...t.dims], data: t.data as TensorData };
  }
  return out;
}

/**
 * The onnxruntime-node implementation of the runtime port (CPU execution provider), on the
 * calling thread. Note that onnxruntime-node's `session.run` and session creation are synchronous
 * on that thread (behind a setImmediate): large models belong in {@link OnnxWorkerRuntime}.
 */
export class OnnxRuntime extends ModelRuntime {
  private session: InferenceSession | undefined;

  async load(path: string, options: RuntimeOptions = {}): Promise<RuntimeSignature> {
    this.session = await InferenceSession.create(path, sessionOptionsOf(options));
    return { inputs: this.session.inputMetadata.map(specOf), outputs: this.session.outputMetadata.map(specOf) };
  }

  /** Rejects with RuntimeInputError when onnxruntime refuses the inputs, RuntimeRunError when the run fails otherwise. */
  async run(inputs: NamedTensors): Promise<NamedTensors> {
    if (!this.session) throw new Error('model is not loaded');
    try {
      const feeds: Record<string, OrtTensor> = {};
      for (const [name, t] of Object.entries(toOrtData(inputs))) feeds[name] = new OrtTensor(t.type, t.data, t.dims);
      return fromOrtData(await this.session.run(feeds));
    } catch (e) {
      throw ortRunError(e);
    }
  }

  async unload(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.release();
  }
}
