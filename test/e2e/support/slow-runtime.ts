import { ModelRuntime, ModelRuntimeFactory } from '../../../src/models/runtimes/model-runtime';
import { OnnxRuntime } from '../../../src/models/runtimes/onnx/onnx-runtime';
import { NamedTensors } from '../../../src/models/tensors/tensor';

/** Fault injection only: the real ONNX runtime, with every run taking at least `delayMs` longer (a slow model). */
export class SlowRuntimeFactory extends ModelRuntimeFactory {
  constructor(private readonly delayMs: number) { super(); }

  create(): ModelRuntime {
    const delayMs = this.delayMs;
    return new (class extends OnnxRuntime {
      override async run(inputs: NamedTensors): Promise<NamedTensors> {
        await new Promise((r) => setTimeout(r, delayMs));
        return super.run(inputs);
      }
    })();
  }
}
