import { ModelManifest } from '../repository/model-manifest';
import { RuntimeSignature } from '../runtimes/model-runtime';
import { DynamicBatcherOptions } from './dynamic-batcher';

/** Server-wide batching defaults (from configuration). */
export interface BatchingDefaults {
  dynamicBatching: boolean;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueue: number;
  maxConcurrentBatches: number;
  /** TIMEOUT_SECONDS in ms: a runner call stalled longer than this frees its batch slot. */
  timeoutMs: number;
}

/**
 * Most bytes of input merged into one batch. Rows of tabular models (a few KB) merge as before;
 * image-sized requests (a [1, 3, 640, 640] FP32 image is 4.9 MB) run one by one: merged, eight of
 * them made onnxruntime grow its arena for an eight-image run and keep it (+470 MB of RSS, measured
 * with PaddleOCR det; +22 MB unmerged), with no gain in throughput on CPU.
 */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** True when every input and output has a variable first dimension, so requests can stack on it. */
export function stacksOnDimZero(signature: RuntimeSignature): boolean {
  return [...signature.inputs, ...signature.outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
}

/**
 * One version's batcher options: model.json's `dynamic_batching` overrides the server defaults;
 * `false` there, ENABLE_DYNAMIC_BATCHING=false, or a model without a variable batch dimension
 * turn merging off (the MAX_QUEUE bound still applies).
 */
export function batcherOptions(manifest: ModelManifest, signature: RuntimeSignature, defaults: BatchingDefaults): DynamicBatcherOptions {
  const own = manifest.dynamic_batching === false ? undefined : manifest.dynamic_batching;
  return {
    enabled: defaults.dynamicBatching && manifest.dynamic_batching !== false && stacksOnDimZero(signature),
    maxBatchSize: own?.max_batch_size ?? defaults.maxBatchSize,
    maxQueueDelayMs: own?.max_queue_delay_ms ?? defaults.maxQueueDelayMs,
    maxQueue: defaults.maxQueue,
    maxBatchBytes: MAX_BATCH_BYTES,
    maxConcurrentBatches: defaults.maxConcurrentBatches,
    runTimeoutMs: defaults.timeoutMs,
  };
}
