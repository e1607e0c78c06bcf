import { Injectable } from '@nestjs/common';

import { ModelRuntime, ModelRuntimeFactory } from './model-runtime';
import { OnnxRuntime } from './onnx/onnx-runtime';

/** Strategy registry of runtime kinds. Adding a kind = one entry here. */
@Injectable()
export class DefaultRuntimeFactory extends ModelRuntimeFactory {
  private readonly kinds: Record<string, () => ModelRuntime> = { onnx: () => new OnnxRuntime() };

  create(kind: string): ModelRuntime {
    const make = this.kinds[kind];
    if (!make) throw new Error(`unknown runtime '${kind}' (known: ${Object.keys(this.kinds).join(', ')})`);
    return make();
  }
}
