import { DEGRADED_ERROR_RATE, ModelStats } from './model-stats';

function recordMany(sut: ModelStats, count: number, ok: boolean, latencyMs = 1): void {
  for (let i = 0; i < count; i += 1) sut.record(ok, latencyMs);
}

describe('ModelStats', () => {
  it('starts healthy with zeroes', () => {
    // Arrange
    const sut = new ModelStats(10);

    // Act
    const metrics = sut.getHealthMetrics(new Date('2024-01-02T03:04:05.000Z'));

    // Assert
    expect(metrics).toEqual({
      status: 'healthy',
      total_requests: 0,
      error_count: 0,
      error_rate: 0,
      avg_latency_ms: 0,
      p95_latency_ms: 0,
      window_requests: 0,
      last_check: new Date('2024-01-02T03:04:05.000Z'),
    });
  });

  it('counts requests and errors', () => {
    // Arrange
    const sut = new ModelStats(10);

    // Act
    recordMany(sut, 5, true);
    recordMany(sut, 2, false);

    // Assert
    const metrics = sut.getHealthMetrics();
    expect(metrics.total_requests).toBe(7);
    expect(metrics.error_count).toBe(2);
    expect(metrics.window_requests).toBe(7);
  });

  it('averages the latency of every request since boot, failures included', () => {
    // Arrange
    const sut = new ModelStats(2);

    // Act
    sut.record(true, 10);
    sut.record(false, 20);
    sut.record(true, 60);

    // Assert
    expect(sut.getHealthMetrics().avg_latency_ms).toBe(30);
  });

  it('rounds to four decimals', () => {
    // Arrange
    const sut = new ModelStats(10);

    // Act
    sut.record(true, 1);
    sut.record(true, 1);
    sut.record(true, 2);

    // Assert
    expect(sut.getHealthMetrics().avg_latency_ms).toBe(1.3333);
  });

  it('takes p95 over the window by nearest rank', () => {
    // Arrange
    const sut = new ModelStats(20);

    // Act
    for (const ms of [20, 3, 17, 1, 9, 14, 5, 12, 2, 19, 7, 11, 4, 16, 8, 13, 6, 15, 10, 18]) sut.record(true, ms);

    // Assert
    expect(sut.getHealthMetrics().p95_latency_ms).toBe(19);
  });

  it('forgets latencies that left the window for p95, not for the average', () => {
    // Arrange
    const sut = new ModelStats(10);
    recordMany(sut, 10, true, 1000);

    // Act
    recordMany(sut, 10, true, 5);

    // Assert
    const metrics = sut.getHealthMetrics();
    expect(metrics.p95_latency_ms).toBe(5);
    expect(metrics.avg_latency_ms).toBe(502.5);
    expect(metrics.window_requests).toBe(10);
    expect(metrics.total_requests).toBe(20);
  });

  it('stays healthy just below the degraded error rate', () => {
    // Arrange
    const sut = new ModelStats(20);

    // Act
    recordMany(sut, 19, true);
    recordMany(sut, 1, false);

    // Assert
    const metrics = sut.getHealthMetrics();
    expect(metrics.error_rate).toBe(0.05);
    expect(metrics.status).toBe('healthy');
  });

  it('is degraded at an error rate of exactly 0.1 over the window', () => {
    // Arrange
    const sut = new ModelStats(10);

    // Act
    recordMany(sut, 9, true);
    recordMany(sut, 1, false);

    // Assert
    const metrics = sut.getHealthMetrics();
    expect(metrics.error_rate).toBe(DEGRADED_ERROR_RATE);
    expect(metrics.status).toBe('degraded');
  });

  it('judges a partly filled window by the requests it holds', () => {
    // Arrange
    const sut = new ModelStats(10);

    // Act
    sut.record(false, 1);

    // Assert
    const metrics = sut.getHealthMetrics();
    expect(metrics.window_requests).toBe(1);
    expect(metrics.error_rate).toBe(1);
    expect(metrics.status).toBe('degraded');
  });

  it('returns to healthy once the window fills with successes, keeping the error count since boot', () => {
    // Arrange
    const sut = new ModelStats(10);
    recordMany(sut, 5, false);
    recordMany(sut, 9, true);
    expect(sut.getHealthMetrics().status).toBe('degraded');

    // Act
    recordMany(sut, 1, true);

    // Assert
    const metrics = sut.getHealthMetrics();
    expect(metrics.status).toBe('healthy');
    expect(metrics.error_rate).toBe(0);
    expect(metrics.error_count).toBe(5);
    expect(metrics.total_requests).toBe(15);
  });

  it('turns degraded again when failures come back after a healthy spell', () => {
    // Arrange
    const sut = new ModelStats(10);
    recordMany(sut, 25, true);

    // Act
    recordMany(sut, 2, false);

    // Assert
    const metrics = sut.getHealthMetrics();
    expect(metrics.error_rate).toBe(0.2);
    expect(metrics.status).toBe('degraded');
  });
});
