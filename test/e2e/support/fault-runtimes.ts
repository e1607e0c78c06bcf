import { ModelRuntime, ModelRuntimeFactory, RuntimeOptions, RuntimeSignature } from '../../../src/models/runtimes/model-runtime';
import { OnnxRuntime } from '../../../src/models/runtimes/onnx/onnx-runtime';
import { NamedTensors } from '../../../src/models/tensors/tensor';

export type Fault = 'throw' | 'stall';

/** Fault injection only: the real ONNX runtime, except that `run` (after warm-up) throws or never answers. */
export class FaultyRuntime extends ModelRuntime {
  private readonly real = new OnnxRuntime();
  private warmedUp = false;

  constructor(private readonly fault: Fault) { super(); }

  load(path: string, options?: RuntimeOptions): Promise<RuntimeSignature> {
    return this.real.load(path, options);
  }

  run(inputs: NamedTensors): Promise<NamedTensors> {
    if (!this.warmedUp) { this.warmedUp = true; return this.real.run(inputs); }
    if (this.fault === 'throw') return Promise.reject(new Error('native failure at /secret/path/model.cc:42'));
    return new Promise<NamedTensors>(() => undefined);
  }

  unload(): Promise<void> {
    return this.real.unload();
  }
}

/** Makes every model's runtime faulty. */
export class FaultyRuntimeFactory extends ModelRuntimeFactory {
  constructor(private readonly fault: Fault) { super(); }
  create(): ModelRuntime {
    return new FaultyRuntime(this.fault);
  }
}
