import { Injectable, Logger } from '@nestjs/common';

import { AdminAudit, AdminAuditEvent } from '../../common/observability/admin-audit';
import { MetricsService } from '../../metrics/metrics.service';
import { ModelRegistryService } from '../../models/registry/model-registry.service';

/**
 * The audit trail of admin actions: one structured `audit` log event per call (info, in the
 * `Audit` context) and `ml_admin_actions_total{action,outcome}`.
 */
@Injectable()
export class AuditTrail extends AdminAudit {
  private readonly logger = new Logger('Audit');

  constructor(private readonly metrics: MetricsService, private readonly registry: ModelRegistryService) {
    super();
  }

  record(event: AdminAuditEvent): void {
    this.metrics.adminAction(event.action, event.outcome);
    this.logger.log({ audit: true, ...event }, 'audit');
  }

  /** A model's rollout state for the record: stages, canary, shadow, each version's state; null for a model the registry does not know. */
  stateOf(modelId: string | null): unknown {
    const entry = modelId === null ? undefined : this.registry.list().find((e) => e.name === modelId);
    if (!entry) return null;
    return {
      ...entry.routingState(),
      unloaded: entry.unloaded,
      failed: entry.error ?? null,
      versions: Object.fromEntries([...entry.versions].map(([n, v]) => [String(n), v.state])),
    };
  }
}
