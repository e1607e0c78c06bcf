import { TensorSpec } from '../repository/model-manifest';
import { NamedTensors } from '../tensors/tensor';

/** What a runtime reports of a loaded model: its tensors as the model file declares them. */
export interface RuntimeSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface RuntimeOptions {
  intraOpNumThreads?: number;
  /** Idle intra-op threads busy-wait for the next run (onnxruntime's default) instead of sleeping. */
  allowSpinning?: boolean;
  /**
   * A run still going after this long is abandoned by its caller (TIMEOUT_SECONDS). A runtime that
   * can stop a run (a worker thread) does so, so one stuck inference does not hold the ones behind it.
   */
  runTimeoutMs?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

/**
 * The runtime port: one instance serves one model version. Nothing outside a runtime's own
 * folder knows which inference library sits behind it.
 */
export abstract class ModelRuntime {
  /** Loads the model file; resolves with its signature. Rejects with a readable reason. */
  abstract load(path: string, options?: RuntimeOptions): Promise<RuntimeSignature>;
  /** Runs one (possibly batched) inference. Inputs and outputs are keyed by tensor name. */
  abstract run(inputs: NamedTensors): Promise<NamedTensors>;
  /** Releases native resources. Idempotent. */
  abstract unload(): Promise<void>;
}

/** Where a runtime runs its sessions: on the event loop's thread, or on a worker thread of its own. */
export interface RuntimePlacement {
  workerThread: boolean;
}

/** DI token: makes a fresh runtime for a model's `runtime` kind. Tests override it to inject faults. */
export abstract class ModelRuntimeFactory {
  abstract create(kind: string, placement?: RuntimePlacement): ModelRuntime;
}
