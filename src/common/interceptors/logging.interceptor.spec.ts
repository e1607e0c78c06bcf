import { CallHandler, ExecutionContext } from '@nestjs/common';
import { lastValueFrom, of, throwError } from 'rxjs';

import { contextOf } from '../http/request-context';
import { RequestCompletion } from '../observability/request-completion';
import { answering, httpContext } from '../../../test/support/nest-contexts';
import { RecordingRequestLog, RecordingRequestMetrics } from '../../../test/support/recording-observers';
import { LoggingInterceptor } from './logging.interceptor';

const fastifyRequest = (url: string, id: string) => ({ method: 'POST', ip: '10.0.0.1', routeOptions: { url }, raw: { headers: { 'x-request-id': id } } });
const expressRequest = (path: string, id: string) => ({ method: 'POST', ip: '10.0.0.2', headers: { 'x-request-id': id }, baseUrl: '', route: { path } });


describe('LoggingInterceptor', () => {
  let log: RecordingRequestLog;
  let metrics: RecordingRequestMetrics;
  let sut: LoggingInterceptor;

  beforeEach(() => {
    log = new RecordingRequestLog();
    metrics = new RecordingRequestMetrics();
    sut = new LoggingInterceptor(new RequestCompletion(log, metrics));
  });

  it.each([
    ['Fastify-like', fastifyRequest('/predict', 'req-f'), 'req-f', '10.0.0.1'],
    ['Express-like', expressRequest('/predict', 'req-e'), 'req-e', '10.0.0.2'],
  ])('completes an answered %s request once with id, method, route template, status and ip', async (_, req, id, ip) => {
    // Arrange
    const context = httpContext(req, { statusCode: 200 });

    // Act
    const body = await lastValueFrom(sut.intercept(context, answering({ ok: true })));

    // Assert
    expect(body).toEqual({ ok: true });
    expect(log.lines).toEqual([{ requestId: id, method: 'POST', route: '/predict', status: 200, durationMs: expect.any(Number), client: ip, prediction: undefined }]);
  });

  it('logs the status the response carries, not an assumed 200', async () => {
    // Arrange
    const context = httpContext(fastifyRequest('/models/:id/versions', 'req-201'), { statusCode: 201 });

    // Act
    await lastValueFrom(sut.intercept(context, answering({})));

    // Assert
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({ status: 201, route: '/models/:id/versions' });
  });

  it('names the client by the API key the guard accepted', async () => {
    // Arrange
    const req = fastifyRequest('/predict', 'req-key');
    contextOf(req).client = 'alpha';
    const context = httpContext(req, { statusCode: 200 });

    // Act
    await lastValueFrom(sut.intercept(context, answering({})));

    // Assert
    expect(log.lines[0].client).toBe('alpha');
  });

  it('takes model_id, model_version, variant and cached from a /predict answer', async () => {
    // Arrange
    const context = httpContext(fastifyRequest('/predict', 'req-p'), { statusCode: 200 });
    const answer = { model_id: 'iris', model_version: '2', variant: 'canary', cached: true, prediction: 'setosa', processing_time_ms: 1 };

    // Act
    await lastValueFrom(sut.intercept(context, answering(answer)));

    // Assert
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0].prediction).toEqual({ model_id: 'iris', model_version: '2', variant: 'canary', cached: true });
  });

  it('takes model_name (as model_id) and model_version from a V2 answer', async () => {
    // Arrange
    const context = httpContext(fastifyRequest('/v2/models/:name/infer', 'req-v2'), { statusCode: 200 });
    const answer = { model_name: 'iris', model_version: '1', id: 'x', outputs: [] };

    // Act
    await lastValueFrom(sut.intercept(context, answering(answer)));

    // Assert
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0].prediction).toEqual({ model_id: 'iris', model_version: '1', variant: undefined, cached: undefined });
  });

  it('keeps no prediction fields for an answer that names no model', async () => {
    // Arrange
    const context = httpContext(fastifyRequest('/models', 'req-list'), { statusCode: 200 });

    // Act
    await lastValueFrom(sut.intercept(context, answering([{ model_id: 'iris' }])));

    // Assert
    expect(log.lines[0].prediction).toBeUndefined();
  });

  it('logs nothing when the handler errors (the exception filter completes errors)', async () => {
    // Arrange
    const context = httpContext(fastifyRequest('/predict', 'req-err'), { statusCode: 200 });
    const failing: CallHandler = { handle: () => throwError(() => new Error('boom')) };

    // Act
    const act = lastValueFrom(sut.intercept(context, failing));

    // Assert
    await expect(act).rejects.toThrow('boom');
    expect(log.lines).toEqual([]);
    expect(metrics.http).toEqual([]);
  });

  it('measures nothing: the HTTP metrics are the latency interceptor\'s', async () => {
    // Arrange
    const context = httpContext(fastifyRequest('/predict', 'req-m'), { statusCode: 200 });

    // Act
    await lastValueFrom(sut.intercept(context, answering({})));

    // Assert
    expect(metrics.http).toEqual([]);
  });

  it('passes a non-http context through untouched', async () => {
    // Arrange
    const stream = of('message');
    const context = {
      getType: () => 'rpc',
      switchToHttp: () => { throw new Error('not an http context'); },
    } as unknown as ExecutionContext;

    // Act
    const result = sut.intercept(context, { handle: () => stream });

    // Assert
    expect(result).toBe(stream);
    await expect(lastValueFrom(result)).resolves.toBe('message');
    expect(log.lines).toEqual([]);
  });
});
