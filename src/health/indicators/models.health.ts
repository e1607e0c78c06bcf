import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

import { ModelEntry } from '../../models/registry/model-entry';
import { ModelRegistryService } from '../../models/registry/model-registry.service';
import { RegistryStateSync } from '../../models/registry/registry-state-sync.service';

/** Why a model's active version cannot serve, or undefined when it can. */
export function notServing(entry: ModelEntry): string | undefined {
  if (entry.error) return `FAILED: ${entry.error}`;
  if (entry.unloaded) return 'unloaded (V2 repository API)';
  if (entry.active === undefined) {
    const why = entry.unservableReason();
    return why ? `${entry.failed ? 'FAILED' : 'not serving'}: ${why}` : 'no loadable version';
  }
  const active = entry.versions.get(entry.active);
  if (!active?.ready) return `active version ${entry.active} is ${active?.state ?? 'missing'}${active?.reason ? `: ${active.reason}` : ''}`;
  return undefined;
}

/** Terminus indicators over the model registry. */
@Injectable()
export class ModelsHealthIndicator {
  constructor(
    private readonly registry: ModelRegistryService,
    private readonly health: HealthIndicatorService,
    private readonly sync: RegistryStateSync,
  ) {}

  /**
   * One indicator per model for the full report: up with `health: healthy|degraded` and the
   * seed's metrics (a degraded model is reported, not failed); down when it cannot serve.
   */
  perModel(): HealthIndicatorResult[] {
    return this.registry.list().map((entry) => {
      const session = this.health.check(`model:${entry.name}`);
      if (entry.unloaded) return session.up({ health: 'unloaded' });
      const problem = notServing(entry);
      if (problem) return session.down({ message: problem });
      const metrics = entry.versions.get(entry.active!)!.stats.getHealthMetrics();
      const { status: health, ...rest } = metrics;
      return session.up({ health, active_version: String(entry.active), ...rest });
    });
  }

  /**
   * Readiness with REDIS_URL: the replica has read the deployment's registry state once since it
   * started (until then it would serve model.json defaults). A later Redis outage does not fail
   * it: the last known state is the deployment's, and predictions are served.
   */
  stateSynced(): HealthIndicatorResult {
    const session = this.health.check('registry_state');
    const where = this.sync.sharedLocation ?? 'the state file';
    return this.sync.hasSynced ? session.up({ store: where }) : session.down({ store: where, message: `not yet read from ${where} since this replica started` });
  }

  /** True when replicas share the registry state (REDIS_URL): readiness then includes {@link stateSynced}. */
  get stateShared(): boolean {
    return this.sync.isShared;
  }

  /** Readiness: every model's active version is loaded and warmed up (strict, like Triton's default). */
  allActiveReady(): HealthIndicatorResult {
    const session = this.health.check('models');
    // A model unloaded on purpose is not expected to serve (Triton's readiness counts the models it should serve).
    const problems = Object.fromEntries(this.registry.list().filter((e) => !e.unloaded).flatMap((e) => {
      const p = notServing(e);
      return p ? [[e.name, p]] : [];
    }));
    const count = this.registry.list().filter((e) => !e.unloaded).length;
    return Object.keys(problems).length ? session.down({ not_ready: problems }) : session.up({ ready: count });
  }
}
