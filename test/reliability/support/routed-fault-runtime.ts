import { DefaultRuntimeFactory } from '../../../src/models/runtimes/default-runtime.factory';
import { ModelRuntime, ModelRuntimeFactory, RuntimeOptions, RuntimePlacement, RuntimeSignature } from '../../../src/models/runtimes/model-runtime';
import { OnnxRuntime } from '../../../src/models/runtimes/onnx/onnx-runtime';
import { NamedTensors, Tensor } from '../../../src/models/tensors/tensor';

/**
 * What a broken runtime answers instead of the real outputs (after a real warm-up run):
 * - `wrong-shape`: every output with one column fewer than the model has (e.g. [1, 2] for iris's [1, 3]);
 * - `missing-output`: every output under another name (`<name>_renamed`), so the model's own names are absent;
 * - `nan` / `infinity`: every float of every output NaN / +Infinity, shapes intact.
 */
export type OutputFault = 'wrong-shape' | 'missing-output' | 'nan' | 'infinity';

function corrupt(fault: OutputFault, outputs: NamedTensors): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, t] of Object.entries(outputs)) {
    if (fault === 'missing-output') { out[`${name}_renamed`] = t; continue; }
    if (fault === 'wrong-shape') { out[name] = dropLastColumn(t); continue; }
    const data = Float32Array.from(t.data as Float32Array, () => (fault === 'nan' ? Number.NaN : Number.POSITIVE_INFINITY));
    out[name] = { ...t, data };
  }
  return out;
}

function dropLastColumn(t: Tensor): Tensor {
  const [rows, cols] = t.shape;
  const data = (t.data as Float32Array).filter((_, i) => i % cols !== cols - 1);
  return { datatype: t.datatype, shape: [rows, cols - 1], data };
}

/** Fault injection only: the real ONNX runtime whose outputs, after the warm-up run, are corrupted as `fault` says. */
export class OutputFaultRuntimeFactory extends ModelRuntimeFactory {
  constructor(private readonly fault: OutputFault) { super(); }

  create(): ModelRuntime {
    const { fault } = this;
    return new (class extends OnnxRuntime {
      private warmedUp = false;
      override async run(inputs: NamedTensors): Promise<NamedTensors> {
        const outputs = await super.run(inputs);
        if (!this.warmedUp) { this.warmedUp = true; return outputs; }
        return corrupt(fault, outputs);
      }
    })();
  }
}

/** One model file's runtime is made by `factory` when its path contains `pathPart` (e.g. `/iris-nan/`). */
export interface FaultRoute {
  pathPart: string;
  factory: ModelRuntimeFactory;
}

/**
 * Fault injection only: one ModelRuntimeFactory for a whole app whose runtimes pick, when their
 * model file is loaded, the first route whose `pathPart` the path contains; every other model
 * gets the server's real runtime (DefaultRuntimeFactory). So several faulty models run beside
 * the real ones in one app. The routes' factories may be test/e2e/support's (PathFaultRuntimeFactory).
 */
export class RoutedFaultRuntimeFactory extends ModelRuntimeFactory {
  private readonly real = new DefaultRuntimeFactory();

  constructor(private readonly routes: FaultRoute[]) { super(); }

  create(kind: string, placement?: RuntimePlacement): ModelRuntime {
    const { routes, real } = this;
    let inner: ModelRuntime | undefined;
    return new (class extends ModelRuntime {
      load(path: string, options?: RuntimeOptions): Promise<RuntimeSignature> {
        const factory = routes.find((r) => path.includes(r.pathPart))?.factory ?? real;
        inner = factory.create(kind, placement);
        return inner.load(path, options);
      }
      run(inputs: NamedTensors): Promise<NamedTensors> {
        return inner ? inner.run(inputs) : Promise.reject(new Error('model is not loaded'));
      }
      async unload(): Promise<void> {
        await inner?.unload();
      }
    })();
  }
}
