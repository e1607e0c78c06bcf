/** The variants whose traffic is counted; `pinned` requests are outside any rollout and are not. */
export type TrackedVariant = 'stable' | 'canary' | 'shadow';

/** One variant's counters since the last reset; latency percentiles over the recent window. */
export interface VariantSnapshot {
  requests: number;
  errors: number;
  /** errors / requests, 0 when there were no requests. */
  error_rate: number;
  p50_latency_ms: number;
  p95_latency_ms: number;
}

export interface ShadowSnapshot extends VariantSnapshot {
  /** Share (0..1) of compared shadow answers that agreed with the stable one; null before any comparison. */
  agreement_rate: number | null;
  /** How many shadow answers were compared with the stable one (failed shadow calls are not). */
  compared: number;
}

/** The seed's canary stats, plus error rate and latency per variant (and the shadow, once it has traffic). */
export interface CanaryStatsSnapshot {
  canary_requests: number;
  stable_requests: number;
  /** canary share of routed (stable + canary) requests, in percent. */
  canary_percentage_actual: number;
  canary_percentage_target: number;
  /** stable + canary; shadow calls duplicate requests and are not counted here. */
  total_requests: number;
  variants: { stable: VariantSnapshot; canary: VariantSnapshot };
  shadow?: ShadowSnapshot;
}

/** Default number of most recent latencies kept per variant for the percentiles. */
export const LATENCY_WINDOW = 1000;

const round = (n: number): number => Math.round(n * 10000) / 10000;

/** Nearest-rank percentile of an ascending list; 0 for an empty one. */
function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * q) - 1))];
}

/** Requests, errors and a ring buffer of the last `windowSize` latencies for one variant. */
class VariantCounter {
  requests = 0;
  errors = 0;
  private readonly latencies: Float64Array;
  private cursor = 0;
  private filled = 0;

  constructor(private readonly windowSize: number) {
    this.latencies = new Float64Array(windowSize);
  }

  record(ok: boolean, latencyMs: number): void {
    this.requests += 1;
    if (!ok) this.errors += 1;
    // A bad clock reading must not poison the percentiles of the whole window.
    if (!Number.isFinite(latencyMs)) return;
    this.latencies[this.cursor] = Math.max(0, latencyMs);
    this.cursor = (this.cursor + 1) % this.windowSize;
    this.filled = Math.min(this.filled + 1, this.windowSize);
  }

  snapshot(): VariantSnapshot {
    const sorted = this.latencies.slice(0, this.filled).sort();
    return {
      requests: this.requests,
      errors: this.errors,
      error_rate: round(this.requests === 0 ? 0 : this.errors / this.requests),
      p50_latency_ms: round(percentile(sorted, 0.5)),
      p95_latency_ms: round(percentile(sorted, 0.95)),
    };
  }
}

/**
 * Traffic statistics of one model's rollout: requests, errors and latency per variant (stable,
 * canary, shadow) and how often the shadow agreed with the stable answer. Counters run since
 * construction or the last `reset()` (call it when a new canary starts); latency percentiles are
 * over the last `windowSize` requests of each variant. Not shared across replicas.
 */
export class VariantStats {
  private counters: Record<TrackedVariant, VariantCounter>;
  private agreed = 0;
  private compared = 0;

  constructor(private readonly windowSize = LATENCY_WINDOW) {
    if (!Number.isInteger(windowSize) || windowSize < 1) throw new RangeError(`windowSize must be a positive integer, got ${windowSize}`);
    this.counters = this.freshCounters();
  }

  /** Records one request served by `variant`: whether it succeeded and its latency in milliseconds. */
  record(variant: TrackedVariant, ok: boolean, latencyMs: number): void {
    this.counters[variant].record(ok, latencyMs);
  }

  /** Records whether a (successful) shadow answer agreed with the stable one. */
  recordAgreement(agree: boolean): void {
    this.compared += 1;
    if (agree) this.agreed += 1;
  }

  /** Requests and errors of one variant, the input of `shouldAbortCanary`. */
  counts(variant: TrackedVariant): { requests: number; errors: number } {
    const { requests, errors } = this.counters[variant];
    return { requests, errors };
  }

  /**
   * The canary stats for `targetPercentage` (the configured canary percentage, 0..100).
   * `shadow` is present only once shadow traffic has been recorded.
   */
  snapshot(targetPercentage: number): CanaryStatsSnapshot {
    const stable = this.counters.stable.snapshot();
    const canary = this.counters.canary.snapshot();
    const total = stable.requests + canary.requests;
    const snapshot: CanaryStatsSnapshot = {
      canary_requests: canary.requests,
      stable_requests: stable.requests,
      canary_percentage_actual: round(total === 0 ? 0 : (canary.requests / total) * 100),
      canary_percentage_target: targetPercentage,
      total_requests: total,
      variants: { stable, canary },
    };
    if (this.counters.shadow.requests > 0 || this.compared > 0) snapshot.shadow = this.shadowSnapshot();
    return snapshot;
  }

  /** The shadow's counters, latency and agreement, whether or not it has had traffic yet. */
  shadowSnapshot(): ShadowSnapshot {
    return {
      ...this.counters.shadow.snapshot(),
      agreement_rate: this.compared === 0 ? null : round(this.agreed / this.compared),
      compared: this.compared,
    };
  }

  /** Forgets everything recorded so far. */
  reset(): void {
    this.counters = this.freshCounters();
    this.agreed = 0;
    this.compared = 0;
  }

  private freshCounters(): Record<TrackedVariant, VariantCounter> {
    return {
      stable: new VariantCounter(this.windowSize),
      canary: new VariantCounter(this.windowSize),
      shadow: new VariantCounter(this.windowSize),
    };
  }
}
