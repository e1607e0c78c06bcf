import { ConfigService } from '@nestjs/config';

import { AllConfig, buildConfig } from '../config/app-config';
import { MetricsService, ModelStateSample } from './metrics.service';

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

  it('keeps counting across scrapes and hands every increment over to a JSON read (what cluster aggregation reads)', async () => {
    // Arrange
    const sut = new MetricsService(configWith({}));
    const line = 'http_requests_total{method="POST",route="/predict",status_code="200"}';
    sut.observeHttp('POST', '/predict', 200, 0.001);
    sut.cacheLookup('iris', false);
    const first = await sut.exposition();

    // Act
    sut.observeHttp('POST', '/predict', 200, 0.001);
    sut.observeHttp('POST', '/predict', 200, 0.001);
    sut.cacheLookup('iris', false);
    sut.routedRequest('iris', 2, 'stable');
    const second = await sut.exposition();
    sut.observeHttp('POST', '/predict', 200, 0.001);
    const json = await sut.registry.getMetricsAsJSON();

    // Assert
    expect(sampleOf(first, line)).toBe(1);
    expect(sampleOf(second, line)).toBe(3);
    expect(sampleOf(second, 'ml_cache_misses_total{model_id="iris"}')).toBe(2);
    expect(sampleOf(second, 'ml_routed_requests_total{model_id="iris",model_version="2",variant="stable"}')).toBe(1);
    const requests = json.find((m) => m.name === 'http_requests_total')!.values;
    expect(requests).toEqual([expect.objectContaining({ value: 4, labels: { method: 'POST', route: '/predict', status_code: '200' } })]);
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

describe('MetricsService metric families', () => {
  let sut: MetricsService;

  beforeEach(() => {
    sut = new MetricsService(configWith({}));
  });

  it('counts failed predictions by model, version and reason', async () => {
    // Act
    sut.predictionError('iris', 2, 'validation');
    sut.predictionError('iris', 2, 'validation');
    sut.predictionError('iris', 1, 'timeout');
    sut.predictionError('penguins', 1, 'overload');
    sut.predictionError('penguins', 1, 'inference');
    const text = await sut.exposition();

    // Assert
    expect(sampleOf(text, 'ml_prediction_errors_total{model_id="iris",model_version="2",reason="validation"}')).toBe(2);
    expect(sampleOf(text, 'ml_prediction_errors_total{model_id="iris",model_version="1",reason="timeout"}')).toBe(1);
    expect(sampleOf(text, 'ml_prediction_errors_total{model_id="penguins",model_version="1",reason="overload"}')).toBe(1);
    expect(sampleOf(text, 'ml_prediction_errors_total{model_id="penguins",model_version="1",reason="inference"}')).toBe(1);
  });

  it('buckets prediction and HTTP latency from 0.5 ms to 10 s', async () => {
    // Act
    sut.observePrediction('iris', 2, 'success', 0.0004);
    sut.observePrediction('iris', 2, 'success', 11);
    sut.observeHttp('GET', '/models/:id', 200, 0.003);
    const text = await sut.exposition();

    // Assert
    expect(sampleOf(text, 'ml_prediction_latency_seconds_bucket{le="0.0005",model_id="iris",model_version="2"}')).toBe(1);
    expect(sampleOf(text, 'ml_prediction_latency_seconds_bucket{le="10",model_id="iris",model_version="2"}')).toBe(1);
    expect(sampleOf(text, 'ml_prediction_latency_seconds_bucket{le="+Inf",model_id="iris",model_version="2"}')).toBe(2);
    expect(sampleOf(text, 'ml_prediction_latency_seconds_sum{model_id="iris",model_version="2"}')).toBeCloseTo(11.0004, 6);
    expect(sampleOf(text, 'http_request_duration_seconds_bucket{le="0.0025",method="GET",route="/models/:id"}')).toBe(0);
    expect(sampleOf(text, 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/models/:id"}')).toBe(1);
  });

  it('counts gRPC calls by service, method and status code, and times them', async () => {
    // Act
    sut.observeRpc('inference.GRPCInferenceService', 'ModelInfer', 'OK', 0.002);
    sut.observeRpc('inference.GRPCInferenceService', 'ModelInfer', 'INVALID_ARGUMENT', 0.001);
    const text = await sut.exposition();

    // Assert
    expect(sampleOf(text, 'grpc_server_handled_total{grpc_service="inference.GRPCInferenceService",grpc_method="ModelInfer",grpc_code="OK"}')).toBe(1);
    expect(sampleOf(text, 'grpc_server_handled_total{grpc_service="inference.GRPCInferenceService",grpc_method="ModelInfer",grpc_code="INVALID_ARGUMENT"}')).toBe(1);
    expect(sampleOf(text, 'grpc_server_handling_seconds_count{grpc_service="inference.GRPCInferenceService",grpc_method="ModelInfer"}')).toBe(2);
  });

  it('records batch sizes, queue waits and the queue depth per model version', async () => {
    // Act
    sut.observeBatch('iris', 2, 3);
    sut.observeBatch('iris', 2, 32);
    sut.observeQueueWait('iris', 2, 0.0015);
    sut.setQueueDepth('iris', 2, 7);
    sut.setQueueDepth('iris', 2, 4);
    sut.setQueueDepth('iris', 1, 1);
    const text = await sut.exposition();

    // Assert
    expect(sampleOf(text, 'ml_batch_size_bucket{le="4",model_id="iris",model_version="2"}')).toBe(1);
    expect(sampleOf(text, 'ml_batch_size_bucket{le="32",model_id="iris",model_version="2"}')).toBe(2);
    expect(sampleOf(text, 'ml_batch_size_sum{model_id="iris",model_version="2"}')).toBe(35);
    expect(sampleOf(text, 'ml_queue_wait_seconds_bucket{le="0.0025",model_id="iris",model_version="2"}')).toBe(1);
    expect(sampleOf(text, 'ml_queue_wait_seconds_count{model_id="iris",model_version="2"}')).toBe(1);
    expect(sampleOf(text, 'ml_queue_depth{model_id="iris",model_version="2"}')).toBe(4);
    expect(sampleOf(text, 'ml_queue_depth{model_id="iris",model_version="1"}')).toBe(1);
  });

  it('exposes ml_queue_depth only for versions the batcher reported on', async () => {
    // Arrange
    const sut = new MetricsService(configWith({}));

    // Act
    sut.observePrediction('iris', 1, 'error', 0.001);
    sut.setQueueDepth('iris', 2, 0);
    const text = await sut.exposition();

    // Assert
    expect(text).not.toContain('ml_queue_depth{model_id="iris",model_version="1"}');
    expect(text).toContain('ml_queue_depth{model_id="iris",model_version="2"} 0');
  });

  it('counts cache hits and misses per model', async () => {
    // Act
    sut.cacheLookup('iris', true);
    sut.cacheLookup('iris', true);
    sut.cacheLookup('iris', false);
    sut.cacheLookup('penguins', false);
    const text = await sut.exposition();

    // Assert
    expect(sampleOf(text, 'ml_cache_hits_total{model_id="iris"}')).toBe(2);
    expect(sampleOf(text, 'ml_cache_misses_total{model_id="iris"}')).toBe(1);
    expect(sampleOf(text, 'ml_cache_misses_total{model_id="penguins"}')).toBe(1);
    expect(text).not.toContain('ml_cache_hits_total{model_id="penguins"}');
  });

  it('counts refusals: rate limits by limit, and memory shedding', async () => {
    // Act
    sut.rateLimit('minute');
    sut.rateLimit('minute');
    sut.rateLimit('hour');
    sut.memoryShed();
    const text = await sut.exposition();

    // Assert
    expect(sampleOf(text, 'ml_rate_limited_requests_total{limit="minute"}')).toBe(2);
    expect(sampleOf(text, 'ml_rate_limited_requests_total{limit="hour"}')).toBe(1);
    expect(sampleOf(text, 'ml_memory_shed_requests_total')).toBe(1);
  });

  it('counts admission refusals (MAX_INFLIGHT_MB) and reads the bytes in flight at scrape time', async () => {
    // Arrange
    let inflight = 4096;
    sut.watchInflightBodies(() => inflight);
    sut.admissionRefused();
    sut.admissionRefused();

    // Act
    const first = await sut.exposition();
    inflight = 0;
    const second = await sut.exposition();

    // Assert
    expect(sampleOf(first, 'ml_admission_refused_requests_total')).toBe(2);
    expect(sampleOf(first, 'ml_inflight_body_bytes')).toBe(4096);
    expect(sampleOf(second, 'ml_inflight_body_bytes')).toBe(0);
  });

  it('counts failed Redis calls by operation', async () => {
    // Act
    sut.redisError('throttle');
    sut.redisError('throttle');
    sut.redisError('cache_get');
    const text = await sut.exposition();

    // Assert
    expect(sampleOf(text, 'ml_redis_errors_total{operation="throttle"}')).toBe(2);
    expect(sampleOf(text, 'ml_redis_errors_total{operation="cache_get"}')).toBe(1);
  });

  it('counts routed variants, shadow agreement and rollout events', async () => {
    // Act
    sut.routedRequest('iris', 2, 'stable');
    sut.routedRequest('iris', 1, 'canary');
    sut.routedRequest('iris', 1, 'shadow');
    sut.shadowCompared('iris', true);
    sut.shadowCompared('iris', false);
    sut.shadowCompared('iris', true);
    sut.rolloutEvent('iris', 'promote');
    sut.rolloutEvent('iris', 'canary_abort');
    const text = await sut.exposition();

    // Assert
    expect(sampleOf(text, 'ml_routed_requests_total{model_id="iris",model_version="2",variant="stable"}')).toBe(1);
    expect(sampleOf(text, 'ml_routed_requests_total{model_id="iris",model_version="1",variant="canary"}')).toBe(1);
    expect(sampleOf(text, 'ml_routed_requests_total{model_id="iris",model_version="1",variant="shadow"}')).toBe(1);
    expect(sampleOf(text, 'ml_shadow_agreement_total{model_id="iris",agree="true"}')).toBe(2);
    expect(sampleOf(text, 'ml_shadow_agreement_total{model_id="iris",agree="false"}')).toBe(1);
    expect(sampleOf(text, 'ml_rollout_events_total{model_id="iris",action="promote"}')).toBe(1);
    expect(sampleOf(text, 'ml_rollout_events_total{model_id="iris",action="canary_abort"}')).toBe(1);
  });

  it('reads the model gauges from the registry at scrape time: READY active models, and one info series per version', async () => {
    // Arrange
    let states: ModelStateSample[] = [
      { model_id: 'iris', model_version: '1', state: 'READY', active: false },
      { model_id: 'iris', model_version: '2', state: 'READY', active: true },
      { model_id: 'penguins', model_version: '1', state: 'LOADING', active: true },
    ];
    sut.setModelStateSource(() => states);

    // Act
    const first = await sut.exposition();
    states = [
      { model_id: 'iris', model_version: '2', state: 'READY', active: true },
      { model_id: 'penguins', model_version: '1', state: 'READY', active: true },
    ];
    const second = await sut.exposition();

    // Assert
    expect(sampleOf(first, 'ml_active_models')).toBe(1);
    expect(sampleOf(first, 'ml_model_info{model_id="iris",model_version="1",state="READY"}')).toBe(1);
    expect(sampleOf(first, 'ml_model_info{model_id="penguins",model_version="1",state="LOADING"}')).toBe(1);
    expect(sampleOf(second, 'ml_active_models')).toBe(2);
    expect(second).not.toContain('ml_model_info{model_id="iris",model_version="1"');
    expect(second).not.toContain('state="LOADING"');
    expect(sampleOf(second, 'ml_model_info{model_id="penguins",model_version="1",state="READY"}')).toBe(1);
  });

  it('keeps each instance in its own registry (two apps in one process never collide)', async () => {
    // Arrange
    const other = new MetricsService(configWith({}));

    // Act
    sut.memoryShed();
    const mine = await sut.exposition();
    const theirs = await other.exposition();

    // Assert
    expect(sampleOf(mine, 'ml_memory_shed_requests_total')).toBe(1);
    expect(sampleOf(theirs, 'ml_memory_shed_requests_total')).toBe(0);
  });

  it('answers the Prometheus text exposition content type', () => {
    // Act
    const type = sut.contentType;

    // Assert
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});

describe('MetricsService with ENABLE_METRICS=false', () => {
  it('has no model gauges and counts no gRPC call, whatever the registry reports', async () => {
    // Arrange
    const sut = new MetricsService(configWith({ ENABLE_METRICS: 'false' }));
    sut.setModelStateSource(() => [{ model_id: 'iris', model_version: '2', state: 'READY', active: true }]);

    // Act
    sut.observeRpc('inference.GRPCInferenceService', 'ModelInfer', 'OK', 0.001);
    const text = await sut.exposition();

    // Assert
    expect(text).not.toContain('ml_active_models');
    expect(text).not.toContain('ml_model_info');
    expect(text).not.toMatch(/^grpc_server_handled_total\{/m);
  });
});

describe('MetricsService onMainPort', () => {
  it.each([
    ['METRICS_PORT equals PORT', true, { PORT: '8000', METRICS_PORT: '8000' }],
    ['METRICS_PORT differs from PORT', false, { PORT: '8000', METRICS_PORT: '8080' }],
    ['metrics are disabled, even on the same port', false, { PORT: '8000', METRICS_PORT: '8000', ENABLE_METRICS: 'false' }],
  ])('when %s: %s', (_, expected, env) => {
    // Act
    const sut = new MetricsService(configWith(env));

    // Assert
    expect(sut.onMainPort).toBe(expected);
  });
});
