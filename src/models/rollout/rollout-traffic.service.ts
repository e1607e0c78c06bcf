import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Span } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';

import { endSpan, failSpan, linkedRootSpan, linkTarget } from '../../common/observability/trace-spans';
import { AllConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { ModelEntry } from '../registry/model-entry';
import { Route } from '../registry/model-registry.service';
import { agrees, shouldAbortCanary, shouldShadow } from '../routing/routing-policy';
import { NamedTensors } from '../tensors/tensor';
import { postprocess } from '../wrapper/postprocess';
import { withTimeout } from '../wrapper/with-timeout';
import { RolloutService } from './rollout.service';

/**
 * What the prediction path reports to the rollout: routed-variant counts and latency, canary
 * auto-abort, and shadow traffic — sent after the caller's answer, never delaying or failing it.
 */
@Injectable()
export class RolloutTrafficService {
  private readonly timeoutMs: number;

  constructor(private readonly rollout: RolloutService, private readonly metrics: MetricsService, config: ConfigService<AllConfig, true>) {
    this.timeoutMs = config.getOrThrow('models.timeoutMs', { infer: true });
  }

  /**
   * Records one routed request's outcome; a canary over its error budget is aborted. Outcomes of
   * a canary that has since been replaced or ended are not held against the current one.
   */
  observe(route: Route, ok: boolean, ms: number): void {
    this.metrics.routedRequest(route.entry.name, route.version.version, route.variant);
    const { entry } = route;
    // A canary replaced since (even on the same version, e.g. a new percentage) restarted its stats: not held against it.
    if (route.variant === 'pinned' || (route.variant === 'canary' && entry.canary !== route.canary)) return;
    entry.variants.record(route.variant, ok, ms);
    const canary = entry.canary;
    if (route.variant === 'canary' && canary?.auto_abort && shouldAbortCanary(entry.variants.counts('canary'), canary.auto_abort)) {
      const { requests, errors } = entry.variants.counts('canary');
      void this.rollout.abortCanary(entry, canary.version, `error rate ${(errors / requests).toFixed(3)} over ${requests} requests exceeds ${canary.auto_abort.max_error_rate}`);
    }
  }

  /**
   * For the shadow's share of stable requests, re-runs the inputs on the shadow version once the
   * answer is out, and compares the two answers as /predict post-processes them (the entry's
   * output kind and labels). `stable` are the stable version's outputs for `inputs`; they are
   * read, never changed (they may be the cache's value). `caller`: the request's `predict` span;
   * when it is recorded, the shadow run gets a `shadow` span of its own, the root of a new trace
   * with a link to the caller (never its child: the shadow is not part of the caller's latency).
   */
  shadow(route: Route, inputs: NamedTensors, stable: NamedTensors, caller?: Span): void {
    const { entry } = route;
    const policy = entry.shadow;
    if (route.variant !== 'stable' || !policy || !shouldShadow(policy)) return;
    const version = entry.versions.get(policy.version);
    if (!version?.ready) return;
    // Read now: by the time the shadow runs, the caller's span has ended.
    const link = caller && linkTarget(caller);
    setImmediate(() => {
      const start = performance.now();
      const span = link && linkedRootSpan(link, 'shadow', { 'model.id': entry.name, 'model.version': String(policy.version), 'model.variant': 'shadow' });
      withTimeout(version.run(inputs, undefined, span), this.timeoutMs).then(
        (outputs) => {
          const agree = answersAgree(entry, stable, outputs);
          entry.variants.record('shadow', true, performance.now() - start);
          entry.variants.recordAgreement(agree);
          this.metrics.shadowCompared(entry.name, agree);
          this.metrics.routedRequest(entry.name, policy.version, 'shadow');
          if (span) {
            span.setAttribute('shadow.agree', agree);
            endSpan(span);
          }
        },
        (error: unknown) => {
          entry.variants.record('shadow', false, performance.now() - start);
          if (span) {
            failSpan(span, error);
            endSpan(span);
          }
        },
      );
    });
  }
}

/**
 * One request's agreement: every prediction of the shadow's answer (one per row for tabular
 * models, one for the whole request for raw ones) agrees with the stable answer's.
 */
function answersAgree(entry: ModelEntry, stable: NamedTensors, shadow: NamedTensors): boolean {
  const labels = entry.manifest?.labels;
  const expected = postprocess(entry.outputKind, stable, labels);
  const actual = postprocess(entry.outputKind, shadow, labels);
  return expected.length === actual.length && expected.every((p, i) => agrees(p, actual[i]));
}
