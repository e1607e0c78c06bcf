import { performance } from 'node:perf_hooks';

/**
 * The clock of the statistics extension (Triton's `/stats`): a monotonic reading in nanoseconds
 * for durations and the wall clock in milliseconds for `last_inference`. A port so that specs
 * pin both; the server uses {@link MonotonicStatsClock}.
 */
export abstract class StatsClock {
  /** Nanoseconds since an arbitrary origin; only differences mean anything. Never goes back. */
  abstract nowNs(): number;
  /** Milliseconds since the Unix epoch (Triton's `last_inference`). */
  abstract epochMs(): number;
}

/**
 * The monotonic clock (`performance.now()`, process.hrtime's clock) in nanoseconds since the
 * process started. A double of milliseconds keeps well under a nanosecond of precision for years
 * of uptime and, unlike `process.hrtime.bigint()`, allocates nothing per reading (the data plane
 * and the batcher read it several times per request).
 */
export class MonotonicStatsClock extends StatsClock {
  nowNs(): number {
    return Math.round(performance.now() * 1e6);
  }

  epochMs(): number {
    return Date.now();
  }
}
