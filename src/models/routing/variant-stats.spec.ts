import { VariantStats } from './variant-stats';

describe('VariantStats', () => {
  let sut: VariantStats;

  beforeEach(() => {
    sut = new VariantStats();
  });

  it('reports zeros before any traffic, with the target passed through', () => {
    // Act
    const snapshot = sut.snapshot(10);

    // Assert
    expect(snapshot).toEqual({
      canary_requests: 0,
      stable_requests: 0,
      canary_percentage_actual: 0,
      canary_percentage_target: 10,
      total_requests: 0,
      variants: {
        stable: { requests: 0, errors: 0, error_rate: 0, p50_latency_ms: 0, p95_latency_ms: 0 },
        canary: { requests: 0, errors: 0, error_rate: 0, p50_latency_ms: 0, p95_latency_ms: 0 },
      },
    });
  });

  it('computes the actual canary share of routed requests in percent', () => {
    // Arrange
    for (let i = 0; i < 7; i += 1) sut.record('stable', true, 1);
    for (let i = 0; i < 3; i += 1) sut.record('canary', true, 1);
    sut.record('shadow', true, 1);

    // Act
    const snapshot = sut.snapshot(25);

    // Assert: shadow calls duplicate requests and stay out of the totals
    expect(snapshot.stable_requests).toBe(7);
    expect(snapshot.canary_requests).toBe(3);
    expect(snapshot.total_requests).toBe(10);
    expect(snapshot.canary_percentage_actual).toBe(30);
    expect(snapshot.canary_percentage_target).toBe(25);
  });

  it('rounds the actual share to four decimals', () => {
    // Arrange
    sut.record('canary', true, 1);
    sut.record('stable', true, 1);
    sut.record('stable', true, 1);

    // Act
    const snapshot = sut.snapshot(33);

    // Assert
    expect(snapshot.canary_percentage_actual).toBe(33.3333);
  });

  it('counts errors and the error rate per variant', () => {
    // Arrange
    for (let i = 0; i < 8; i += 1) sut.record('canary', i % 4 !== 0, 5);
    for (let i = 0; i < 10; i += 1) sut.record('stable', true, 5);

    // Act
    const { variants } = sut.snapshot(50);

    // Assert
    expect(variants.canary).toMatchObject({ requests: 8, errors: 2, error_rate: 0.25 });
    expect(variants.stable).toMatchObject({ requests: 10, errors: 0, error_rate: 0 });
    expect(sut.counts('canary')).toEqual({ requests: 8, errors: 2 });
  });

  it('reports nearest-rank p50 and p95 latency', () => {
    // Arrange: 1..100 ms in shuffled order
    const latencies = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1);
    for (const ms of latencies) sut.record('stable', true, ms);

    // Act
    const { stable } = sut.snapshot(0).variants;

    // Assert
    expect(stable.p50_latency_ms).toBe(50);
    expect(stable.p95_latency_ms).toBe(95);
  });

  it('keeps only the last 1,000 latencies for the percentiles, but counts every request', () => {
    // Arrange: 1..1500 ms, so the window holds 501..1500
    for (let ms = 1; ms <= 1500; ms += 1) sut.record('canary', true, ms);

    // Act
    const { canary } = sut.snapshot(10).variants;

    // Assert
    expect(canary.requests).toBe(1500);
    expect(canary.p50_latency_ms).toBe(1000);
    expect(canary.p95_latency_ms).toBe(1450);
  });

  it('honours a custom window size', () => {
    // Arrange
    const small = new VariantStats(4);
    for (const ms of [100, 100, 100, 1, 2, 3, 4]) small.record('stable', true, ms);

    // Act
    const { stable } = small.snapshot(0).variants;

    // Assert
    expect(stable.p95_latency_ms).toBe(4);
    expect(stable.p50_latency_ms).toBe(2);
  });

  it('keeps non-finite latencies out of the percentiles', () => {
    // Arrange
    sut.record('stable', true, 10);
    sut.record('stable', false, NaN);

    // Act
    const { stable } = sut.snapshot(0).variants;

    // Assert
    expect(stable).toMatchObject({ requests: 2, errors: 1, p50_latency_ms: 10, p95_latency_ms: 10 });
  });

  it('adds the shadow block once shadow traffic is recorded', () => {
    // Arrange
    for (let i = 0; i < 4; i += 1) sut.record('shadow', i !== 3, 20);
    sut.recordAgreement(true);
    sut.recordAgreement(true);
    sut.recordAgreement(false);

    // Act
    const snapshot = sut.snapshot(0);

    // Assert
    expect(snapshot.shadow).toEqual({
      requests: 4,
      errors: 1,
      error_rate: 0.25,
      p50_latency_ms: 20,
      p95_latency_ms: 20,
      agreement_rate: 0.6667,
      compared: 3,
    });
  });

  it('reports a null agreement rate before any comparison', () => {
    // Act
    const shadow = sut.shadowSnapshot();

    // Assert
    expect(shadow).toMatchObject({ requests: 0, agreement_rate: null, compared: 0 });
    expect(sut.snapshot(0).shadow).toBeUndefined();
  });

  it('forgets everything on reset', () => {
    // Arrange
    sut.record('stable', false, 3);
    sut.record('canary', true, 4);
    sut.record('shadow', true, 5);
    sut.recordAgreement(true);

    // Act
    sut.reset();

    // Assert
    expect(sut.snapshot(5)).toEqual(new VariantStats().snapshot(5));
    expect(sut.shadowSnapshot().compared).toBe(0);
  });

  it('rejects a window size that is not a positive integer', () => {
    // Act / Assert
    expect(() => new VariantStats(0)).toThrow(RangeError);
    expect(() => new VariantStats(1.5)).toThrow(RangeError);
  });
});
