import { ModelManifest } from '../repository/model-manifest';
import { CanaryPolicy, ShadowPolicy } from '../routing/routing-policy';
import { VariantStats } from '../routing/variant-stats';
import { OutputKind, outputKindOf } from '../wrapper/postprocess';
import { ModelVersion } from './model-version';
import { ModelRoutingState } from './state/registry-state';

/** A model in the registry: its manifest (or why it has none), versions and stages. */
export class ModelEntry {
  readonly versions = new Map<number, ModelVersion>();
  /** Per-variant traffic, errors and latency (stable / canary / shadow), reset when a canary starts. */
  readonly variants = new VariantStats();
  active: number | undefined;
  staging: number | undefined;
  /** The active version before the last promotion, for rollback. */
  previousActive: number | undefined;
  canary: CanaryPolicy | undefined;
  shadow: ShadowPolicy | undefined;
  /** Unloaded on purpose (the V2 repository API): not serving, and not counted against readiness. */
  unloaded = false;

  constructor(readonly name: string, readonly manifest: ModelManifest | undefined, readonly error?: string) {}

  /**
   * Why the model has no version to serve, naming each failed version's reason, or undefined when
   * it has one (or has versions still loading): what /models and /health report for it.
   */
  unservableReason(): string | undefined {
    if (this.error) return this.error;
    const versions = [...this.versions.values()];
    if (versions.length === 0) return 'no versions (no numbered version folder)';
    if (versions.some((v) => v.ready || v.state === 'LOADING')) return undefined;
    const failed = versions.filter((v) => v.state === 'FAILED');
    return failed.length ? failed.map((v) => `version ${v.version}: ${v.reason}`).join('; ') : undefined;
  }

  /** Every version was tried and failed (or model.json did): FAILED rather than merely UNAVAILABLE. */
  get failed(): boolean {
    const versions = [...this.versions.values()];
    return this.error !== undefined || (versions.length > 0 && versions.every((v) => v.state === 'FAILED'));
  }

  get outputKind(): OutputKind {
    return this.manifest ? outputKindOf(this.manifest) : 'raw';
  }

  get features(): string[] | undefined {
    return this.manifest?.features;
  }

  /** The rollout settings to persist. */
  routingState(): ModelRoutingState {
    return { active: this.active, staging: this.staging, previous_active: this.previousActive, canary: this.canary, shadow: this.shadow };
  }

  /**
   * Restores persisted settings, keeping only versions that exist in the repository (a state file
   * may name versions that were since removed). Returns what was dropped, for the log.
   */
  applyState(state: ModelRoutingState): string[] {
    const dropped: string[] = [];
    const keep = (v: number | undefined, what: string): number | undefined => {
      if (v === undefined || this.versions.has(v)) return v;
      dropped.push(`${what} version ${v} is not in the repository`);
      return undefined;
    };
    this.active = keep(state.active, 'active') ?? this.active;
    this.staging = keep(state.staging, 'staging');
    this.previousActive = keep(state.previous_active, 'previous active');
    this.canary = state.canary && keep(state.canary.version, 'canary') !== undefined ? state.canary : undefined;
    this.shadow = state.shadow && keep(state.shadow.version, 'shadow') !== undefined ? state.shadow : undefined;
    return dropped;
  }

  /** The version a model starts on: model.json `stages.active` when READY, else the highest READY version. */
  initialActive(): number | undefined {
    const declared = this.manifest?.stages?.active;
    return declared !== undefined && this.versions.get(declared)?.ready ? declared : this.highestReady();
  }

  /** The highest READY version; the default active stage when model.json names none. */
  highestReady(): number | undefined {
    return [...this.versions.values()].filter((v) => v.ready).map((v) => v.version).sort((a, b) => b - a)[0];
  }
}
