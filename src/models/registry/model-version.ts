import type { Span } from '@opentelemetry/api';

import { DynamicBatcher, DynamicBatcherOptions } from '../batching/dynamic-batcher';
import { VersionSource } from '../repository/model-manifest';
import { ModelRuntime, RuntimeSignature } from '../runtimes/model-runtime';
import { NamedTensors } from '../tensors/tensor';
import { rowsOf } from '../tensors/tensor-batching';
import { InferenceStats } from '../wrapper/inference-stats';
import { ModelStats } from '../wrapper/model-stats';

export type VersionState = 'LOADING' | 'READY' | 'FAILED' | 'UNLOADED';

/** How a version was served when it was loaded: what the model configuration extension reports. */
export interface ServingSettings {
  /** The dynamic batcher's options (model.json over the server's defaults). */
  batching: DynamicBatcherOptions;
  /** Requests stack on dim 0 (every input and output has a variable first dimension): Triton's max_batch_size > 0. */
  batchDimension: boolean;
  /** The session runs on a worker thread of its own (else on the event loop's thread). */
  workerThread: boolean;
  /** model.json `session_options.intra_op_num_threads`, when it sets one. */
  intraOpNumThreads?: number;
}

/** One version of a model: its lifecycle state, runtime and monitoring counters. */
export class ModelVersion {
  state: VersionState = 'LOADING';
  reason: string | undefined;
  signature: RuntimeSignature | undefined;
  loadedAt: Date | undefined;
  /** Set once the version was READY; kept after an unload (the settings it was served with). */
  settings: ServingSettings | undefined;
  readonly stats = new ModelStats();
  /** Triton's statistics extension, since this version was loaded. */
  readonly inferenceStats = new InferenceStats();
  private runtime: ModelRuntime | undefined;
  private batcher: DynamicBatcher | undefined;

  /** `source`: the version folder's model file as the repository found it, or why it has none. */
  constructor(readonly version: number, readonly source: VersionSource) {}

  get ready(): boolean {
    return this.state === 'READY';
  }

  /** Marks the version READY with the runtime that serves it, behind its batcher. */
  serve(runtime: ModelRuntime, signature: RuntimeSignature, batcher: DynamicBatcher, settings?: ServingSettings): void {
    this.runtime = runtime;
    this.batcher = batcher;
    this.signature = signature;
    this.settings = settings;
    this.state = 'READY';
    this.reason = undefined;
    this.loadedAt = new Date();
  }

  /** A request's batch size as the statistics count it: its rows on dim 0, or 1 for a model without a batch dimension. */
  batchSizeOf(inputs: NamedTensors): number {
    return this.settings?.batchDimension ? rowsOf(inputs) : 1;
  }

  fail(reason: string): void {
    this.state = 'FAILED';
    this.reason = reason;
  }

  /**
   * Runs inference through the dynamic batcher. Only READY versions are routed here; the check
   * guards races with unload. Rejects with OVERLOADED when MAX_QUEUE requests are pending.
   * `span`: the request's `predict` span, for the batcher's spans.
   */
  run(inputs: NamedTensors, signal?: AbortSignal, span?: Span): Promise<NamedTensors> {
    if (!this.batcher || this.state !== 'READY') return Promise.reject(new Error(`version ${this.version} is ${this.state}`));
    return this.batcher.run(inputs, signal, span);
  }

  /**
   * Stops taking requests, lets queued and in-flight ones finish for up to `drainMs` (a stalled
   * runtime must not hold shutdown forever), then releases the runtime (UNLOADED).
   */
  async release(drainMs = Infinity): Promise<void> {
    const { runtime, batcher } = this;
    this.runtime = undefined;
    this.batcher = undefined;
    if (this.state !== 'FAILED') this.state = 'UNLOADED';
    if (batcher) await boundedWait(batcher.drain(), drainMs);
    batcher?.close();
    await runtime?.unload();
  }
}

/** Waits for `work` or `ms`, whichever comes first. */
function boundedWait(work: Promise<void>, ms: number): Promise<void> {
  if (!Number.isFinite(ms)) return work;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}
