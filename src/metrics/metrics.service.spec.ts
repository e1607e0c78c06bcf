import { ConfigService } from '@nestjs/config';

import { AllConfig, buildConfig } from '../config/app-config';
import { MetricsService } from './metrics.service';

const configWith = (env: Record<string, string>) => {
  const config = buildConfig(env);
  return new ConfigService<AllConfig, true>(config as unknown as Record<string, unknown>);
};

/** The value of one sample line of the exposition, 0 when absent. */
const sampleOf = (text: string, line: string): number => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
};

describe('MetricsService', () => {
  it('counts each model version in its own series, bound once and reused', async () => {
    // Arrange
    const sut = new MetricsService(configWith({}));

    // Act
    sut.observePrediction('iris', 2, 'success', 0.001);
    sut.observePrediction('iris', 2, 'success', 0.002);
    sut.observePrediction('iris', 2, 'error', 0.003);
    sut.observePrediction('iris', 1, 'success', 0.004);
    sut.observeHttp('POST', '/predict', 200, 0.005);
    sut.observeHttp('POST', '/predict', 200, 0.006);
    sut.observeHttp('POST', '/predict', 422, 0.007);
    const text = await sut.exposition();

    // Assert
    expect(sampleOf(text, 'ml_prediction_requests_total{model_id="iris",model_version="2",status="success"}')).toBe(2);
    expect(sampleOf(text, 'ml_prediction_requests_total{model_id="iris",model_version="2",status="error"}')).toBe(1);
    expect(sampleOf(text, 'ml_prediction_requests_total{model_id="iris",model_version="1",status="success"}')).toBe(1);
    expect(sampleOf(text, 'ml_prediction_latency_seconds_count{model_id="iris",model_version="2"}')).toBe(3);
    expect(sampleOf(text, 'http_requests_total{method="POST",route="/predict",status_code="200"}')).toBe(2);
    expect(sampleOf(text, 'http_requests_total{method="POST",route="/predict",status_code="422"}')).toBe(1);
    expect(sampleOf(text, 'http_request_duration_seconds_count{method="POST",route="/predict"}')).toBe(3);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('collects nothing with ENABLE_METRICS=false: no process metrics, no samples from any method', async () => {
    // Arrange
    const sut = new MetricsService(configWith({ ENABLE_METRICS: 'false' }));

    // Act
    sut.observePrediction('iris', 2, 'success', 0.001);
    sut.predictionError('iris', 2, 'inference');
    sut.observeHttp('POST', '/predict', 200, 0.005);
    sut.observeBatch('iris', 2, 4);
    sut.observeQueueWait('iris', 2, 0.001);
    sut.setQueueDepth('iris', 2, 3);
    sut.cacheLookup('iris', true);
    sut.rateLimit('minute');
    sut.memoryShed();
    sut.routedRequest('iris', 2, 'stable');
    sut.shadowCompared('iris', true);
    sut.rolloutEvent('iris', 'promote');
    const text = await sut.exposition();

    // Assert
    expect(sut.enabled).toBe(false);
    expect(text).not.toContain('process_cpu_user_seconds_total');
    // A counter without labels shows its initial 0; nothing counted anything.
    expect(text.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.endsWith(' 0'))).toEqual([]);
  });
});
