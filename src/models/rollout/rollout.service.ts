import { Injectable, Logger } from '@nestjs/common';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { MetricsService } from '../../metrics/metrics.service';
import { PredictionCache } from '../cache/prediction-cache';
import { ModelEntry } from '../registry/model-entry';
import { ModelRegistryService } from '../registry/model-registry.service';
import { versionView } from '../registry/model-view';
import { RegistryStateSync } from '../registry/registry-state-sync.service';
import { ModelRoutingState } from '../registry/state/registry-state';
import { CanaryPolicy, ShadowPolicy } from '../routing/routing-policy';

const conflict = (message: string) => new AppError(ErrorCode.CONFLICT, message);

/** How often a change is planned again on the fresh state when another replica changed the model first. */
const COMMIT_ATTEMPTS = 3;

/** Blue-green switch of `state` to `number`: the previous active becomes staging and the rollback target; a canary or shadow on it ends. Pure. */
export function promoted(state: ModelRoutingState, number: number): ModelRoutingState {
  return {
    ...state,
    active: number,
    previous_active: state.active,
    staging: state.active,
    canary: state.canary?.version === number ? undefined : state.canary,
    shadow: state.shadow?.version === number ? undefined : state.shadow,
  };
}

/**
 * Rollout operations on the registry (the seed's promote_to_production and CanaryModelWrapper,
 * plus shadow traffic): load/unload, blue-green promote and rollback, canary and shadow. Each
 * change is planned from the model's current settings and made one synchronous switch of them
 * (no request sees a half state) by the RegistryStateSync: saved to the state file, or — with
 * replicas sharing Redis — committed by compare-and-set before it is applied, and planned again
 * (up to 3 times, then 409) when another replica changed the model in between, so two admins
 * through two replicas get the same outcome as through one. Operations on one model run one at
 * a time; while the shared store is unreachable they answer 503 naming it.
 */
@Injectable()
export class RolloutService {
  private readonly logger = new Logger('Rollout');
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly registry: ModelRegistryService,
    private readonly sync: RegistryStateSync,
    private readonly cache: PredictionCache,
    private readonly metrics: MetricsService,
  ) {}

  /** Loads a version from the repository as it is on disk now. A failed load answers 422 MODEL_LOAD_FAILED with the reason. */
  load(modelId: string, number: number) {
    return this.exclusive(modelId, async () => {
      const version = await this.registry.loadVersion(modelId, number);
      if (!version.ready) throw new AppError(ErrorCode.MODEL_LOAD_FAILED, `Version ${number} of '${modelId}' failed to load: ${version.reason}`);
      // A reload may bring a different model file under the same version number: drop its cached answers.
      await this.cache.clear(modelId);
      await this.sync.persist();
      return versionView(this.registry.get(modelId), version);
    });
  }

  /**
   * V2 repository load: (re)loads every version of the model found on disk. The model's stages
   * are kept; a version that fails is reported (422 MODEL_LOAD_FAILED naming each) while the
   * others serve.
   */
  loadModel(modelId: string) {
    return this.exclusive(modelId, async () => {
      const numbers = await this.registry.versionsOnDisk(modelId);
      if (numbers.length === 0) await this.registry.refuseWithoutVersions(modelId);
      const before = this.registry.list().find((e) => e.name === modelId);
      const fresh = !before || before.error !== undefined;
      const versions = [];
      for (const n of numbers) versions.push(await this.registry.loadVersion(modelId, n));
      const entry = this.registry.get(modelId);
      // A model new to the registry starts as at boot (stages.active, else the highest READY), not on
      // whichever version happened to load first.
      // (A model broken at boot and fixed since goes back to its saved active version when that loaded.)
      if (fresh) {
        const saved = this.registry.savedAtBoot(modelId)?.active;
        entry.active = saved !== undefined && entry.versions.get(saved)?.ready ? saved : entry.initialActive();
      }
      entry.unloaded = false;
      await this.cache.clear(modelId);
      await this.sync.persist();
      const failed = versions.filter((v) => !v.ready);
      if (failed.length) {
        throw new AppError(ErrorCode.MODEL_LOAD_FAILED, `Model '${modelId}' failed to load: ${failed.map((v) => `version ${v.version}: ${v.reason}`).join('; ')}`);
      }
      return versions.map((v) => versionView(this.registry.get(modelId), v));
    });
  }

  /**
   * V2 repository unload: releases every version of the model (Triton's semantics), after the
   * requests in flight finish. The model answers 503 until it is loaded again; its stages,
   * canary and shadow settings are kept for that reload.
   */
  unloadModel(modelId: string) {
    return this.exclusive(modelId, async () => {
      const entry = this.registry.get(modelId);
      const loading = [...entry.versions.values()].find((v) => v.state === 'LOADING');
      if (loading) throw conflict(`Version ${loading.version} of '${modelId}' is still loading`);
      entry.unloaded = true;
      const versions = await Promise.all([...entry.versions.keys()].map((n) => this.registry.unloadVersion(entry, n)));
      await this.cache.clear(modelId);
      this.metrics.rolloutEvent(modelId, 'unload');
      return versions.map((v) => versionView(entry, v));
    });
  }

  /** Unloads a version; 409 for the active version or one in canary/shadow use. */
  unload(modelId: string, number: number) {
    return this.exclusive(modelId, async () => {
      const entry = this.registry.get(modelId);
      const target = this.registry.version(entry, number);
      if (target.state === 'LOADING') throw conflict(`Version ${number} is still loading`);
      if (this.registry.isPinnedDefault(modelId, number)) throw conflict(`Version ${number} is pinned by MODEL_VERSION`);
      if (entry.active === number) throw conflict(`Version ${number} is the active version of '${modelId}'; promote another first`);
      if (entry.canary?.version === number) throw conflict(`Version ${number} is in canary use; end the canary first`);
      if (entry.shadow?.version === number) throw conflict(`Version ${number} is in shadow use; end the shadow first`);
      const version = await this.registry.unloadVersion(entry, number);
      this.metrics.rolloutEvent(modelId, 'unload');
      return versionView(entry, version);
    });
  }

  /** Blue-green switch: the READY version becomes active, the previous active becomes staging. */
  promote(modelId: string, number: number) {
    return this.exclusive(modelId, async () => {
      const entry = await this.change(modelId, (e) => {
        this.serviceable(e, number);
        if (e.active === number) throw conflict(`Version ${number} is already active`);
        return promoted(e.routingState(), number);
      });
      this.metrics.rolloutEvent(modelId, 'promote');
      return this.stages(entry);
    });
  }

  /** Back to the previous active version (which must still be READY). */
  rollback(modelId: string) {
    return this.exclusive(modelId, async () => {
      const entry = await this.change(modelId, (e) => {
        if (e.previousActive === undefined) throw conflict(`Model '${modelId}' has no previous active version to roll back to`);
        this.serviceable(e, e.previousActive);
        return promoted(e.routingState(), e.previousActive);
      });
      this.metrics.rolloutEvent(modelId, 'rollback');
      return this.stages(entry);
    });
  }

  /** Starts (or replaces) a canary on a READY version other than the active one; its stats restart. */
  setCanary(modelId: string, policy: CanaryPolicy) {
    return this.exclusive(modelId, async () => {
      const entry = await this.change(modelId, (e) => {
        this.serviceable(e, policy.version);
        if (e.active === policy.version) throw conflict(`Version ${policy.version} is the active version; a canary must be another version`);
        return { ...e.routingState(), canary: policy };
      });
      // Even a canary replaced by the same policy starts counting afresh.
      entry.variants.reset();
      this.metrics.rolloutEvent(modelId, 'canary_start');
      return this.canaryStats(modelId);
    });
  }

  clearCanary(modelId: string) {
    return this.exclusive(modelId, async () => {
      let stats: ReturnType<RolloutService['canaryStats']> | undefined;
      await this.change(modelId, (e) => {
        if (!e.canary) throw new AppError(ErrorCode.NOT_FOUND, `Model '${modelId}' has no canary`);
        stats = this.canaryStats(modelId);
        return { ...e.routingState(), canary: undefined };
      });
      this.metrics.rolloutEvent(modelId, 'canary_end');
      return stats!;
    });
  }

  /** The seed's canary stats plus error rate and p50/p95 per variant. */
  canaryStats(modelId: string) {
    const entry = this.registry.get(modelId);
    return { model_id: modelId, canary: entry.canary ?? null, ...entry.variants.snapshot(entry.canary?.percentage ?? 0) };
  }

  setShadow(modelId: string, policy: ShadowPolicy) {
    return this.exclusive(modelId, async () => {
      await this.change(modelId, (e) => {
        this.serviceable(e, policy.version);
        if (e.active === policy.version) throw conflict(`Version ${policy.version} is the active version; a shadow must be another version`);
        return { ...e.routingState(), shadow: policy };
      });
      return this.shadowStats(modelId);
    });
  }

  clearShadow(modelId: string) {
    return this.exclusive(modelId, async () => {
      let stats: ReturnType<RolloutService['shadowStats']> | undefined;
      await this.change(modelId, (e) => {
        if (!e.shadow) throw new AppError(ErrorCode.NOT_FOUND, `Model '${modelId}' has no shadow`);
        stats = this.shadowStats(modelId);
        return { ...e.routingState(), shadow: undefined };
      });
      return stats!;
    });
  }

  shadowStats(modelId: string) {
    const entry = this.registry.get(modelId);
    return { model_id: modelId, shadow: entry.shadow ?? null, ...entry.variants.shadowSnapshot() };
  }

  /**
   * Ends a canary (still on `version`) whose error rate crossed its auto-abort threshold (called
   * by the prediction path). Ended here at once, whatever the shared store's state: a failing
   * canary must stop taking traffic even while Redis is down. It is then ended on this replica
   * only, and everywhere once Redis is back — unless the shared canary is no longer on `version`
   * by then (changed through another replica): that state wins.
   */
  async abortCanary(entry: ModelEntry, version: number, reason: string): Promise<void> {
    if (entry.canary?.version !== version) return;
    this.logger.warn({ event: 'canary_aborted', model_id: entry.name, canary_version: entry.canary.version, reason });
    this.metrics.rolloutEvent(entry.name, 'canary_abort');
    await this.sync.applyNowAndShare(entry.name, `the abort of canary version ${version}`, (state) => (state.canary?.version === version ? { ...state, canary: undefined } : undefined));
  }

  /** 404 for an unknown version; 409 (not a retryable 503) for one that is not READY: an operator must load it first. */
  private serviceable(entry: ModelEntry, number: number): void {
    const version = this.registry.version(entry, number);
    if (!version.ready) throw conflict(`Version ${number} of '${entry.name}' is ${version.state}; load it first`);
  }

  /**
   * One routing change: `plan` checks the model's current settings (throwing 404/409 as it sees
   * fit) and returns the new ones; made through the RegistryStateSync, planned again on the fresh
   * state when another replica changed the model meanwhile.
   */
  private async change(modelId: string, plan: (entry: ModelEntry) => ModelRoutingState): Promise<ModelEntry> {
    for (let attempt = 1; ; attempt += 1) {
      const entry = this.registry.get(modelId);
      if (await this.sync.commit(entry, plan(entry))) return entry;
      if (attempt >= COMMIT_ATTEMPTS) throw conflict(`Model '${modelId}' was changed through other replicas meanwhile (${COMMIT_ATTEMPTS} times); retry`);
    }
  }

  private stages(entry: ModelEntry) {
    return {
      model_id: entry.name,
      active_version: String(entry.active),
      staging_version: entry.staging === undefined ? null : String(entry.staging),
      previous_active_version: entry.previousActive === undefined ? null : String(entry.previousActive),
    };
  }

  /**
   * Runs after the boot-time loads and after any earlier operation on the same model, once the
   * state can be changed (503 DEPENDENCY_UNAVAILABLE while a shared store is unreachable).
   */
  private exclusive<T>(modelId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(modelId) ?? this.registry.whenLoaded();
    const guarded = async () => {
      await this.sync.ensureWritable();
      return work();
    };
    const next = previous.then(guarded, guarded);
    this.locks.set(modelId, next.catch(() => undefined));
    return next;
  }
}
