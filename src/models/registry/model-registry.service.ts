import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { AllConfig } from '../../config/app-config';
import { MetricsService, ModelStateSample } from '../../metrics/metrics.service';
import { batcherOptions, BatchingDefaults } from '../batching/batcher-options';
import { DynamicBatcher } from '../batching/dynamic-batcher';
import { DiscoveredModel } from '../repository/model-manifest';
import { ModelRepositoryService } from '../repository/model-repository.service';
import { ModelRuntime, ModelRuntimeFactory, RuntimeSignature } from '../runtimes/model-runtime';
import { ModelEntry } from './model-entry';
import { ModelVersion } from './model-version';
import { signatureProblems } from './signature-check';
import { warmUpInputs } from './warm-up';

export type Variant = 'stable' | 'canary' | 'pinned';

/** Where one request goes. */
export interface Route {
  entry: ModelEntry;
  version: ModelVersion;
  variant: Variant;
}

/**
 * The registry of models and their loaded versions (the seed's ModelRegistry). Loads every
 * version found in the repository at boot; a version that fails is FAILED with its reason and
 * the others keep serving.
 */
@Injectable()
export class ModelRegistryService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ModelRegistryService.name);
  private readonly entries = new Map<string, ModelEntry>();
  private readonly defaultModelId: string;
  private readonly pinnedVersion: number | undefined;
  private readonly batching: BatchingDefaults;
  private readonly drainMs: number;
  private loading: Promise<void> = Promise.resolve();

  constructor(
    private readonly repository: ModelRepositoryService,
    private readonly runtimes: ModelRuntimeFactory,
    config: ConfigService<AllConfig, true>,
    private readonly metrics: MetricsService,
  ) {
    this.batching = config.getOrThrow('models', { infer: true });
    this.drainMs = config.getOrThrow('app.shutdownTimeoutSeconds', { infer: true }) * 1000;
    metrics.setModelStateSource(() => this.stateSamples());
    this.defaultModelId = config.getOrThrow('models.defaultModelId', { infer: true });
    this.pinnedVersion = config.get('models.pinnedVersion', { infer: true });
  }

  /**
   * Discovers the repository and starts loading every version without waiting for it, so the
   * server answers health probes while models load (readiness stays 503 until they are READY).
   */
  async onModuleInit(): Promise<void> {
    const found = await this.repository.discover();
    this.loading = Promise.all(found.map((model) => this.register(model))).then(() => {
      const summary = [...this.entries.values()].map((e) => `${e.name}@${e.active ?? '-'}`).join(', ');
      this.logger.log(`model repository ${this.repository.root}: ${summary || 'no models'}`);
    });
  }

  /** Resolves when the boot-time loads have finished (each version READY or FAILED). */
  whenLoaded(): Promise<void> {
    return this.loading;
  }

  /** Releases every runtime after the HTTP server has drained. */
  async onApplicationShutdown(): Promise<void> {
    await this.loading;
    const versions = [...this.entries.values()].flatMap((e) => [...e.versions.values()]);
    await Promise.all(versions.map((v) => v.release(this.drainMs)));
    this.logger.log(`released ${versions.length} model versions (onnxruntime sessions)`);
  }

  get defaultModel(): string {
    return this.defaultModelId;
  }

  list(): ModelEntry[] {
    return [...this.entries.values()];
  }

  /** The model, or a MODEL_NOT_FOUND error. */
  get(modelId: string): ModelEntry {
    const entry = this.entries.get(modelId);
    if (!entry) throw AppError.modelNotFound(modelId);
    return entry;
  }

  /**
   * Picks the version for a request: the pinned one when given (any READY version), else the
   * active stage (MODEL_VERSION pins the default model). Errors: 404 unknown model/version,
   * 503 when the version exists but is not READY.
   */
  route(modelId: string, requested?: number): Route {
    const entry = this.get(modelId);
    if (entry.error) throw new AppError(ErrorCode.MODEL_NOT_READY, `Model '${modelId}' failed to load: ${entry.error}`, [], 30);
    const pinned = requested ?? (modelId === this.defaultModelId ? this.pinnedVersion : undefined);
    const number = pinned ?? entry.active;
    if (number === undefined) throw new AppError(ErrorCode.MODEL_NOT_READY, `Model '${modelId}' has no active version`, [], 30);
    const version = entry.versions.get(number);
    if (!version) throw new AppError(ErrorCode.VERSION_NOT_FOUND, `Model '${modelId}' has no version ${number}`);
    if (!version.ready) {
      const why = version.reason ? `: ${version.reason}` : '';
      throw new AppError(ErrorCode.MODEL_NOT_READY, `Model '${modelId}' version ${number} is ${version.state}${why}`, [], 5);
    }
    return { entry, version, variant: pinned === undefined ? 'stable' : 'pinned' };
  }

  private batcherFor(entry: ModelEntry, version: ModelVersion, runtime: ModelRuntime, signature: RuntimeSignature): DynamicBatcher {
    const { name } = entry;
    const number = version.version;
    return new DynamicBatcher(runtime, batcherOptions(entry.manifest!, signature, this.batching), {
      onBatch: (requests) => this.metrics.observeBatch(name, number, requests),
      onQueueWait: (seconds) => this.metrics.observeQueueWait(name, number, seconds),
      onQueueDepth: (depth) => this.metrics.setQueueDepth(name, number, depth),
    });
  }

  /** Every version's state, for the model gauges. */
  stateSamples(): ModelStateSample[] {
    return this.list().flatMap((e) => [...e.versions.values()].map((v) => ({
      model_id: e.name, model_version: String(v.version), state: v.state, active: v.version === e.active,
    })));
  }

  private async register(model: DiscoveredModel): Promise<void> {
    const entry = new ModelEntry(model.name, model.manifest, model.manifestError);
    this.entries.set(model.name, entry);
    if (model.manifestError) {
      this.logger.error(`model ${model.name} FAILED: ${model.manifestError}`);
      return;
    }
    for (const [number, path] of model.versions) entry.versions.set(number, new ModelVersion(number, path));
    const declared = entry.manifest?.stages;
    // Stages are known before loading, so a request during the load gets 503 (not ready), not 404.
    entry.active = declared?.active !== undefined && entry.versions.has(declared.active) ? declared.active : model.versions.size ? Math.max(...model.versions.keys()) : undefined;
    entry.staging = declared?.staging;
    await Promise.all([...entry.versions.values()].map((v) => this.load(entry, v)));
    if (entry.active === undefined || !entry.versions.get(entry.active)?.ready) entry.active = entry.highestReady();
  }

  /** Loads, checks against model.json and warms one version. Never throws: failure → FAILED. */
  private async load(entry: ModelEntry, version: ModelVersion): Promise<void> {
    const manifest = entry.manifest!;
    const runtime = this.runtimes.create(manifest.runtime ?? 'onnx');
    try {
      const options = manifest.session_options;
      const signature = await runtime.load(version.path, {
        intraOpNumThreads: options?.intra_op_num_threads,
        graphOptimizationLevel: options?.graph_optimization_level,
      });
      const problems = signatureProblems(manifest, signature);
      if (problems.length) throw new Error(problems.join('; '));
      await runtime.run(warmUpInputs(signature.inputs));
      version.serve(runtime, signature, this.batcherFor(entry, version, runtime, signature));
    } catch (e) {
      version.fail((e as Error).message);
      await runtime.unload().catch(() => undefined);
      this.logger.error(`model ${entry.name} version ${version.version} FAILED: ${version.reason}`);
    }
  }
}
