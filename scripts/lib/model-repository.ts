import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TensorSpec } from './onnx-graph';

export type Metrics = Record<string, number>;

/** One entry of model.json `versions`; provenance fields are absent for untrained models. */
export interface VersionInfo {
  algorithm: string;
  dataset?: string;
  train_rows?: number;
  test_rows?: number;
  metrics?: Metrics;
}

/** model.json as read by the server (see DESIGN.md, "Model repository"). Key order here is file order. */
export interface ModelConfig {
  name: string;
  description: string;
  runtime: 'onnx';
  task?: 'classification' | 'regression';
  features?: string[];
  labels?: string[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  dynamic_batching: { max_batch_size: number; max_queue_delay_ms: number };
  session_options?: { intra_op_num_threads?: number };
  versions: Record<string, VersionInfo>;
}

/** Writes models/<name>/<version>/model.onnx and returns its path. */
export function writeOnnx(root: string, name: string, version: number, bytes: Uint8Array): string {
  const dir = join(root, name, String(version));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'model.onnx');
  writeFileSync(path, bytes);
  return path;
}

/** Writes models/<name>/model.json, 2-space indented with a trailing newline. */
export function writeModelConfig(root: string, config: ModelConfig): void {
  mkdirSync(join(root, config.name), { recursive: true });
  writeFileSync(join(root, config.name, 'model.json'), `${JSON.stringify(config, null, 2)}\n`);
}
