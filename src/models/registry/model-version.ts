import { RuntimeSignature, ModelRuntime } from '../runtimes/model-runtime';
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

  constructor(readonly version: number, readonly path: string) {}

  get ready(): boolean {
    return this.state === 'READY';
  }

  /** Marks the version READY with the runtime that serves it. */
  serve(runtime: ModelRuntime, signature: RuntimeSignature): void {
    this.runtime = runtime;
    this.signature = signature;
    this.state = 'READY';
    this.reason = undefined;
    this.loadedAt = new Date();
  }

  fail(reason: string): void {
    this.state = 'FAILED';
    this.reason = reason;
  }

  /** Runs inference. Only READY versions are routed here; the check guards races with unload. */
  run(inputs: NamedTensors): Promise<NamedTensors> {
    if (!this.runtime || this.state !== 'READY') return Promise.reject(new Error(`version ${this.version} is ${this.state}`));
    return this.runtime.run(inputs);
  }

  /** Releases the runtime; the version stays listed as UNLOADED. */
  async release(): Promise<void> {
    const runtime = this.runtime;
    this.runtime = undefined;
    if (this.state !== 'FAILED') this.state = 'UNLOADED';
    await runtime?.unload();
  }
}
