import { basename, dirname } from 'node:path';

import { DefaultRuntimeFactory } from '../../src/models/runtimes/default-runtime.factory';
import { ModelRuntime, ModelRuntimeFactory, RuntimeOptions, RuntimeSignature } from '../../src/models/runtimes/model-runtime';
import { RuntimeInputError, RuntimeRunError } from '../../src/models/runtimes/runtime-errors';
import { NamedTensors } from '../../src/models/tensors/tensor';

/**
 * Runtimes for specs on the bundled models: a counting decorator over the real runtimes, and
 * fault injection (a runtime that rejects, stalls, or fails to load) — never a stand-in for inference.
 */

/** Decorates the real runtimes to record every inference call; inference itself stays real. */
class CountingRuntime extends ModelRuntime {
  constructor(
    private readonly inner: ModelRuntime,
    private readonly calls: NamedTensors[],
  ) {
    super();
  }

  load(path: string, options?: RuntimeOptions): Promise<RuntimeSignature> {
    return this.inner.load(path, options);
  }

  run(inputs: NamedTensors): Promise<NamedTensors> {
    this.calls.push(inputs);
    return this.inner.run(inputs);
  }

  unload(): Promise<void> {
    return this.inner.unload();
  }
}

export class CountingRuntimeFactory extends ModelRuntimeFactory {
  readonly calls: NamedTensors[] = [];
  private readonly real = new DefaultRuntimeFactory();

  create(kind: string): ModelRuntime {
    return new CountingRuntime(this.real.create(kind), this.calls);
  }
}

/** Decorates the real runtimes so that a run can be held (a slow inference) until the test releases it; inference itself stays real. */
class GatedRuntime extends ModelRuntime {
  constructor(
    private readonly inner: ModelRuntime,
    private readonly gate: () => Promise<void>,
  ) {
    super();
  }

  load(path: string, options?: RuntimeOptions): Promise<RuntimeSignature> {
    return this.inner.load(path, options);
  }

  async run(inputs: NamedTensors): Promise<NamedTensors> {
    await this.gate();
    return this.inner.run(inputs);
  }

  unload(): Promise<void> {
    return this.inner.unload();
  }
}

/** Fault injection: the real runtimes, each run waiting at a gate while one is held (see {@link hold}). */
export class GatedRuntimeFactory extends ModelRuntimeFactory {
  private held: { reached: () => void; released: Promise<void> } | undefined;
  private readonly real = new DefaultRuntimeFactory();

  create(kind: string): ModelRuntime {
    return new GatedRuntime(this.real.create(kind), () => this.pass());
  }

  /** Holds the runs from now on: `reached` resolves when one is waiting; `release()` lets every one through. */
  hold(): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const waiting = new Promise<void>((ok) => { reached = ok; });
    this.held = { reached, released: new Promise<void>((ok) => { release = ok; }) };
    return {
      reached: waiting,
      release: () => {
        this.held = undefined;
        release();
      },
    };
  }

  private async pass(): Promise<void> {
    const held = this.held;
    if (!held) return;
    held.reached();
    await held.released;
  }
}

/** `refuse`: the library refuses the inputs (RuntimeInputError); `library`: the library fails otherwise (RuntimeRunError). */
export type FaultMode = 'ok' | 'reject' | 'stall' | 'refuse' | 'library';

/** Copied from what the bundled iris (and penguins) model.onnx reports. */
const IRIS_SIGNATURE: RuntimeSignature = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
};

/** Fault injection: loads with the iris signature; run() answers, rejects or never settles as told. */
export class FaultyRuntime extends ModelRuntime {
  constructor(private readonly control: { mode: FaultMode }) {
    super();
  }

  async load(): Promise<RuntimeSignature> {
    return IRIS_SIGNATURE;
  }

  run(inputs: NamedTensors): Promise<NamedTensors> {
    if (this.control.mode === 'reject') return Promise.reject(new Error('CUDA error: device-side assert (injected)'));
    if (this.control.mode === 'refuse') return Promise.reject(new RuntimeInputError('Invalid rank for input: input Got: 3 Expected: 2 (injected)'));
    if (this.control.mode === 'library') return Promise.reject(new RuntimeRunError('Failed to allocate memory (injected)'));
    if (this.control.mode === 'stall') return new Promise<NamedTensors>(() => undefined);
    const rows = inputs.input.shape[0];
    const data = Float32Array.from({ length: rows * 3 }, (_, i) => [0.1, 0.2, 0.7][i % 3]);
    return Promise.resolve({ probabilities: { datatype: 'FP32', shape: [rows, 3], data } });
  }

  async unload(): Promise<void> {}
}

/** Fault injection: a runtime whose load() rejects. */
export class UnloadableRuntime extends ModelRuntime {
  load(): Promise<RuntimeSignature> {
    return Promise.reject(new Error('out of memory while loading (injected)'));
  }

  run(): Promise<NamedTensors> {
    return Promise.reject(new Error('not loaded'));
  }

  async unload(): Promise<void> {}
}

/** Picks, at load(), a faulty runtime for the model folders listed, else the real ONNX runtime. */
class ModelSwitchRuntime extends ModelRuntime {
  private inner: ModelRuntime | undefined;

  constructor(
    private readonly kind: string,
    private readonly faults: Record<string, () => ModelRuntime>,
  ) {
    super();
  }

  load(path: string, options?: RuntimeOptions): Promise<RuntimeSignature> {
    const model = basename(dirname(dirname(path)));
    this.inner = this.faults[model]?.() ?? new DefaultRuntimeFactory().create(this.kind);
    return this.inner.load(path, options);
  }

  run(inputs: NamedTensors): Promise<NamedTensors> {
    return this.inner ? this.inner.run(inputs) : Promise.reject(new Error('not loaded'));
  }

  async unload(): Promise<void> {
    await this.inner?.unload();
  }
}

export class FaultInjectingFactory extends ModelRuntimeFactory {
  constructor(private readonly faults: Record<string, () => ModelRuntime>) {
    super();
  }

  create(kind: string): ModelRuntime {
    return new ModelSwitchRuntime(kind, this.faults);
  }
}
