import { Injectable } from '@nestjs/common';

import { ModelRuntime, ModelRuntimeFactory, RuntimePlacement } from './model-runtime';
import { OnnxRuntime } from './onnx/onnx-runtime';
import { OnnxWorkerRuntime } from './onnx/onnx-worker-runtime';

/** Strategy registry of runtime kinds. Adding a kind = one entry here. */
@Injectable()
export class DefaultRuntimeFactory extends ModelRuntimeFactory {
  private readonly kinds: Record<string, (placement: RuntimePlacement) => ModelRuntime> = {
    onnx: ({ workerThread }) => (workerThread ? new OnnxWorkerRuntime() : new OnnxRuntime()),
  };

  create(kind: string, placement: RuntimePlacement = { workerThread: false }): ModelRuntime {
    const make = this.kinds[kind];
    if (!make) throw new Error(`unknown runtime '${kind}' (known: ${Object.keys(this.kinds).join(', ')})`);
    return make(placement);
  }
}
