import { contextOf } from '../http/request-context';
import { RequestCompletion, routeTemplateOf } from './request-completion';
import { RecordingRequestLog, RecordingRequestMetrics } from '../../../test/support/recording-observers';

/** A FastifyRequest-like object: the Node request (headers, context) under `raw`, the matched route in `routeOptions`. */
const fastifyRequest = (url: string | undefined, id = 'req-fastify') => ({
  method: 'POST',
  ip: '10.0.0.1',
  routeOptions: { url },
  raw: { headers: { 'x-request-id': id } },
});

/** An Express Request-like object: the request is the Node request, the matched route in `route` under `baseUrl`. */
const expressRequest = (path: unknown, baseUrl = '', id = 'req-express') => ({
  method: 'GET',
  ip: '10.0.0.2',
  headers: { 'x-request-id': id },
  baseUrl,
  route: path === undefined ? undefined : { path },
});

describe('routeTemplateOf', () => {
  it.each([
    ['a Fastify route', fastifyRequest('/predict'), '/predict'],
    ['a Fastify route with a parameter', fastifyRequest('/models/:id'), '/models/:id'],
    ['an Express route', expressRequest('/models/:id'), '/models/:id'],
    ['an Express route under a baseUrl', expressRequest('/:id', '/models'), '/models/:id'],
    ['an Express route with no baseUrl at all', { method: 'GET', route: { path: '/health' } }, '/health'],
    ['an empty route path', fastifyRequest(''), '/'],
  ])('gives the template of %s', (_, req, expected) => {
    // Act
    const sut = routeTemplateOf(req);

    // Assert
    expect(sut).toBe(expected);
  });

  it.each([
    ['no route (Express unmatched request)', expressRequest(undefined)],
    ['a Fastify request whose routeOptions has no url', fastifyRequest(undefined)],
    ['a plain request object', { method: 'GET' }],
    ['a Fastify wildcard route (catch-all 404)', fastifyRequest('*')],
    ['a Fastify path containing *', fastifyRequest('/static/*')],
    ['an Express wildcard route', expressRequest('/{*path}')],
    ['an Express route whose path is not a string (RegExp)', expressRequest(/^\/x/)],
  ])('gives unmatched for %s', (_, req) => {
    // Act
    const sut = routeTemplateOf(req);

    // Assert
    expect(sut).toBe('unmatched');
  });

  it('never gives the raw path', () => {
    // Arrange: the raw URL of a matched request is not the template
    const req = { ...fastifyRequest('/models/:id'), url: '/models/iris?x=1' };

    // Act
    const sut = routeTemplateOf(req);

    // Assert
    expect(sut).toBe('/models/:id');
  });
});

describe('RequestCompletion', () => {
  let log: RecordingRequestLog;
  let metrics: RecordingRequestMetrics;
  let sut: RequestCompletion;

  beforeEach(() => {
    log = new RecordingRequestLog();
    metrics = new RecordingRequestMetrics();
    sut = new RequestCompletion(log, metrics);
  });

  describe('logged', () => {
    it('writes one line with request id, method, route template, status, duration and client ip (Fastify-like)', () => {
      // Arrange
      const req = fastifyRequest('/predict', 'abc-123');

      // Act
      sut.logged(req, 200);

      // Assert
      expect(log.lines).toEqual([{
        requestId: 'abc-123', method: 'POST', route: '/predict', status: 200, durationMs: expect.any(Number), client: '10.0.0.1', prediction: undefined,
      }]);
      expect(log.lines[0].durationMs).toBeGreaterThanOrEqual(0);
      expect(metrics.http).toEqual([]);
    });

    it('writes the Express-like route with its baseUrl', () => {
      // Arrange
      const req = expressRequest('/:id', '/models', 'ex-1');

      // Act
      sut.logged(req, 404);

      // Assert
      expect(log.lines).toHaveLength(1);
      expect(log.lines[0]).toMatchObject({ requestId: 'ex-1', method: 'GET', route: '/models/:id', status: 404, client: '10.0.0.2' });
    });

    it('names the API key client and the prediction from the context', () => {
      // Arrange
      const req = fastifyRequest('/predict');
      const ctx = contextOf(req);
      ctx.client = 'alpha';
      ctx.prediction = { model_id: 'iris', model_version: '2', variant: 'stable', cached: true };

      // Act
      sut.logged(req, 200, ctx);

      // Assert
      expect(log.lines[0]).toMatchObject({ client: 'alpha', prediction: { model_id: 'iris', model_version: '2', variant: 'stable', cached: true } });
    });

    it('uses the context it is given over the request', () => {
      // Arrange
      const req = fastifyRequest('/predict', 'from-request');
      const other = contextOf(fastifyRequest('/predict', 'from-given-context'));

      // Act
      sut.logged(req, 200, other);

      // Assert
      expect(log.lines[0].requestId).toBe('from-given-context');
    });

    it("says 'unknown' for a client with neither API key nor ip", () => {
      // Arrange
      const req = { method: 'GET', headers: {} };

      // Act
      sut.logged(req, 404);

      // Assert
      expect(log.lines[0]).toMatchObject({ client: 'unknown', route: 'unmatched' });
    });
  });

  describe('measured', () => {
    it('observes one HTTP sample with method, route template, status and the elapsed seconds it returns in ms', () => {
      // Arrange
      const req = fastifyRequest('/models/:id');

      // Act
      const ms = sut.measured(req, 201);

      // Assert
      expect(metrics.http).toEqual([{ method: 'POST', route: '/models/:id', statusCode: 201, seconds: ms / 1000 }]);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(log.lines).toEqual([]);
    });

    it('labels an unmatched request unmatched, never with its raw path', () => {
      // Arrange
      const req = { ...expressRequest(undefined), url: '/no/such/path/12345' };

      // Act
      sut.measured(req, 404);

      // Assert
      expect(metrics.http).toEqual([expect.objectContaining({ method: 'GET', route: 'unmatched', statusCode: 404 })]);
    });
  });
});
