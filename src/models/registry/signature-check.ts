import { ModelManifest, TensorSpec } from '../repository/model-manifest';
import { RuntimeSignature } from '../runtimes/model-runtime';
import { NamedTensors } from '../tensors/tensor';
import { probabilityOutput } from '../wrapper/postprocess';

type Side = 'input' | 'output';

/** Each tensor model.json declares, with the model's tensor of that name (if it has one). */
function declaredPairs(manifest: ModelManifest, sig: RuntimeSignature): { side: Side; declared: TensorSpec; actual: TensorSpec[]; found?: TensorSpec }[] {
  const pairs = (side: Side, declared: TensorSpec[] = [], actual: TensorSpec[]) =>
    declared.map((t) => ({ side, declared: t, actual, found: actual.find((a) => a.name === t.name) }));
  return [...pairs('input', manifest.inputs, sig.inputs), ...pairs('output', manifest.outputs, sig.outputs)];
}

/**
 * Why a declared shape does not fit the model's, or undefined: the rank must be the same, and each
 * fixed dimension of the model must be what model.json says (a declared -1 leaves it as it is; a
 * declared size narrows the model's -1).
 */
export function shapeMismatch(model: number[], declared: number[]): string | undefined {
  if (model.length !== declared.length) return `rank ${model.length} in the model, ${declared.length} in model.json`;
  const i = model.findIndex((d, k) => d !== -1 && declared[k] !== -1 && d !== declared[k]);
  return i < 0 ? undefined : `dimension ${i} is ${model[i]} in the model, ${declared[i]} in model.json`;
}

/** The model's dims narrowed by compatible declared ones: a declared size replaces a -1. */
export function narrowShape(model: number[], declared: number[]): number[] {
  return model.map((d, i) => (d === -1 ? declared[i] : d));
}

/**
 * The signature a version serves with: the ONNX session's tensors, each one model.json declares
 * narrowed to its declared shape, so every transport's shape checks (V2 JSON and binary, gRPC,
 * /predict) enforce model.json and V2 metadata shows it. A declared tensor that does not fit is
 * left as the model has it ({@link signatureProblems} names it and the load fails).
 */
export function servedSignature(manifest: ModelManifest, sig: RuntimeSignature): RuntimeSignature {
  const narrowed = new Map<TensorSpec, TensorSpec>();
  for (const { declared, found } of declaredPairs(manifest, sig)) {
    if (found && found.datatype === declared.datatype && !shapeMismatch(found.shape, declared.shape)) {
      narrowed.set(found, { ...found, shape: narrowShape(found.shape, declared.shape) });
    }
  }
  const served = (t: TensorSpec) => narrowed.get(t) ?? t;
  return { inputs: sig.inputs.map(served), outputs: sig.outputs.map(served) };
}

/**
 * Checks the ONNX session's tensors against model.json: declared inputs/outputs must exist with
 * the same datatype and a shape that fits ({@link shapeMismatch}); `features` need one 2-D float
 * input of that width; `labels` need an output with one column per label (both judged on the
 * narrowed signature). Returns every problem.
 */
export function signatureProblems(manifest: ModelManifest, sig: RuntimeSignature): string[] {
  const problems: string[] = [];
  for (const { side, declared: t, actual, found } of declaredPairs(manifest, sig)) {
    if (!found) { problems.push(`${side} '${t.name}' is not in the model (it has ${actual.map((a) => a.name).join(', ')})`); continue; }
    if (found.datatype !== t.datatype) problems.push(`${side} '${t.name}' is ${found.datatype} in the model, ${t.datatype} in model.json`);
    const mismatch = shapeMismatch(found.shape, t.shape);
    if (mismatch) problems.push(`${side} '${t.name}' has shape [${found.shape}] in the model, [${t.shape}] in model.json (${mismatch})`);
  }
  const served = servedSignature(manifest, sig);
  return [...problems, ...featureProblems(manifest, served), ...labelProblems(manifest, served)];
}

function featureProblems(manifest: ModelManifest, sig: RuntimeSignature): string[] {
  if (!manifest.features) return [];
  const input = sig.inputs[0];
  if (sig.inputs.length !== 1 || input.shape.length !== 2 || (input.datatype !== 'FP32' && input.datatype !== 'FP64')) {
    return ['features need a model with exactly one 2-D FP32 or FP64 input'];
  }
  const width = input.shape[1];
  return width !== -1 && width !== manifest.features.length ? [`model input takes ${width} features, model.json lists ${manifest.features.length}`] : [];
}

function labelProblems(manifest: ModelManifest, sig: RuntimeSignature): string[] {
  if (!manifest.labels) return [];
  const fake = Object.fromEntries(sig.outputs.map((o) => [o.name, { datatype: o.datatype, shape: o.shape, data: new Float32Array(0) }]));
  return probabilityOutput(fake, manifest.labels.length) ? [] : [`no float output with ${manifest.labels.length} columns for the labels`];
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
