import { CallHandler, ExecutionContext } from '@nestjs/common';
import { lastValueFrom, of, throwError } from 'rxjs';

import { RequestCompletion } from '../observability/request-completion';
import { answering, httpContext } from '../../../test/support/nest-contexts';
import { RecordingRequestLog, RecordingRequestMetrics } from '../../../test/support/recording-observers';
import { LatencyInterceptor } from './latency.interceptor';

/** A reply recording the headers set through `header()` (both FastifyReply and Express's Response have it). */
class RecordingReply {
  readonly headers: Record<string, string> = {};
  constructor(public statusCode = 200) {}
  status(code: number): this {
    this.statusCode = code;
    return this;
  }
  header(name: string, value: string): this {
    this.headers[name] = value;
    return this;
  }
}

const fastifyRequest = (url: string) => ({ method: 'POST', ip: '10.0.0.1', routeOptions: { url }, raw: { headers: {} } });
const expressRequest = (path: string, baseUrl = '') => ({ method: 'GET', ip: '10.0.0.2', headers: {}, baseUrl, route: { path } });


describe('LatencyInterceptor', () => {
  let log: RecordingRequestLog;
  let metrics: RecordingRequestMetrics;
  let sut: LatencyInterceptor;

  beforeEach(() => {
    log = new RecordingRequestLog();
    metrics = new RecordingRequestMetrics();
    sut = new LatencyInterceptor(new RequestCompletion(log, metrics));
  });

  it.each([
    ['Fastify-like', fastifyRequest('/predict'), 'POST', '/predict'],
    ['Express-like', expressRequest('/:id', '/models'), 'GET', '/models/:id'],
  ])('observes an answered %s request once with method, route template, status and seconds ≥ 0', async (_, req, method, route) => {
    // Arrange
    const context = httpContext(req, new RecordingReply(200));

    // Act
    await lastValueFrom(sut.intercept(context, answering({})));

    // Assert
    expect(metrics.http).toEqual([{ method, route, statusCode: 200, seconds: expect.any(Number) }]);
    expect(metrics.http[0].seconds).toBeGreaterThanOrEqual(0);
    expect(log.lines).toEqual([]);
  });

  it('labels the status the response carries', async () => {
    // Arrange
    const context = httpContext(fastifyRequest('/v2/repository/models/:name/load'), new RecordingReply(202));

    // Act
    await lastValueFrom(sut.intercept(context, answering({})));

    // Assert
    expect(metrics.http).toHaveLength(1);
    expect(metrics.http[0].statusCode).toBe(202);
  });

  it('sets X-Response-Time in milliseconds with three decimals, matching the observed seconds', async () => {
    // Arrange
    const reply = new RecordingReply();
    const context = httpContext(fastifyRequest('/models'), reply);

    // Act
    await lastValueFrom(sut.intercept(context, answering([])));

    // Assert
    expect(reply.headers['X-Response-Time']).toMatch(/^\d+\.\d{3}ms$/);
    expect(reply.headers['X-Response-Time']).toBe(`${(metrics.http[0].seconds * 1000).toFixed(3)}ms`);
  });

  it('overwrites processing_time_ms of an answer that has it with the measured milliseconds', async () => {
    // Arrange
    const reply = new RecordingReply();
    const context = httpContext(fastifyRequest('/predict'), reply);
    const answer = { model_id: 'iris', prediction: 'setosa', processing_time_ms: -1 };

    // Act
    const body = await lastValueFrom(sut.intercept(context, answering(answer)));

    // Assert
    expect(body).toBe(answer);
    expect(answer.processing_time_ms).toBeGreaterThanOrEqual(0);
    expect(`${answer.processing_time_ms.toFixed(3)}ms`).toBe(reply.headers['X-Response-Time']);
    expect(answer.processing_time_ms).toBeCloseTo(metrics.http[0].seconds * 1000, 9);
  });

  it('also overwrites a processing_time_ms that is present but undefined', async () => {
    // Arrange
    const context = httpContext(fastifyRequest('/predict'), new RecordingReply());
    const answer: { processing_time_ms?: number } = { processing_time_ms: undefined };

    // Act
    await lastValueFrom(sut.intercept(context, answering(answer)));

    // Assert
    expect(answer.processing_time_ms).toEqual(expect.any(Number));
  });

  it('adds no processing_time_ms to an answer without it', async () => {
    // Arrange
    const context = httpContext(fastifyRequest('/models/:id'), new RecordingReply());
    const answer = { model_id: 'iris', versions: [] };

    // Act
    const body = await lastValueFrom(sut.intercept(context, answering(answer)));

    // Assert
    expect(body).toEqual({ model_id: 'iris', versions: [] });
    expect('processing_time_ms' in answer).toBe(false);
  });

  it.each([
    ['a string', 'ml_active_models 4\n'],
    ['null', null],
    ['undefined', undefined],
    ['a Buffer', Buffer.from('abc')],
  ])('passes %s answer through unchanged, still measured', async (_, answer) => {
    // Arrange
    const reply = new RecordingReply();
    const context = httpContext(fastifyRequest('/metrics'), reply);

    // Act
    const body = await lastValueFrom(sut.intercept(context, answering(answer)), { defaultValue: 'no value' });

    // Assert
    expect(body).toBe(answer);
    expect(metrics.http).toHaveLength(1);
    expect(reply.headers['X-Response-Time']).toBeDefined();
  });

  it('observes nothing and sets no header when the handler errors (the exception filter measures errors)', async () => {
    // Arrange
    const reply = new RecordingReply();
    const context = httpContext(fastifyRequest('/predict'), reply);
    const failing: CallHandler = { handle: () => throwError(() => new Error('boom')) };

    // Act
    const act = lastValueFrom(sut.intercept(context, failing));

    // Assert
    await expect(act).rejects.toThrow('boom');
    expect(metrics.http).toEqual([]);
    expect(reply.headers).toEqual({});
  });

  it('passes a non-http context through untouched', async () => {
    // Arrange
    const stream = of('message');
    const context = {
      getType: () => 'ws',
      switchToHttp: () => { throw new Error('not an http context'); },
    } as unknown as ExecutionContext;

    // Act
    const result = sut.intercept(context, { handle: () => stream });

    // Assert
    expect(result).toBe(stream);
    await expect(lastValueFrom(result)).resolves.toBe('message');
    expect(metrics.http).toEqual([]);
  });
});
