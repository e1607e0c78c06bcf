/** KServe V2 tensor data types. */
export type TensorDatatype =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64'
  | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

/** A named tensor's declared signature; -1 marks a variable dimension. */
export interface TensorSpec {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
}

/** Per-version facts recorded by whoever trained the model (accuracy etc.). */
export interface VersionInfo {
  algorithm?: string;
  dataset?: string;
  metrics?: Record<string, number>;
  [key: string]: unknown;
}

export interface DynamicBatchingSpec {
  max_batch_size?: number;
  max_queue_delay_ms?: number;
}

/** `models/<name>/model.json`. Only `name` is required; the rest are conveniences. */
export interface ModelManifest {
  name: string;
  description?: string;
  runtime?: 'onnx';
  task?: 'classification' | 'regression';
  /** Ordered feature names mapped onto one 2-D input. */
  features?: string[];
  /** Class labels, in the order of the classifier's probability output. */
  labels?: string[];
  inputs?: TensorSpec[];
  outputs?: TensorSpec[];
  dynamic_batching?: DynamicBatchingSpec | false;
  /** Run the sessions on a worker thread (true) or the event loop's thread (false); absent = by file size (≥ 1 MiB → worker). */
  worker_thread?: boolean;
  stages?: { active?: number; staging?: number };
  versions?: Record<string, VersionInfo>;
  session_options?: {
    intra_op_num_threads?: number;
    graph_optimization_level?: 'disabled' | 'basic' | 'extended' | 'all';
    /** Whether idle intra-op threads busy-wait for work (onnxruntime's default). The server's default is false. */
    allow_spinning?: boolean;
  };
}

/** A model folder as found on disk. */
export interface DiscoveredModel {
  name: string;
  dir: string;
  manifest: ModelManifest | undefined;
  /** Why model.json could not be used; the model is then FAILED. */
  manifestError?: string;
  /** Version number → absolute path of its model.onnx. */
  versions: Map<number, string>;
}
