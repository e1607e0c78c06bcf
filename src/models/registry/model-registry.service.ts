import { Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { ShutdownState } from '../../common/lifecycle/shutdown-state';
import { AllConfig } from '../../config/app-config';
import { MetricsService, ModelStateSample } from '../../metrics/metrics.service';
import { DiscoveredModel } from '../repository/model-manifest';
import { ModelRepositoryService } from '../repository/model-repository.service';
import { CanaryPolicy, chooseVariant } from '../routing/routing-policy';
import { ModelEntry } from './model-entry';
import { ModelVersion } from './model-version';
import { ModelRoutingState, RegistryState } from './state/registry-state';
import { RegistryStateStore } from './state/registry-state.store';
import { VersionLoader } from './version-loader';

export type Variant = 'stable' | 'canary' | 'pinned';

/** Where one request goes. */
export interface Route {
  entry: ModelEntry;
  version: ModelVersion;
  variant: Variant;
  /** The canary policy a 'canary' request was routed under: its outcome counts only while that policy is the model's canary. */
  canary?: CanaryPolicy;
}

/**
 * The registry of models and their versions (the seed's ModelRegistry). At boot it discovers
 * the repository, restores the persisted stages/canary/shadow, and loads every version; a
 * version that fails is FAILED with its reason and the others keep serving. It routes each
 * request (pinned, canary or stable); rollout changes are made by the RolloutService.
 */
@Injectable()
export class ModelRegistryService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ModelRegistry');
  private readonly entries = new Map<string, ModelEntry>();
  private readonly defaultModelId: string;
  private readonly pinnedVersion: number | undefined;
  private readonly drainMs: number;
  private loading: Promise<void> = Promise.resolve();
  /** The state as read at boot (plus settings decided since for models not serving here): a model broken at this start keeps its saved settings from it. */
  private savedState: RegistryState | undefined;

  constructor(
    private readonly repository: ModelRepositoryService,
    private readonly loader: VersionLoader,
    private readonly store: RegistryStateStore,
    config: ConfigService<AllConfig, true>,
    metrics: MetricsService,
    @Optional() private readonly shutdown?: ShutdownState,
  ) {
    this.defaultModelId = config.getOrThrow('models.defaultModelId', { infer: true });
    this.pinnedVersion = config.get('models.pinnedVersion', { infer: true });
    this.drainMs = config.getOrThrow('app.shutdownTimeoutSeconds', { infer: true }) * 1000;
    metrics.setModelStateSource(() => this.stateSamples());
  }

  /**
   * Discovers the repository and starts loading every version without waiting for it, so the
   * server answers health probes while models load (readiness stays 503 until they are READY).
   */
  async onModuleInit(): Promise<void> {
    const [found, state] = await Promise.all([this.repository.discover(), this.store.load()]);
    this.savedState = state;
    this.loading = Promise.all(found.map((model) => this.register(model, state))).then(() => {
      const summary = this.list().map((e) => `${e.name}@${e.active ?? '-'}`).join(', ');
      this.logger.log(`model repository ${this.repository.root}: ${summary || 'no models'}`);
    });
  }

  /** Resolves when the boot-time loads have finished (each version READY or FAILED). */
  whenLoaded(): Promise<void> {
    return this.loading;
  }

  /**
   * Releases every runtime after the HTTP server has drained, waiting for batches still running
   * only as long as the stop's budget has left (SHUTDOWN_TIMEOUT_SECONDS is one budget, not one per step).
   */
  async onApplicationShutdown(): Promise<void> {
    await this.loading;
    const versions = this.list().flatMap((e) => [...e.versions.values()]);
    const budget = this.shutdown?.remainingMs() ?? this.drainMs;
    await Promise.all(versions.map((v) => v.release(budget)));
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

  /** The version, or VERSION_NOT_FOUND. */
  version(entry: ModelEntry, number: number): ModelVersion {
    const version = entry.versions.get(number);
    if (!version) throw new AppError(ErrorCode.VERSION_NOT_FOUND, `Model '${entry.name}' has no version ${number}`);
    return version;
  }

  /**
   * Picks the version for a request: the pinned one when given (any READY version; MODEL_VERSION
   * pins the default model), else the canary for its share of traffic (sticky by routing key when
   * asked), else the active version. Errors: 404 unknown model/version, 503 when not READY.
   */
  route(modelId: string, requested?: number, routingKey?: string): Route {
    const entry = this.get(modelId);
    if (entry.error) throw new AppError(ErrorCode.MODEL_NOT_READY, `Model '${modelId}' failed to load: ${entry.error}`, [], 30);
    const pinned = requested ?? (modelId === this.defaultModelId ? this.pinnedVersion : undefined);
    if (pinned !== undefined) return { entry, version: this.ready(entry, pinned), variant: 'pinned' };
    const canary = entry.canary && entry.versions.get(entry.canary.version);
    if (canary?.ready && chooseVariant(entry.canary, routingKey) === 'canary') return { entry, version: canary, variant: 'canary', canary: entry.canary };
    if (entry.active === undefined) throw new AppError(ErrorCode.MODEL_NOT_READY, `Model '${modelId}' has no active version`, [], 30);
    return { entry, version: this.ready(entry, entry.active), variant: 'stable' };
  }

  /** The READY version, or 404 / 503. */
  ready(entry: ModelEntry, number: number): ModelVersion {
    const version = this.version(entry, number);
    if (!version.ready) {
      const why = version.reason ? `: ${version.reason}` : '';
      throw new AppError(ErrorCode.MODEL_NOT_READY, `Model '${entry.name}' version ${number} is ${version.state}${why}`, [], 5);
    }
    return version;
  }

  /**
   * Loads (or reloads) one version from the repository as it is on disk now, so a version (or a
   * whole model) dropped in is served without a restart. Resolves with the version, READY or FAILED.
   */
  async loadVersion(modelId: string, number: number): Promise<ModelVersion> {
    const found = await this.repository.find(modelId);
    const source = found?.versions.get(number);
    if (!found) throw AppError.modelNotFound(modelId);
    if (!source) throw new AppError(ErrorCode.VERSION_NOT_FOUND, `Model '${modelId}' has no version ${number} in the repository`);
    const existing = this.entries.get(modelId);
    if (!found.manifest) {
      // A model not serving yet (new, or broken before) stays listed as FAILED with the reason, in
      // /models, /health and the V2 index, until it is fixed and loaded; a serving one keeps serving.
      if (!existing || existing.error) this.entries.set(modelId, new ModelEntry(found.name, undefined, found.manifestError));
      throw new AppError(ErrorCode.MODEL_LOAD_FAILED, `Model '${modelId}': ${found.manifestError}`);
    }
    // A model whose model.json was broken at boot is adopted afresh once it reads well.
    const entry = existing && !existing.error ? existing : this.adoptUnloaded(found);
    const previous = entry.versions.get(number);
    const version = new ModelVersion(number, source);
    // A new version is listed as LOADING at once; a reload keeps the old one serving until the new one is READY.
    if (!previous?.ready) entry.versions.set(number, version);
    if (!(await this.loader.load(entry, version))) return version;
    entry.versions.set(number, version);
    entry.unloaded = false;
    await previous?.release(this.drainMs);
    if (entry.active === undefined) entry.active = number;
    return version;
  }

  /** The version numbers of a model in the repository as it is on disk now; 404 when the model is not there. */
  async versionsOnDisk(modelId: string): Promise<number[]> {
    const found = await this.repository.find(modelId);
    if (!found) throw AppError.modelNotFound(modelId);
    return [...found.versions.keys()].sort((a, b) => a - b);
  }

  /**
   * A model folder with no version folder, as a V2 load finds it: listed as at boot (no versions,
   * and why) unless it already serves, then refused with MODEL_LOAD_FAILED.
   */
  async refuseWithoutVersions(modelId: string): Promise<never> {
    const found = await this.repository.find(modelId);
    if (!found) throw AppError.modelNotFound(modelId);
    const existing = this.entries.get(modelId);
    if (!existing || existing.error) this.adopt(found);
    throw new AppError(ErrorCode.MODEL_LOAD_FAILED, `Model '${modelId}' has no version to load: no numbered version folder (1/, 2/, … each with its .onnx file)`);
  }

  /** A model's rollout settings as the store had them at boot, or as later decided while it was not serving here (see applyRouting). */
  savedAtBoot(modelId: string): ModelRoutingState | undefined {
    return this.savedState?.models[modelId];
  }

  /**
   * Makes `state` the model's rollout settings in one synchronous switch (no request sees half of
   * it), as decided by a rollout operation or by another replica through the shared store. The
   * variant stats restart when a (different) canary starts. A model that is not serving here (broken
   * model.json, or unknown to this replica's repository) keeps the state for when it is loaded.
   * Returns what could not be applied here (versions this replica does not have).
   */
  applyRouting(modelId: string, state: ModelRoutingState): string[] {
    const entry = this.entries.get(modelId);
    if (!entry || entry.error) {
      const saved = this.savedState ?? { version: 1, updated_at: new Date().toISOString(), models: {} };
      this.savedState = { ...saved, models: { ...saved.models, [modelId]: state } };
      return [];
    }
    const canaryBefore = JSON.stringify(entry.canary ?? null);
    const dropped = entry.applyState(state);
    for (const problem of dropped) this.logger.warn(`model ${modelId}: routing state ignored: ${problem}`);
    // A new canary starts its stats afresh (as setCanary does); an ended one leaves them readable.
    if (entry.canary && JSON.stringify(entry.canary) !== canaryBefore) entry.variants.reset();
    return dropped;
  }

  /** True when MODEL_VERSION pins this version of the default model. */
  isPinnedDefault(modelId: string, number: number): boolean {
    return modelId === this.defaultModelId && this.pinnedVersion === number;
  }

  /** Releases one version's runtime; it stays listed as UNLOADED. */
  async unloadVersion(entry: ModelEntry, number: number): Promise<ModelVersion> {
    const version = this.version(entry, number);
    await version.release(this.drainMs);
    return version;
  }

  /** Every model's rollout settings, for the state store. */
  snapshot(): RegistryState {
    // A model broken at this start keeps the settings saved before (a fixed model.json must not
    // come back on its defaults: a silent rollback of its promotion).
    const models = Object.fromEntries(this.list().flatMap((e) => {
      if (!e.error) return [[e.name, e.routingState()]];
      const saved = this.savedState?.models[e.name];
      return saved ? [[e.name, saved]] : [];
    }));
    return { version: 1, updated_at: new Date().toISOString(), models };
  }

  /** Every version's state, for the model gauges. */
  stateSamples(): ModelStateSample[] {
    return this.list().flatMap((e) => [...e.versions.values()].map((v) => ({
      model_id: e.name, model_version: String(v.version), state: v.state, active: v.version === e.active,
    })));
  }

  /** A model (new, or broken at boot and fixed since) with every version listed as UNLOADED until loaded. */
  private adoptUnloaded(model: DiscoveredModel): ModelEntry {
    const entry = this.adopt(model);
    for (const [number, source] of model.versions) {
      const version = new ModelVersion(number, source);
      version.state = 'UNLOADED';
      entry.versions.set(number, version);
    }
    // Broken at boot and fixed since: its settings saved before this start come back with it.
    const saved = this.savedState?.models[model.name];
    if (saved) for (const problem of entry.applyState(saved)) this.logger.warn(`model ${model.name}: persisted state ignored: ${problem}`);
    return entry;
  }

  private adopt(model: DiscoveredModel): ModelEntry {
    const entry = new ModelEntry(model.name, model.manifest, model.manifestError);
    this.entries.set(model.name, entry);
    return entry;
  }

  private async register(model: DiscoveredModel, state: RegistryState | undefined): Promise<void> {
    const entry = this.adopt(model);
    if (model.manifestError) {
      this.logger.error(`model ${model.name} FAILED: ${model.manifestError}`);
      return;
    }
    for (const [number, source] of model.versions) entry.versions.set(number, new ModelVersion(number, source));
    const declared = entry.manifest?.stages;
    // Stages are known before loading, so a request during the load gets 503 (not ready), not 404.
    entry.active = declared?.active !== undefined && entry.versions.has(declared.active) ? declared.active : model.versions.size ? Math.max(...model.versions.keys()) : undefined;
    entry.staging = declared?.staging;
    const saved = state?.models[model.name];
    if (saved) for (const problem of entry.applyState(saved)) this.logger.warn(`model ${model.name}: persisted state ignored: ${problem}`);
    await Promise.all([...entry.versions.values()].map((v) => this.loader.load(entry, v)));
    if (entry.active === undefined || !entry.versions.get(entry.active)?.ready) entry.active = entry.highestReady();
  }
}
