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

/**
 * `models/<name>/model.json`, optional as a whole: without the file the model is `{ name: <folder> }`
 * (signature from the ONNX file, named tensors on /predict). Every field is a convenience; `name`,
 * when given, must equal the folder's.
 */
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

/** One version folder as found on disk: the model file to load, or why none can be chosen. */
export interface VersionSource {
  /** Absolute path of the model file (`model.onnx`, else the folder's only `*.onnx`); absent when `problem` is set. */
  path?: string;
  /** Why the folder has no model file to load, naming what it holds (relative to the repository: safe to show). */
  problem?: string;
}

/** A model folder as found on disk. */
export interface DiscoveredModel {
  name: string;
  dir: string;
  /** model.json as read, `{ name }` when the folder has none; undefined when it exists but cannot be used. */
  manifest: ModelManifest | undefined;
  /** Why model.json could not be used; the model is then FAILED. */
  manifestError?: string;
  /** Version number → its model file (or why it has none). */
  versions: Map<number, VersionSource>;
}
