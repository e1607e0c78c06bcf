import { ModelRuntime, ModelRuntimeFactory, RuntimeOptions, RuntimeSignature } from '../../../src/models/runtimes/model-runtime';
import { OnnxRuntime } from '../../../src/models/runtimes/onnx/onnx-runtime';
import { NamedTensors } from '../../../src/models/tensors/tensor';

/** throw: every run fails; delay: every run waits `ms` first; gate: every run waits until `gate` resolves. */
export type PathFault = { kind: 'throw' } | { kind: 'delay'; ms: number } | { kind: 'gate'; gate: Promise<void> };

/**
 * Fault injection only: the real ONNX runtime for every model file, except that files whose path
 * contains `pathPart` (e.g. `/iris/1/`) fail or slow down every run after the warm-up, while
 * `armed` (a test may disarm it to let runs through, and arm it again).
 */
export class PathFaultRuntimeFactory extends ModelRuntimeFactory {
  armed = true;

  constructor(private readonly pathPart: string, private readonly fault: PathFault) { super(); }

  create(): ModelRuntime {
    const { pathPart, fault } = this;
    const factory = this;
    return new (class extends OnnxRuntime {
      private faulty = false;
      private warmedUp = false;
      override load(path: string, options?: RuntimeOptions): Promise<RuntimeSignature> {
        this.faulty = path.includes(pathPart);
        return super.load(path, options);
      }
      override async run(inputs: NamedTensors): Promise<NamedTensors> {
        if (!this.faulty || !this.warmedUp || !factory.armed) { this.warmedUp = true; return super.run(inputs); }
        if (fault.kind === 'throw') throw new Error('injected inference failure');
        await (fault.kind === 'gate' ? fault.gate : new Promise((r) => setTimeout(r, fault.ms)));
        return super.run(inputs);
      }
    })();
  }
}
