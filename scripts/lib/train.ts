import { Matrix, addRowVector, columnSums, fromRows, matmul, softmaxRows, solve, zeros } from './matrix';
import { Rng, gaussian, mulberry32 } from './random';

/** Fully connected layer y = x W + b, with W stored [inputs x outputs] as ONNX MatMul expects. */
export interface DenseLayer {
  weights: Matrix;
  bias: Float64Array;
}

/** Per-feature mean and population std of the training split; baked into the ONNX graph. */
export interface Standardizer {
  mean: number[];
  std: number[];
}

export function fitStandardizer(x: readonly number[][]): Standardizer {
  const n = x.length;
  const mean = x[0].map((_, j) => x.reduce((s, row) => s + row[j], 0) / n);
  const std = mean.map((m, j) => Math.sqrt(x.reduce((s, row) => s + (row[j] - m) ** 2, 0) / n));
  // A constant column would divide by zero; leaving it unscaled is harmless.
  return { mean, std: std.map((s) => (s > 0 ? s : 1)) };
}

export function standardize(x: readonly number[][], { mean, std }: Standardizer): Matrix {
  return fromRows(x.map((row) => row.map((v, j) => (v - mean[j]) / std[j])));
}

/** He initialisation (normal * sqrt(2 / fan_in)), the usual choice in front of ReLU. */
export function heInitLayer(inputs: number, outputs: number, rng: Rng): DenseLayer {
  const weights = zeros(inputs, outputs);
  const scale = Math.sqrt(2 / inputs);
  for (let i = 0; i < weights.data.length; i++) weights.data[i] = gaussian(rng) * scale;
  return { weights, bias: new Float64Array(outputs) };
}

export interface SoftmaxTrainingOptions {
  /** Hidden ReLU layer widths; [] gives multinomial logistic regression. */
  hidden: number[];
  epochs: number;
  learningRate: number;
  /** L2 penalty on weights: keeps logits finite on linearly separable classes (setosa). */
  l2: number;
  seed: number;
}

/** Adam state for one parameter array. */
class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;

  constructor(
    private readonly param: Float64Array,
    private readonly lr: number,
  ) {
    this.m = new Float64Array(param.length);
    this.v = new Float64Array(param.length);
  }

  step(grad: Float64Array, t: number): void {
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    for (let i = 0; i < grad.length; i++) {
      this.m[i] = b1 * this.m[i] + (1 - b1) * grad[i];
      this.v[i] = b2 * this.v[i] + (1 - b2) * grad[i] ** 2;
      this.param[i] -= (this.lr * (this.m[i] / c1)) / (Math.sqrt(this.v[i] / c2) + eps);
    }
  }
}

/** Forward pass; returns every layer's activation (index 0 is the input, last is softmax). */
function forward(layers: readonly DenseLayer[], x: Matrix): Matrix[] {
  const acts = [x];
  layers.forEach((layer, l) => {
    const z = addRowVector(matmul(acts[l], layer.weights), layer.bias);
    if (l < layers.length - 1) z.data.forEach((v, i) => (z.data[i] = Math.max(0, v)));
    acts.push(z);
  });
  softmaxRows(acts[acts.length - 1]);
  return acts;
}

/**
 * Softmax classifier trained with full-batch Adam on mean cross-entropy.
 * Full batch + seeded init makes the result a pure function of the inputs.
 */
export function trainSoftmaxNetwork(
  x: Matrix,
  y: readonly number[],
  classes: number,
  opts: SoftmaxTrainingOptions,
): DenseLayer[] {
  const rng = mulberry32(opts.seed);
  const widths = [x.cols, ...opts.hidden, classes];
  const layers = widths.slice(1).map((w, l) => heInitLayer(widths[l], w, rng));
  const optimisers = layers.map((l) => [new Adam(l.weights.data, opts.learningRate), new Adam(l.bias, opts.learningRate)]);

  for (let t = 1; t <= opts.epochs; t++) {
    const acts = forward(layers, x);
    // d(mean CE)/d(logits) = (p - onehot) / n
    let delta = acts[acts.length - 1];
    y.forEach((c, i) => (delta.data[i * classes + c] -= 1));
    delta.data.forEach((v, i) => (delta.data[i] = v / x.rows));

    for (let l = layers.length - 1; l >= 0; l--) {
      const { weights } = layers[l];
      const gradW = matmul(acts[l], delta, true);
      gradW.data.forEach((g, i) => (gradW.data[i] = g + opts.l2 * weights.data[i]));
      const gradB = columnSums(delta);
      if (l > 0) {
        // Backprop through ReLU before this layer's weights are updated.
        const prev = matmul(delta, weights, false, true);
        prev.data.forEach((g, i) => (prev.data[i] = acts[l].data[i] > 0 ? g : 0));
        delta = prev;
      }
      optimisers[l][0].step(gradW.data, t);
      optimisers[l][1].step(gradB, t);
    }
  }
  return layers;
}

/**
 * Ordinary least squares on standardised inputs via the normal equations.
 * With centred columns the intercept is simply mean(y), so only X'X w = X'(y - mean) is solved.
 */
export function fitLinearRegression(x: Matrix, y: readonly number[]): DenseLayer {
  const yMean = y.reduce((s, v) => s + v, 0) / y.length;
  const yc: Matrix = { rows: y.length, cols: 1, data: Float64Array.from(y, (v) => v - yMean) };
  const w = solve(matmul(x, x, true), matmul(x, yc, true).data);
  return { weights: { rows: x.cols, cols: 1, data: w }, bias: Float64Array.of(yMean) };
}
