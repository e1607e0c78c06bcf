/** The seed's `get_health_metrics()` fields, for one model version. */
export interface HealthMetrics {
  status: 'healthy' | 'degraded';
  total_requests: number;
  error_count: number;
  error_rate: number;
  avg_latency_ms: number;
  p95_latency_ms: number;
  window_requests: number;
  /** Written per SERIALIZATION_PRESET, like every date in a response. */
  last_check: Date;
}

/** Error rate at or above which a model is `degraded` (the seed's threshold). */
export const DEGRADED_ERROR_RATE = 0.1;

/**
 * The monitoring half of the seed's ProductionModelWrapper: counters since boot, plus a sliding
 * window of the most recent outcomes so that status reflects now, not the process's whole life.
 */
export class ModelStats {
  private totalRequests = 0;
  private errorCount = 0;
  private totalLatencyMs = 0;
  private readonly latencies: Float64Array;
  private readonly failures: Uint8Array;
  private cursor = 0;
  private filled = 0;

  constructor(private readonly windowSize = 500) {
    this.latencies = new Float64Array(windowSize);
    this.failures = new Uint8Array(windowSize);
  }

  /** Records one request's outcome and latency in milliseconds. */
  record(ok: boolean, latencyMs: number): void {
    this.totalRequests += 1;
    this.totalLatencyMs += latencyMs;
    if (!ok) this.errorCount += 1;
    this.latencies[this.cursor] = latencyMs;
    this.failures[this.cursor] = ok ? 0 : 1;
    this.cursor = (this.cursor + 1) % this.windowSize;
    this.filled = Math.min(this.filled + 1, this.windowSize);
  }

  /** Health over the window (status, error_rate, p95) and totals since boot. */
  getHealthMetrics(now = new Date()): HealthMetrics {
    const window = this.filled;
    let failures = 0;
    for (let i = 0; i < window; i += 1) failures += this.failures[i];
    const errorRate = window === 0 ? 0 : failures / window;
    const sorted = Array.from(this.latencies.subarray(0, window)).sort((a, b) => a - b);
    const p95 = window === 0 ? 0 : sorted[Math.min(window - 1, Math.ceil(window * 0.95) - 1)];
    return {
      status: errorRate < DEGRADED_ERROR_RATE ? 'healthy' : 'degraded',
      total_requests: this.totalRequests,
      error_count: this.errorCount,
      error_rate: round(errorRate),
      avg_latency_ms: round(this.totalRequests === 0 ? 0 : this.totalLatencyMs / this.totalRequests),
      p95_latency_ms: round(p95),
      window_requests: window,
      last_check: now,
    };
  }
}

const round = (n: number): number => Math.round(n * 10000) / 10000;
