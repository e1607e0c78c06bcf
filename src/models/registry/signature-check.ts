import { ModelManifest } from '../repository/model-manifest';
import { RuntimeSignature } from '../runtimes/model-runtime';
import { probabilityOutput } from '../wrapper/postprocess';

/**
 * Checks the ONNX session's tensors against model.json: declared inputs/outputs must exist with
 * the same datatype and compatible shapes; `features` need one 2-D float input of that width;
 * `labels` need an output with one column per label. Returns every problem.
 */
export function signatureProblems(manifest: ModelManifest, sig: RuntimeSignature): string[] {
  const problems: string[] = [];
  const declared = [...(manifest.inputs ?? []).map((t) => ({ t, side: 'input', actual: sig.inputs })),
    ...(manifest.outputs ?? []).map((t) => ({ t, side: 'output', actual: sig.outputs }))];
  for (const { t, side, actual } of declared) {
    const found = actual.find((a) => a.name === t.name);
    if (!found) { problems.push(`${side} '${t.name}' is not in the model (it has ${actual.map((a) => a.name).join(', ')})`); continue; }
    if (found.datatype !== t.datatype) problems.push(`${side} '${t.name}' is ${found.datatype} in the model, ${t.datatype} in model.json`);
    const shapeOk = found.shape.length === t.shape.length && found.shape.every((d, i) => d === -1 || t.shape[i] === -1 || d === t.shape[i]);
    if (!shapeOk) problems.push(`${side} '${t.name}' has shape [${found.shape}] in the model, [${t.shape}] in model.json`);
  }
  if (manifest.features) {
    const input = sig.inputs[0];
    const width = input?.shape[1];
    if (sig.inputs.length !== 1 || input.shape.length !== 2 || (input.datatype !== 'FP32' && input.datatype !== 'FP64')) {
      problems.push('features need a model with exactly one 2-D FP32 or FP64 input');
    } else if (width !== -1 && width !== manifest.features.length) {
      problems.push(`model input takes ${width} features, model.json lists ${manifest.features.length}`);
    }
  }
  if (manifest.labels) {
    const fake = Object.fromEntries(sig.outputs.map((o) => [o.name, { datatype: o.datatype, shape: o.shape, data: new Float32Array(0) }]));
    if (!probabilityOutput(fake, manifest.labels.length)) problems.push(`no float output with ${manifest.labels.length} columns for the labels`);
  }
  return problems;
}
