import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { softmaxNetworkGraph, TensorSpec } from '../scripts/lib/onnx-graph';
import { mulberry32 } from '../scripts/lib/random';
import { heInitLayer } from '../scripts/lib/train';
import { ROOT } from './service-process';

/**
 * bench-mlp-xl: a 2048-8192-8192-10 ReLU MLP (84M FP32 weights, 336 MB), randomly initialised
 * like bench-mlp. Its weights do not fit in any CPU cache, so one row is bound by memory
 * bandwidth and a batch reads the weights once for all its rows: the regime where dynamic
 * batching pays (the bundled bench-mlp's 5 MB sit in L2/L3). Too large for git: built here,
 * deterministically (seed 42), once, into a git-ignored repository beside the bundled models.
 */
export const XL_MODEL = 'bench-mlp-xl';
export const XL_WIDTHS = [2048, 8192, 8192, 10];
/** Model repository of the batching scenarios: the bundled models plus bench-mlp-xl. */
export const BENCH_REPOSITORY = resolve(__dirname, '.models');
/**
 * Model repository of the default-configuration services (and of bench:profile): the bundled
 * models only, so that the service's defaults (MAX_MEMORY_MB=1000) hold and RSS is the service's,
 * not bench-mlp-xl's 336 MB of weights. Copied fresh, registry state file included, every run.
 */
export const DEFAULT_REPOSITORY = resolve(__dirname, '.models-default');

/** Copies every bundled model (models/<name>/) fresh into `repository`. */
function copyBundledModels(repository: string): void {
  const bundled = join(ROOT, 'models');
  for (const name of readdirSync(bundled, { withFileTypes: true })) {
    if (!name.isDirectory()) continue;
    rmSync(join(repository, name.name), { recursive: true, force: true });
    cpSync(join(bundled, name.name), join(repository, name.name), { recursive: true });
  }
}

/** The bundled models alone, in a fresh git-ignored repository with no registry state from an earlier run. */
export function ensureDefaultRepository(): string {
  rmSync(DEFAULT_REPOSITORY, { recursive: true, force: true });
  mkdirSync(DEFAULT_REPOSITORY, { recursive: true });
  copyBundledModels(DEFAULT_REPOSITORY);
  return DEFAULT_REPOSITORY;
}

const STAMP = `${XL_WIDTHS.join('-')} seed 42 v1`;

export function xlModelPath(): string {
  return join(BENCH_REPOSITORY, XL_MODEL, '1', 'model.onnx');
}

/** Builds the bench repository (bundled models copied, bench-mlp-xl generated) unless it is current. */
export function ensureBenchRepository(log: (msg: string) => void): string {
  const xlDir = join(BENCH_REPOSITORY, XL_MODEL);
  const stampFile = join(xlDir, '.stamp');
  // The bundled models are copied fresh every run (small), so a rebuilt models/ is what is measured.
  copyBundledModels(BENCH_REPOSITORY);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === STAMP && existsSync(xlModelPath())) return BENCH_REPOSITORY;

  log(`building ${XL_MODEL} ${XL_WIDTHS.join('-')} (336 MB, once) into ${xlDir}`);
  const rng = mulberry32(42);
  const layers = XL_WIDTHS.slice(1).map((w, l) => heInitLayer(XL_WIDTHS[l], w, rng));
  const input: TensorSpec = { name: 'input', datatype: 'FP32', shape: [-1, XL_WIDTHS[0]] };
  const output: TensorSpec = { name: 'output', datatype: 'FP32', shape: [-1, XL_WIDTHS[XL_WIDTHS.length - 1]] };
  const bytes = softmaxNetworkGraph(input, output, null, layers).toModel(XL_MODEL, output, 1, 'random MLP for batching benchmarks');
  mkdirSync(join(xlDir, '1'), { recursive: true });
  writeFileSync(xlModelPath(), bytes);
  const manifest = {
    name: XL_MODEL,
    description: `Randomly initialised (untrained) ${XL_WIDTHS.join('-')} ReLU MLP, 336 MB of weights, built by bench/xl-model.ts; memory-bound per row.`,
    runtime: 'onnx',
    inputs: [input],
    outputs: [output],
    dynamic_batching: { max_batch_size: 64, max_queue_delay_ms: 2 },
    session_options: { intra_op_num_threads: 2 },
    versions: { '1': { algorithm: `random MLP ${XL_WIDTHS.join('-')} (seed 42)` } },
  };
  writeFileSync(join(xlDir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(stampFile, STAMP);
  return BENCH_REPOSITORY;
}
