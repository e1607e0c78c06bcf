import { ArgumentsHost, BadGatewayException, ForbiddenException, HttpException, Logger, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

import { AppError } from '../errors/app-error';
import { ErrorCode, statusOf } from '../errors/error-code';
import { contextOf } from '../http/request-context';
import { RequestCompletion } from '../observability/request-completion';
import { RecordingRequestLog, RecordingRequestMetrics } from '../../../test/support/recording-observers';
import { AllExceptionsFilter } from './all-exceptions.filter';

/** The part of Nest's HttpAdapter the filter uses: answers the request's url and method, records what it is told to send. */
class RecordingHttpAdapter {
  readonly replies: { res: object; body: unknown; status: number }[] = [];
  readonly headers: { res: object; name: string; value: string }[] = [];
  constructor(private readonly url: string, private readonly method = 'POST', private readonly headersSent = false) {}
  getRequestUrl(): string { return this.url; }
  getRequestMethod(): string { return this.method; }
  isHeadersSent(): boolean { return this.headersSent; }
  setHeader(res: object, name: string, value: string): void { this.headers.push({ res, name, value }); }
  reply(res: object, body: unknown, status: number): void { this.replies.push({ res, body, status }); }
  header(name: string): string | undefined { return this.headers.find((h) => h.name === name)?.value; }
}

const fastifyRequest = (url: string | undefined, id: string) => ({ method: 'POST', ip: '10.0.0.1', routeOptions: { url }, raw: { headers: { 'x-request-id': id } } });

function httpHost(req: object, res: object): ArgumentsHost {
  return {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res, getNext: () => undefined }),
  } as unknown as ArgumentsHost;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** An error as Fastify raises it before any handler runs. */
const fastifyError = (code: string, statusCode: number, message: string) => Object.assign(new Error(message), { code, statusCode });

describe('AllExceptionsFilter', () => {
  let log: RecordingRequestLog;
  let metrics: RecordingRequestMetrics;
  const res = { kind: 'response' };

  // Unexpected errors are logged through Nest's Logger (with their stack): keep the test output quiet.
  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(() => {
    log = new RecordingRequestLog();
    metrics = new RecordingRequestMetrics();
  });

  const filterOn = (adapter: RecordingHttpAdapter) =>
    new AllExceptionsFilter({ httpAdapter: adapter } as unknown as HttpAdapterHost, new RequestCompletion(log, metrics));

  describe('outside /v2', () => {
    it('answers an AppError with its status and the envelope carrying the request id', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/predict');
      const sut = filterOn(adapter);
      const req = fastifyRequest('/predict', 'req-404');
      const error = AppError.modelNotFound('nope');

      // Act
      sut.catch(error, httpHost(req, res));

      // Assert
      expect(adapter.replies).toEqual([{
        res,
        status: 404,
        body: { status: 'error', error: { code: 'MODEL_NOT_FOUND', message: "Model 'nope' not found", details: [] }, request_id: 'req-404', timestamp: expect.stringMatching(ISO_TIMESTAMP) },
      }]);
    });

    it('keeps a validation error at 422 with every detail', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/predict?explain=true');
      const sut = filterOn(adapter);
      const details = [{ field: 'features.a', message: 'is required' }, { field: 'features.b', message: 'must be a number' }];

      // Act
      sut.catch(AppError.validation(details), httpHost(fastifyRequest('/predict', 'req-422'), res));

      // Assert
      expect(adapter.replies).toHaveLength(1);
      expect(adapter.replies[0].status).toBe(422);
      expect(adapter.replies[0].body).toMatchObject({ status: 'error', error: { code: 'VALIDATION_FAILED', details }, request_id: 'req-422' });
    });

    it('answers a Nest HttpException (the unknown-route 404) with the envelope', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/no/such/path', 'GET');
      const sut = filterOn(adapter);

      // Act
      sut.catch(new NotFoundException('Cannot GET /no/such/path'), httpHost(fastifyRequest(undefined, 'req-nf'), res));

      // Assert
      expect(adapter.replies[0]).toMatchObject({ status: 404, body: { status: 'error', error: { code: 'NOT_FOUND' }, request_id: 'req-nf' } });
    });
  });

  describe('under /v2', () => {
    it('answers the V2 protocol\'s { error } and turns 422 into 400', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/v2/models/iris/infer');
      const sut = filterOn(adapter);
      const error = AppError.validation([{ field: 'inputs', message: 'is required' }]);

      // Act
      sut.catch(error, httpHost(fastifyRequest('/v2/models/:name/infer', 'req-v2'), res));

      // Assert
      expect(adapter.replies).toEqual([{ res, status: 400, body: { error: error.message } }]);
    });

    it('keeps a status other than 422 as it is', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/V2/models/nope');
      const sut = filterOn(adapter);

      // Act
      sut.catch(AppError.modelNotFound('nope'), httpHost(fastifyRequest('/v2/models/:name', 'req-v2-404'), res));

      // Assert
      expect(adapter.replies).toEqual([{ res, status: 404, body: { error: "Model 'nope' not found" } }]);
    });

    it('treats /v2 itself and /v2?query as V2, but not /v2x', () => {
      // Arrange
      const bare = new RecordingHttpAdapter('/v2');
      const query = new RecordingHttpAdapter('/v2?x=1');
      const lookalike = new RecordingHttpAdapter('/v2x');
      const error = AppError.validation([]);

      // Act
      for (const adapter of [bare, query, lookalike]) filterOn(adapter).catch(error, httpHost(fastifyRequest(undefined, 'req-v2-path'), res));

      // Assert
      expect(bare.replies[0]).toMatchObject({ status: 400, body: { error: error.message } });
      expect(query.replies[0]).toMatchObject({ status: 400, body: { error: error.message } });
      expect(lookalike.replies[0]).toMatchObject({ status: 422, body: { status: 'error', request_id: 'req-v2-path' } });
    });
  });

  describe('headers', () => {
    it.each([
      [2.2, '3'],
      [5, '5'],
      [0.2, '1'],
      [0, '1'],
    ])('sets Retry-After from retryAfterSeconds %d as %s whole seconds', (seconds, header) => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/predict');
      const sut = filterOn(adapter);

      // Act
      sut.catch(new AppError(ErrorCode.OVERLOADED, 'busy', [], seconds), httpHost(fastifyRequest('/predict', 'req-503'), res));

      // Assert
      expect(adapter.header('Retry-After')).toBe(header);
      expect(adapter.replies[0].status).toBe(503);
    });

    it('sets no Retry-After without retryAfterSeconds, and X-Response-Time always', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/predict');
      const sut = filterOn(adapter);

      // Act
      sut.catch(AppError.modelNotFound('x'), httpHost(fastifyRequest('/predict', 'req-hdr'), res));

      // Assert
      expect(adapter.header('Retry-After')).toBeUndefined();
      expect(adapter.header('X-Response-Time')).toMatch(/^\d+\.\d{3}ms$/);
      expect(adapter.headers.every((h) => h.res === res)).toBe(true);
    });
  });

  describe('unexpected errors', () => {
    it('answers 500 INTERNAL with a generic message and no stack, path or original message', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/predict');
      const sut = filterOn(adapter);
      const error = new Error('connect ECONNREFUSED 10.0.0.7:5432 at /srv/app/dist/db.js:12');

      // Act
      sut.catch(error, httpHost(fastifyRequest('/predict', 'req-500'), res));

      // Assert
      expect(adapter.replies).toHaveLength(1);
      expect(adapter.replies[0].status).toBe(500);
      expect(adapter.replies[0].body).toEqual({
        status: 'error', error: { code: 'INTERNAL', message: 'Internal server error', details: [] }, request_id: 'req-500', timestamp: expect.stringMatching(ISO_TIMESTAMP),
      });
      const text = JSON.stringify(adapter.replies[0].body);
      expect(text).not.toMatch(/ECONNREFUSED|\/srv\/|db\.js|\bat .+:\d+|stack/);
    });

    it('answers a thrown non-Error value with the same generic 500', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/v2/models/iris/infer');
      const sut = filterOn(adapter);

      // Act
      sut.catch('a string with /etc/passwd', httpHost(fastifyRequest('/v2/models/:name/infer', 'req-str'), res));

      // Assert
      expect(adapter.replies).toEqual([{ res, status: 500, body: { error: 'Internal server error' } }]);
    });
  });

  describe('completion', () => {
    it.each([
      ['an AppError', AppError.modelNotFound('x'), '/predict', 404],
      ['a V2 validation error, with its final status 400', AppError.validation([]), '/v2/models/iris/infer', 400],
      ['an unexpected error', new Error('boom'), '/predict', 500],
      ['a 429', new AppError(ErrorCode.RATE_LIMITED, 'slow down', [], 30), '/predict', 429],
    ])('completes %s exactly once: one log line and one metric with the status answered', (_, error, url, status) => {
      // Arrange
      const adapter = new RecordingHttpAdapter(url);
      const sut = filterOn(adapter);
      const req = fastifyRequest('/route/:template', 'req-once');
      contextOf(req).client = 'alpha';

      // Act
      sut.catch(error, httpHost(req, res));

      // Assert
      expect(log.lines).toEqual([{ requestId: 'req-once', method: 'POST', route: '/route/:template', status, durationMs: expect.any(Number), client: 'alpha', prediction: undefined }]);
      expect(metrics.http).toEqual([{ method: 'POST', route: '/route/:template', statusCode: status, seconds: expect.any(Number) }]);
      expect(adapter.replies).toHaveLength(1);
      expect(adapter.replies[0].status).toBe(status);
    });

    it('completes a request that never reached a route as unmatched, with the client ip', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/nope', 'GET');
      const sut = filterOn(adapter);
      const req = { method: 'GET', ip: '10.0.0.9', headers: { 'x-request-id': 'req-unmatched' } };

      // Act
      sut.catch(new NotFoundException(), httpHost(req, res));

      // Assert
      expect(log.lines).toEqual([expect.objectContaining({ requestId: 'req-unmatched', route: 'unmatched', status: 404, client: '10.0.0.9' })]);
      expect(metrics.http).toEqual([expect.objectContaining({ method: 'GET', route: 'unmatched', statusCode: 404 })]);
    });
  });

  describe('every kind of error', () => {
    it.each(Object.values(ErrorCode))('answers an AppError %s with the status of its code and the envelope naming it', (code) => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/models/iris/promote');
      const sut = filterOn(adapter);

      // Act
      sut.catch(new AppError(code, `problem ${code}`), httpHost(fastifyRequest('/models/:id/promote', 'req-code'), res));

      // Assert
      expect(adapter.replies).toEqual([{
        res,
        status: statusOf(code),
        body: { status: 'error', error: { code, message: `problem ${code}`, details: [] }, request_id: 'req-code', timestamp: expect.stringMatching(ISO_TIMESTAMP) },
      }]);
    });

    it.each([
      ["body-parser's malformed JSON", Object.assign(new SyntaxError('Unexpected token } in JSON at position 12'), { type: 'entity.parse.failed', status: 400 }), 400, 'MALFORMED_JSON'],
      ["body-parser's body over the limit", { type: 'entity.too.large', status: 413, limit: 1024 }, 413, 'PAYLOAD_TOO_LARGE'],
      ["Fastify's body over the limit", fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413, 'Request body is too large'), 413, 'PAYLOAD_TOO_LARGE'],
      ["Fastify's unsupported media type", fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'Unsupported Media Type: text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ["Nest's ForbiddenException", new ForbiddenException('no'), 403, 'FORBIDDEN'],
      ["Nest's PayloadTooLargeException", new PayloadTooLargeException(), 413, 'PAYLOAD_TOO_LARGE'],
      ['an HttpException with an unlisted 4xx status', new HttpException('Gone', 410), 410, 'BAD_REQUEST'],
    ])('answers %s with its status and the envelope', (_, error, status, code) => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/predict');
      const sut = filterOn(adapter);

      // Act
      sut.catch(error, httpHost(fastifyRequest('/predict', 'req-kind'), res));

      // Assert
      expect(adapter.replies).toHaveLength(1);
      expect(adapter.replies[0]).toMatchObject({ status, body: { status: 'error', error: { code }, request_id: 'req-kind' } });
    });

    it("answers a 5xx HttpException from a library with its status, a generic message, and logs it", () => {
      // Arrange
      const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const adapter = new RecordingHttpAdapter('/predict');
      const sut = filterOn(adapter);

      // Act
      sut.catch(new BadGatewayException('upstream 10.0.0.7 refused'), httpHost(fastifyRequest('/predict', 'req-502'), res));

      // Assert
      expect(adapter.replies[0]).toMatchObject({ status: 502, body: { error: { code: 'INTERNAL', message: 'Internal server error' } } });
      expect(JSON.stringify(adapter.replies[0].body)).not.toContain('10.0.0.7');
      expect(logged).toHaveBeenCalledTimes(1);
      logged.mockRestore();
    });

    it("passes Terminus's health report through as it is, with its 503", () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/health/ready', 'GET');
      const sut = filterOn(adapter);
      const report = { status: 'error', info: {}, error: { 'model:iris': { status: 'down' } }, details: { 'model:iris': { status: 'down' } } };

      // Act
      sut.catch(new HttpException(report, 503), httpHost(fastifyRequest('/health/ready', 'req-health'), res));

      // Assert
      expect(adapter.replies).toEqual([{ res, status: 503, body: report }]);
    });

    it('answers a V2 overload with { error } and Retry-After', () => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/v2/models/iris/infer');
      const sut = filterOn(adapter);

      // Act
      sut.catch(new AppError(ErrorCode.OVERLOADED, 'Too many requests waiting', [], 1), httpHost(fastifyRequest('/v2/models/:name/infer', 'req-v2-503'), res));

      // Assert
      expect(adapter.replies).toEqual([{ res, status: 503, body: { error: 'Too many requests waiting' } }]);
      expect(adapter.header('Retry-After')).toBe('1');
    });
  });

  describe('request id', () => {
    it.each([
      ['missing', undefined],
      ['not sane (spaces, too long)', 'not a sane id '.repeat(20)],
    ])('answers a generated UUID v4 when the caller\'s X-Request-Id is %s, the one the request is logged with', (_, incoming) => {
      // Arrange
      const adapter = new RecordingHttpAdapter('/predict');
      const sut = filterOn(adapter);
      const req = { method: 'POST', ip: '10.0.0.1', routeOptions: { url: '/predict' }, raw: { headers: { 'x-request-id': incoming } } };

      // Act
      sut.catch(AppError.modelNotFound('x'), httpHost(req, res));

      // Assert
      const body = adapter.replies[0].body as { request_id: string };
      expect(body.request_id).toMatch(UUID_V4);
      expect(body.request_id).toBe(contextOf(req).id);
      expect(log.lines[0].requestId).toBe(body.request_id);
    });
  });

  describe('logging', () => {
    it('logs an unexpected error once, with its request id and the path without the query string', () => {
      // Arrange
      const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const adapter = new RecordingHttpAdapter('/predict?token=secret', 'POST');
      const sut = filterOn(adapter);
      const error = new Error('boom');

      // Act
      sut.catch(error, httpHost(fastifyRequest('/predict', 'req-log'), res));

      // Assert
      expect(logged).toHaveBeenCalledTimes(1);
      expect(logged).toHaveBeenCalledWith({ request_id: 'req-log', err: error }, 'Unexpected error on POST /predict');
      logged.mockRestore();
    });

    it('does not log expected errors as errors (their completion line says enough)', () => {
      // Arrange
      const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const adapter = new RecordingHttpAdapter('/predict');
      const sut = filterOn(adapter);

      // Act
      sut.catch(AppError.validation([{ field: 'features', message: 'is required' }]), httpHost(fastifyRequest('/predict', 'req-quiet'), res));

      // Assert
      expect(logged).not.toHaveBeenCalled();
      logged.mockRestore();
    });

    it('still logs an unexpected error raised after the headers were sent', () => {
      // Arrange
      const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      const adapter = new RecordingHttpAdapter('/predict', 'POST', true);
      const sut = filterOn(adapter);

      // Act
      sut.catch(new Error('stream broke'), httpHost(fastifyRequest('/predict', 'req-late'), res));

      // Assert
      expect(logged).toHaveBeenCalledWith(expect.objectContaining({ request_id: 'req-late' }), 'Unexpected error on POST /predict');
      logged.mockRestore();
    });
  });

  it('replies nothing and sets no header when the headers were already sent', () => {
    // Arrange
    const adapter = new RecordingHttpAdapter('/predict', 'POST', true);
    const sut = filterOn(adapter);

    // Act
    sut.catch(new Error('after the headers'), httpHost(fastifyRequest('/predict', 'req-sent'), res));

    // Assert
    expect(adapter.replies).toEqual([]);
    expect(adapter.headers).toEqual([]);
  });

  it('still completes a request whose headers were already sent, once, with the status the client got', () => {
    // Arrange: Fastify's reply.sent stays false after raw writes; the Node response knows
    const adapter = new RecordingHttpAdapter('/predict');
    const sut = filterOn(adapter);
    const sent = { raw: { headersSent: true, statusCode: 200 } };
    const req = fastifyRequest('/predict', 'req-raw');

    // Act
    sut.catch(new Error('after a raw write'), httpHost(req, sent));

    // Assert
    expect(adapter.replies).toEqual([]);
    expect(log.lines).toEqual([expect.objectContaining({ requestId: 'req-raw', status: 200 })]);
    expect(metrics.http).toEqual([expect.objectContaining({ statusCode: 200 })]);
  });

  it('completes a request once when it runs again for it (its first reply failed), and answers JSON whatever Content-Type the handler set', () => {
    // Arrange
    const adapter = new RecordingHttpAdapter('/metrics', 'GET');
    const sut = filterOn(adapter);
    const req = fastifyRequest('/metrics', 'req-twice');

    // Act
    sut.catch(new AppError(ErrorCode.OVERLOADED, 'busy'), httpHost(req, res));
    sut.catch(new Error('the reply failed'), httpHost(req, res));

    // Assert
    expect(log.lines).toEqual([expect.objectContaining({ requestId: 'req-twice', status: 503 })]);
    expect(metrics.http).toHaveLength(1);
    expect(adapter.headers.filter((h) => h.name === 'Content-Type').map((h) => h.value)).toEqual(['application/json; charset=utf-8', 'application/json; charset=utf-8']);
  });

  it('rethrows outside http', () => {
    // Arrange
    const adapter = new RecordingHttpAdapter('/predict');
    const sut = filterOn(adapter);
    const error = new Error('rpc');
    const host = { getType: () => 'rpc', switchToHttp: () => { throw new Error('not http'); } } as unknown as ArgumentsHost;

    // Act
    const act = () => sut.catch(error, host);

    // Assert
    expect(act).toThrow(error);
    expect(adapter.replies).toEqual([]);
    expect(log.lines).toEqual([]);
    expect(metrics.http).toEqual([]);
  });
});
