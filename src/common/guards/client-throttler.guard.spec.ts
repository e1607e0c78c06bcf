import { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SkipThrottle, Throttle } from '@nestjs/throttler';
import type { ThrottlerStorage } from '@nestjs/throttler';

import { captureAppError } from '../../../test/support/capture-app-error';
import { PredictionRoute } from '../decorators/prediction-route.decorator';
import { ErrorCode } from '../errors/error-code';
import { contextOf } from '../http/request-context';
import { RequestMetrics } from '../observability/request-observers';
import { clientLimits } from '../throttling/client-limits';
import { CounterThrottlerStorage } from '../throttling/counter-throttler.storage';
import { clientThrottleKey, clientTracker, ClientThrottlerGuard, trackerOf } from './client-throttler.guard';

describe('trackerOf', () => {
  it('tracks an accepted API key by its name, whatever the address', () => {
    // Act / Assert
    expect(trackerOf('svc', '10.0.0.1')).toBe('key:svc');
    expect(trackerOf('svc', '2001:db8::1')).toBe('key:svc');
  });

  it('groups IPv6 addresses by their /64 (one client, one record), and keeps IPv4 addresses apart', () => {
    // Act
    const sameSubnet = [trackerOf(undefined, '2001:db8:1:2::1'), trackerOf(undefined, '2001:db8:1:2:ffff::9')];
    const otherSubnet = trackerOf(undefined, '2001:db8:1:3::1');
    const v4 = [trackerOf(undefined, '10.0.0.1'), trackerOf(undefined, '10.0.0.2')];

    // Assert
    expect(sameSubnet[0]).toBe(sameSubnet[1]);
    expect(otherSubnet).not.toBe(sameSubnet[0]);
    expect(v4[0]).not.toBe(v4[1]);
    expect(trackerOf(undefined, undefined)).toBe('ip:unknown');
  });
});

/** Prediction handlers (sharing one budget), a non-prediction one, and route-level throttler overrides. */
class ThrottledRoutes {
  @PredictionRoute() predict(): void {}
  @PredictionRoute() infer(): void {}
  health(): void {}
  @PredictionRoute() @Throttle({ minute: { limit: 1, ttl: 60_000 } }) strict(): void {}
  @PredictionRoute() @SkipThrottle({ minute: true, hour: true }) exempt(): void {}
}

/** A response recording headers (FastifyReply and Express's Response both have header/getHeader). */
class RecordingResponse {
  readonly headers = new Map<string, string>();
  header(name: string, value: string): this {
    this.headers.set(name, value);
    return this;
  }
  getHeader(name: string): string | undefined {
    return this.headers.get(name);
  }
  rateHeaders(): Record<string, string | undefined> {
    return { limit: this.headers.get('X-RateLimit-Limit'), remaining: this.headers.get('X-RateLimit-Remaining'), reset: this.headers.get('X-RateLimit-Reset') };
  }
}

/** Records which limit refused a request (the RequestMetrics port; the other observations are not looked at). */
class RateLimitMetrics extends RequestMetrics {
  readonly limited: string[] = [];
  rateLimit(limit: string): void {
    this.limited.push(limit);
  }
  observeHttp(): void {}
  memoryShed(): void {}
  admissionRefused(): void {}
  watchInflightBodies(): void {}
  observeRpc(): void {}
}

type RouteName = 'predict' | 'infer' | 'health' | 'strict' | 'exempt';

describe.each([
  ['the in-process storage (counted synchronously)', false],
  ['a storage answering only through Promises (as RedisThrottlerStorage)', true],
])('ClientThrottlerGuard on %s', (_name, promiseOnly) => {
  let now: number;
  let storage: CounterThrottlerStorage;
  let metrics: RateLimitMetrics;

  /** The guard as AppModule configures it, on a storage with an injected clock (behind a Promise-only facade when `promiseOnly`). */
  async function guardWith(limits: { requestsPerMinute: number; requestsPerHour: number }): Promise<ClientThrottlerGuard> {
    const throttlers = clientLimits(limits).map(({ enabled, ...limit }) => ({ ...limit, skipIf: () => !enabled }));
    const facade: ThrottlerStorage = { increment: (...args) => storage.increment(...args) };
    const guard = new ClientThrottlerGuard({ throttlers, generateKey: clientThrottleKey, getTracker: clientTracker }, promiseOnly ? facade : storage, new Reflector(), metrics);
    await guard.onModuleInit();
    return guard;
  }

  /** One call of `route` by a client (an accepted API key name, else its IP); answers the response it got. */
  async function call(sut: ClientThrottlerGuard, route: RouteName, who: { key?: string; ip?: string } = {}, res = new RecordingResponse()): Promise<RecordingResponse> {
    const req = { ip: who.ip ?? '10.0.0.1', headers: {} };
    if (who.key) contextOf(req).client = who.key;
    const context = {
      getType: () => 'http',
      getClass: () => ThrottledRoutes,
      getHandler: () => ThrottledRoutes.prototype[route],
      switchToHttp: () => ({ getRequest: () => req, getResponse: () => res, getNext: () => undefined }),
    } as unknown as ExecutionContext;
    await sut.canActivate(context);
    return res;
  }

  beforeEach(() => {
    now = 1_000_000;
    storage = new CounterThrottlerStorage(() => now);
    metrics = new RateLimitMetrics();
  });

  afterEach(() => storage.onModuleDestroy());

  it('sets X-RateLimit-* on a prediction for the tightest limit (the minute one here)', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 3, requestsPerHour: 10 });

    // Act
    const res = await call(sut, 'predict');

    // Assert
    expect(res.rateHeaders()).toEqual({ limit: '3', remaining: '2', reset: '60' });
  });

  it('reports the hour limit when it is the one closer to running out', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 5, requestsPerHour: 2 });

    // Act
    const res = await call(sut, 'predict');

    // Assert
    expect(res.rateHeaders()).toEqual({ limit: '2', remaining: '1', reset: '3600' });
  });

  it('refuses the (N+1)-th prediction of a minute with 429 naming the limit, Retry-After, headers and a metric', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 2, requestsPerHour: 100 });
    await call(sut, 'predict');
    await call(sut, 'predict');
    const res = new RecordingResponse();

    // Act
    const error = await captureAppError(call(sut, 'predict', {}, res));

    // Assert
    expect([error.code, error.message]).toEqual([ErrorCode.RATE_LIMITED, 'Rate limit exceeded: 2 requests per minute (REQUESTS_PER_MINUTE)']);
    expect(error.retryAfterSeconds).toBe(60);
    expect(res.rateHeaders()).toEqual({ limit: '2', remaining: '0', reset: '60' });
    expect(metrics.limited).toEqual(['minute']);
  });

  it('names the hour limit when that one is hit', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 100, requestsPerHour: 1 });
    await call(sut, 'predict');

    // Act
    const error = await captureAppError(call(sut, 'predict'));

    // Assert
    expect(error.message).toBe('Rate limit exceeded: 1 requests per hour (REQUESTS_PER_HOUR)');
    expect(error.retryAfterSeconds).toBe(3600);
    expect(metrics.limited).toEqual(['hour']);
  });

  it('holds a client to one budget across every prediction route', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 2, requestsPerHour: 100 });
    await call(sut, 'predict', { key: 'alpha' });
    await call(sut, 'infer', { key: 'alpha' });

    // Act
    const error = await captureAppError(call(sut, 'infer', { key: 'alpha' }));

    // Assert
    expect(error.code).toBe(ErrorCode.RATE_LIMITED);
  });

  it('keeps separate budgets per API key, even from one address, and per address without a key', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 1, requestsPerHour: 100 });
    await call(sut, 'predict', { key: 'alpha', ip: '10.0.0.1' });

    // Act
    const beta = await call(sut, 'predict', { key: 'beta', ip: '10.0.0.1' });
    const anonymous = await call(sut, 'predict', { ip: '10.0.0.1' });
    const refused = await captureAppError(call(sut, 'predict', { key: 'alpha', ip: '10.0.0.2' }));

    // Assert
    expect(beta.rateHeaders().remaining).toBe('0');
    expect(anonymous.rateHeaders().remaining).toBe('0');
    expect(refused.code).toBe(ErrorCode.RATE_LIMITED);
  });

  it('admits the client again once the window is over', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 1, requestsPerHour: 100 });
    await call(sut, 'predict');
    await captureAppError(call(sut, 'predict'));
    now += 60_000;

    // Act
    const res = await call(sut, 'predict');

    // Assert
    expect(res.rateHeaders()).toEqual({ limit: '1', remaining: '0', reset: '60' });
  });

  it('turns a limit set to 0 off, leaving the other one in force', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 0, requestsPerHour: 3 });

    // Act
    for (let i = 0; i < 2; i += 1) await call(sut, 'predict');
    const res = await call(sut, 'predict');
    const error = await captureAppError(call(sut, 'predict'));

    // Assert
    expect(res.rateHeaders()).toEqual({ limit: '3', remaining: '0', reset: '3600' });
    expect(error.message).toContain('per hour');
  });

  it('neither counts nor decorates routes that are not prediction routes', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 1, requestsPerHour: 1 });

    // Act
    const health = [await call(sut, 'health'), await call(sut, 'health')];
    const predict = await call(sut, 'predict');

    // Assert
    expect(health.map((r) => r.headers.size)).toEqual([0, 0]);
    expect(predict.rateHeaders().remaining).toBe('0');
  });

  it('honours route-level @Throttle and @SkipThrottle on prediction routes (the library path), with the same 429', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 100, requestsPerHour: 100 });
    await call(sut, 'strict');

    // Act
    const error = await captureAppError(call(sut, 'strict'));
    const exempt = [await call(sut, 'exempt'), await call(sut, 'exempt')];

    // Assert
    expect([error.code, error.message]).toEqual([ErrorCode.RATE_LIMITED, 'Rate limit exceeded: 1 requests per minute (REQUESTS_PER_MINUTE)']);
    expect(exempt.map((r) => r.headers.size)).toEqual([0, 0]);
  });

  it(promiseOnly ? 'answers a prediction route with a Promise' : 'answers a prediction route synchronously (no Promise for the router to await)', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 5, requestsPerHour: 10 });
    const req = { ip: '10.0.0.9', headers: {} };
    const context = {
      getType: () => 'http',
      getClass: () => ThrottledRoutes,
      getHandler: () => ThrottledRoutes.prototype.predict,
      switchToHttp: () => ({ getRequest: () => req, getResponse: () => new RecordingResponse(), getNext: () => undefined }),
    } as unknown as ExecutionContext;

    // Act
    const answer: unknown = sut.canActivate(context);

    // Assert
    if (promiseOnly) await expect(answer).resolves.toBe(true);
    else expect(answer).toBe(true);
  });

  it('lets non-http calls through without counting them', async () => {
    // Arrange
    const sut = await guardWith({ requestsPerMinute: 1, requestsPerHour: 1 });
    const rpc = { getType: () => 'rpc' } as unknown as ExecutionContext;

    // Act
    const allowed = await sut.canActivate(rpc);
    const res = await call(sut, 'predict');

    // Assert
    expect(allowed).toBe(true);
    expect(res.rateHeaders().remaining).toBe('0');
  });
});
