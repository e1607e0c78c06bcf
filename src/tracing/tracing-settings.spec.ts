import { isUntracedRequest } from './http-server-spans';
import { startTracing } from './start-tracing';
import { otlpTracesUrl, serviceNameOf, tracingSettings } from './tracing-settings';

describe('tracingSettings', () => {
  it('is off by default', () => {
    // Act
    const sut = tracingSettings({});

    // Assert
    expect(sut).toMatchObject({ enabled: false, exporters: [], warnings: [] });
    expect(sut.summary).toMatch(/^tracing off/);
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, ['otlp']],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, ['otlp']],
    [{ OTEL_TRACES_EXPORTER: 'console' }, ['console']],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, ['otlp']],
    [{ OTEL_TRACES_EXPORTER: 'otlp, console,otlp' }, ['otlp', 'console']],
  ])('is on with %j', (env, exporters) => {
    // Act
    const sut = tracingSettings(env);

    // Assert
    expect(sut).toMatchObject({ enabled: true, exporters, warnings: [] });
  });

  it.each([
    [{ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'otlp' }, 'OTEL_SDK_DISABLED=true'],
    [{ OTEL_SDK_DISABLED: ' TRUE ', OTEL_TRACES_EXPORTER: 'console' }, 'OTEL_SDK_DISABLED=true'],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'OTEL_TRACES_EXPORTER=none'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, 'no OTEL_EXPORTER_OTLP_ENDPOINT'],
  ])('is off with %j, saying why', (env, reason) => {
    // Act
    const sut = tracingSettings(env);

    // Assert
    expect(sut.enabled).toBe(false);
    expect(sut.summary).toContain(reason);
  });

  it('OTEL_TRACES_EXPORTER replaces the endpoint rule, and an unsupported exporter alone is off with a warning', () => {
    // Act
    const sut = tracingSettings({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });

    // Assert
    expect(sut.enabled).toBe(false);
    expect(sut.warnings).toEqual(['OTEL_TRACES_EXPORTER: zipkin not supported (otlp, console or none); ignored']);
  });

  it('summarises service, target and sampler', () => {
    // Act
    const sut = tracingSettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/',
      OTEL_SERVICE_NAME: 'ranker',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
    });

    // Assert
    expect(sut.summary).toBe('tracing on: service ranker, spans to OTLP/HTTP JSON to http://jaeger:4318/v1/traces, sampler parentbased_traceidratio 0.01');
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /OTEL_EXPORTER_OTLP_PROTOCOL=grpc: spans are sent as OTLP\/HTTP JSON .*4318/],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }, /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http\/protobuf: spans are sent as OTLP\/HTTP JSON/],
    [{ OTEL_TRACES_SAMPLER: 'ratio' }, /OTEL_TRACES_SAMPLER=ratio is not a known sampler/],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, /OTEL_TRACES_SAMPLER_ARG=2 must be a ratio in \[0, 1\]/],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' }, /OTEL_TRACES_SAMPLER_ARG= must be a ratio/],
  ])('warns about %j, which the SDK would not honour as written', (env, warning) => {
    // Act
    const sut = tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', ...env });

    // Assert
    expect(sut.enabled).toBe(true);
    expect(sut.warnings).toEqual([expect.stringMatching(warning)]);
  });

  it('http/json needs no warning', () => {
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).warnings).toEqual([]);
  });
});

describe('otlpTracesUrl', () => {
  it('takes the traces endpoint as given, else appends /v1/traces to the base, else the SDK default', () => {
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:2' })).toBe('http://t:1/x');
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:2' })).toBe('http://b:2/v1/traces');
    expect(otlpTracesUrl({})).toBe('http://localhost:4318/v1/traces');
  });
});

describe('serviceNameOf', () => {
  it('OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else nest-model-server', () => {
    expect(serviceNameOf({ OTEL_SERVICE_NAME: 'a', OTEL_RESOURCE_ATTRIBUTES: 'service.name=b' })).toBe('a');
    expect(serviceNameOf({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=b%20c' })).toBe('b c');
    expect(serviceNameOf({})).toBe('nest-model-server');
  });
});

describe('isUntracedRequest', () => {
  it.each(['/health', '/health/ready', '/HEALTH/live/', '/v2/health/ready', '/metrics', '/metrics?x=1'])('leaves %s untraced', (url) => {
    expect(isUntracedRequest({ url })).toBe(true);
  });

  it.each(['/predict', '/v2/models/iris/infer', '/healthz-model/infer', '/models/health', '/docs'])('traces %s', (url) => {
    expect(isUntracedRequest({ url })).toBe(false);
  });
});

describe('startTracing, off', () => {
  it('loads nothing and says so; OTEL_* that appear only later (the .env file, read after it started) get a warning', async () => {
    // Act
    const sut = startTracing({ env: {} });

    // Assert
    expect(sut.enabled).toBe(false);
    expect(sut.lateWarnings({})).toEqual([]);
    expect(sut.lateWarnings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual([expect.stringMatching(/\.env file, which is read after tracing starts/)]);
    await expect(sut.shutdown()).resolves.toBeUndefined();
  });
});
