/**
 * The clock of the statistics extension (Triton's `/stats`): a monotonic reading in nanoseconds
 * for durations and the wall clock in milliseconds for `last_inference`. A port so that specs
 * pin both; the server uses {@link HrtimeStatsClock}.
 */
export abstract class StatsClock {
  /** Nanoseconds since an arbitrary origin; only differences mean anything. Never goes back. */
  abstract nowNs(): number;
  /** Milliseconds since the Unix epoch (Triton's `last_inference`). */
  abstract epochMs(): number;
}

/**
 * `process.hrtime.bigint()` relative to when this clock was made, as a Number: exact to the
 * nanosecond for 104 days of uptime (2^53 ns), and off by a few ns at most after that. The
 * origin keeps the reading small: the raw value counts from the machine's boot.
 */
export class HrtimeStatsClock extends StatsClock {
  private readonly origin = process.hrtime.bigint();

  nowNs(): number {
    return Number(process.hrtime.bigint() - this.origin);
  }

  epochMs(): number {
    return Date.now();
  }
}
