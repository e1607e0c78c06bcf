import { Injectable, Logger, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';

import { publicLoadReason, SafeLoadError } from '../../common/errors/public-reason';
import { AllConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { batcherOptions, BatchingDefaults, stacksOnDimZero } from '../batching/batcher-options';
import { DynamicBatcher } from '../batching/dynamic-batcher';
import { ModelManifest } from '../repository/model-manifest';
import { MODEL_FILE } from '../repository/model-file';
import { ModelRuntime, ModelRuntimeFactory, RuntimeSignature } from '../runtimes/model-runtime';
import { MonotonicStatsClock, StatsClock } from '../wrapper/stats-clock';
import { ModelEntry } from './model-entry';
import { ModelVersion, ServingSettings } from './model-version';
import { servedSignature, signatureProblems } from './signature-check';
import { warmUpInputs } from './warm-up';

/** The version's model file as the repository found it; SafeLoadError with the folder's problem when it has none (or it went away since). */
async function modelFileOf(entry: ModelEntry, version: ModelVersion): Promise<string> {
  const { path, problem } = version.source;
  if (problem !== undefined || path === undefined) throw new SafeLoadError(problem ?? `no model file in ${entry.name}/${version.version}/`);
  if (!(await stat(path).then((s) => s.isFile(), () => false))) throw new SafeLoadError(`${basename(path)} in ${entry.name}/${version.version}/ is gone`);
  return path;
}

/** Model files from this size up get a worker thread unless model.json says otherwise (`worker_thread`). */
export const WORKER_THREAD_MIN_BYTES = 1024 * 1024;

/**
 * Whether a version's sessions run on a worker thread: model.json `worker_thread` when given,
 * else by size. onnxruntime-node runs inference synchronously on the calling thread; for a
 * small model (iris: ~25 µs a run) that is cheaper than a message to a worker, for a large one
 * (bench-mlp-xl: ~80 ms for 64 rows) it would stall every HTTP request meanwhile.
 */
export async function runsOnWorker(manifest: ModelManifest, path: string): Promise<boolean> {
  if (manifest.worker_thread !== undefined) return manifest.worker_thread;
  const size = await stat(path).then((s) => s.size, () => 0);
  return size >= WORKER_THREAD_MIN_BYTES;
}

/**
 * Brings one version to READY: a fresh runtime, the model file loaded, its signature checked
 * against model.json and narrowed to the shapes it declares, one warm-up inference, and a dynamic
 * batcher in front. Never throws: a failure leaves the version FAILED with its reason.
 */
@Injectable()
export class VersionLoader {
  private readonly logger = new Logger('ModelRegistry');
  private readonly batching: BatchingDefaults;

  private readonly clock: StatsClock;

  /** `clock`: the statistics extension's clock of every batcher (default: the monotonic clock). */
  constructor(
    private readonly runtimes: ModelRuntimeFactory,
    private readonly metrics: MetricsService,
    config: ConfigService<AllConfig, true>,
    @Optional() clock?: StatsClock,
  ) {
    this.batching = config.getOrThrow('models', { infer: true });
    this.clock = clock ?? new MonotonicStatsClock();
  }

  /** Resolves true when the version is READY. */
  async load(entry: ModelEntry, version: ModelVersion): Promise<boolean> {
    const manifest = entry.manifest;
    let runtime: ModelRuntime | undefined;
    try {
      if (!manifest) throw new SafeLoadError(entry.error ?? 'model.json is missing');
      const path = await modelFileOf(entry, version);
      const workerThread = await runsOnWorker(manifest, path);
      runtime = this.runtimes.create(manifest.runtime ?? 'onnx', { workerThread });
      const signature = await this.loadSignature(runtime, manifest, path);
      await runtime.run(warmUpInputs(signature.inputs));
      const settings: ServingSettings = {
        batching: batcherOptions(manifest, signature, this.batching),
        batchDimension: stacksOnDimZero(signature),
        workerThread,
        intraOpNumThreads: manifest.session_options?.intra_op_num_threads,
      };
      version.serve(runtime, signature, this.batcherFor(entry, version, runtime, settings), settings);
      this.metrics.rolloutEvent(entry.name, 'load');
      return true;
    } catch (e) {
      // The reason answers carry is ours; onnxruntime's own text (absolute paths, native detail) is logged here only.
      version.fail(publicLoadReason(e, basename(version.source.path ?? MODEL_FILE)));
      await runtime?.unload().catch(() => undefined);
      this.metrics.rolloutEvent(entry.name, 'load_failed');
      this.logger.error(`model ${entry.name} version ${version.version} FAILED: ${(e as Error).message}`);
      return false;
    }
  }

  /** Loads the file into the runtime; resolves with the signature it serves with (model.json's shapes narrowing the model's). */
  private async loadSignature(runtime: ModelRuntime, manifest: ModelManifest, path: string): Promise<RuntimeSignature> {
    const options = manifest.session_options;
    const reported = await runtime.load(path, {
      intraOpNumThreads: options?.intra_op_num_threads,
      graphOptimizationLevel: options?.graph_optimization_level,
      allowSpinning: options?.allow_spinning,
      runTimeoutMs: this.batching.timeoutMs,
    });
    const problems = signatureProblems(manifest, reported);
    if (problems.length) throw new SafeLoadError(problems.join('; '));
    return servedSignature(manifest, reported);
  }

  private batcherFor(entry: ModelEntry, version: ModelVersion, runtime: ModelRuntime, settings: ServingSettings): DynamicBatcher {
    const { name } = entry;
    const number = version.version;
    const traceAttributes = { 'model.id': name, 'model.version': String(number) };
    const clock = this.clock;
    return new DynamicBatcher(runtime, { ...settings.batching, traceAttributes }, {
      onBatch: (requests) => this.metrics.observeBatch(name, number, requests),
      onQueueWait: (seconds) => this.metrics.observeQueueWait(name, number, seconds),
      onQueueDepth: (depth) => this.metrics.setQueueDepth(name, number, depth),
    }, { stats: version.inferenceStats, nowNs: () => clock.nowNs(), batchDimension: settings.batchDimension });
  }
}
