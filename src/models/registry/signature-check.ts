import { ModelManifest } from '../repository/model-manifest';
import { RuntimeSignature } from '../runtimes/model-runtime';
import { NamedTensors } from '../tensors/tensor';
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

/**
 * Checks what a runtime answered against the version's own signature: every declared output
 * present, with its datatype, rank, fixed dimensions, and as many values as its shape says. A
 * broken runtime (or a custom one) answering otherwise is an inference failure on our side, not a
 * 200 with a wrong tensor. Returns every problem.
 */
export function outputProblems(outputs: NamedTensors, sig: RuntimeSignature): string[] {
  const problems: string[] = [];
  for (const spec of sig.outputs) {
    const out = outputs[spec.name];
    if (!out) { problems.push(`output '${spec.name}' is missing`); continue; }
    if (out.datatype !== spec.datatype) problems.push(`output '${spec.name}' is ${out.datatype}, the model declares ${spec.datatype}`);
    // An empty declared shape is a scalar or an output ONNX gives no shape for: not checked.
    const shapeOk = spec.shape.length === 0 || (out.shape.length === spec.shape.length && spec.shape.every((d, i) => d < 0 || out.shape[i] === d));
    if (!shapeOk) problems.push(`output '${spec.name}' has shape [${out.shape}], the model declares [${spec.shape}]`);
    const count = out.shape.reduce((n, d) => n * d, 1);
    if (out.data.length !== count) problems.push(`output '${spec.name}' holds ${out.data.length} values for shape [${out.shape}]`);
  }
  return problems;
}
