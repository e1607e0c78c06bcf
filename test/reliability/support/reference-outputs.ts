import { join } from 'node:path';

import { OnnxRuntime } from '../../../src/models/runtimes/onnx/onnx-runtime';
import { REPO_MODELS } from '../../e2e/support/create-app';

/**
 * The first output of a bundled model version for one row, computed in-process by a fresh
 * onnxruntime session on the bundled file, outside the server: what a correct answer is.
 */
export async function referenceOutput(model: string, version: number, row: number[]): Promise<number[]> {
  const runtime = new OnnxRuntime();
  const signature = await runtime.load(join(REPO_MODELS, model, String(version), 'model.onnx'));
  try {
    const outputs = await runtime.run({ [signature.inputs[0].name]: { datatype: 'FP32', shape: [1, row.length], data: Float32Array.from(row) } });
    return Array.from(outputs[signature.outputs[0].name].data as Float32Array);
  } finally {
    await runtime.unload();
  }
}
