import { ModelManifest } from '../repository/model-manifest';
import { NamedTensors, Tensor } from '../tensors/tensor';

export interface ClassPrediction {
  class: string;
  confidence: number;
  probabilities: Record<string, number>;
}
export interface RegressionPrediction {
  value: number | number[];
}
export type RawPrediction = Record<string, unknown>;
export type Prediction = ClassPrediction | RegressionPrediction | RawPrediction;

/** How a model's outputs become a prediction: by labels (classifier), by task (regressor), else raw tensors. */
export type OutputKind = 'classifier' | 'regressor' | 'raw';

export function outputKindOf(manifest: ModelManifest): OutputKind {
  if (manifest.labels?.length) return 'classifier';
  if (manifest.task === 'regression' && manifest.features?.length) return 'regressor';
  return 'raw';
}

const toNumber = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v));

const hasLabelColumns = (t: Tensor, labelCount: number): boolean =>
  (t.datatype === 'FP32' || t.datatype === 'FP64') && t.shape.length === 2 && t.shape[1] === labelCount;

/**
 * The classifier's probability tensor: a 2-D float output with one column per label, preferring
 * the one named `probabilities` (skl2onnx's name with ZipMap off).
 */
export function probabilityOutput(outputs: NamedTensors, labelCount: number): Tensor | undefined {
  const named = outputs.probabilities;
  if (named && hasLabelColumns(named, labelCount)) return named;
  return Object.values(outputs).find((t) => hasLabelColumns(t, labelCount));
}

function classify(outputs: NamedTensors, labels: string[]): ClassPrediction[] {
  const probs = probabilityOutput(outputs, labels.length);
  if (!probs) throw new Error(`no output with ${labels.length} class probabilities`);
  const rows = probs.shape[0];
  return Array.from({ length: rows }, (_, r) => {
    const p = Array.from(probs.data.slice(r * labels.length, (r + 1) * labels.length) as ArrayLike<number>, toNumber);
    let best = 0;
    for (let i = 1; i < p.length; i += 1) if (p[i] > p[best]) best = i;
    return { class: labels[best], confidence: p[best], probabilities: Object.fromEntries(labels.map((l, i) => [l, p[i]])) };
  });
}

function regress(outputs: NamedTensors): RegressionPrediction[] {
  const t = Object.values(outputs)[0];
  const rows = t.shape[0];
  const width = rows === 0 ? 0 : t.data.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    const values = Array.from(t.data.slice(r * width, (r + 1) * width) as ArrayLike<number>, toNumber);
    return { value: width === 1 ? values[0] : values };
  });
}

/** A tensor as a nested array of its shape (the inverse of the request's nesting). */
export function nest(t: Tensor): unknown {
  const flat = Array.from(t.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? Number(v) : v));
  const build = (offset: number, depth: number): unknown => {
    if (depth === t.shape.length) return flat[offset];
    const stride = t.shape.slice(depth + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: t.shape[depth] }, (_, i) => build(offset + i * stride, depth + 1));
  };
  return build(0, 0);
}

/**
 * Turns outputs into one prediction per row for tabular models; for raw tensor models the whole
 * request's outputs by name, as nested arrays.
 */
export function postprocess(kind: OutputKind, outputs: NamedTensors, labels: string[] = []): Prediction[] {
  if (kind === 'classifier') return classify(outputs, labels);
  if (kind === 'regressor') return regress(outputs);
  return [Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, nest(t)]))];
}
