import { ModelRuntime, ModelRuntimeFactory, RuntimeOptions } from '../../../src/models/runtimes/model-runtime';
import { OnnxRuntime } from '../../../src/models/runtimes/onnx/onnx-runtime';

/**
 * Real ONNX runtimes whose loads wait until the test calls `release()`: models stay LOADING for
 * as long as a test needs to look at the server meanwhile.
 */
export function gatedRuntimes(): { factory: ModelRuntimeFactory; release: () => void } {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  class GatedRuntime extends OnnxRuntime {
    override async load(path: string, options?: RuntimeOptions) {
      await gate;
      return super.load(path, options);
    }
  }
  class GatedFactory extends ModelRuntimeFactory {
    create(): ModelRuntime { return new GatedRuntime(); }
  }
  return { factory: new GatedFactory(), release: () => release() };
}
