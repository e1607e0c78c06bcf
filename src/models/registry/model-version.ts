import type { Span } from '@opentelemetry/api';

import { DynamicBatcher } from '../batching/dynamic-batcher';
import { ModelRuntime, RuntimeSignature } from '../runtimes/model-runtime';
import { NamedTensors } from '../tensors/tensor';
import { ModelStats } from '../wrapper/model-stats';

export type VersionState = 'LOADING' | 'READY' | 'FAILED' | 'UNLOADED';

/** One version of a model: its lifecycle state, runtime and monitoring counters. */
export class ModelVersion {
  state: VersionState = 'LOADING';
  reason: string | undefined;
  signature: RuntimeSignature | undefined;
  loadedAt: Date | undefined;
  readonly stats = new ModelStats();
  private runtime: ModelRuntime | undefined;
  private batcher: DynamicBatcher | undefined;

  constructor(readonly version: number, readonly path: string) {}

  get ready(): boolean {
    return this.state === 'READY';
  }

  /** Marks the version READY with the runtime that serves it, behind its batcher. */
  serve(runtime: ModelRuntime, signature: RuntimeSignature, batcher: DynamicBatcher): void {
    this.runtime = runtime;
    this.batcher = batcher;
    this.signature = signature;
    this.state = 'READY';
    this.reason = undefined;
    this.loadedAt = new Date();
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
