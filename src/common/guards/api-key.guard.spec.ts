import { ExecutionContext, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { createHash } from 'node:crypto';

import { AllConfig, buildConfig } from '../../config/app-config';
import { Admin, Public } from '../decorators/access.decorator';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';
import { contextOf } from '../http/request-context';
import { ApiKeyGuard, presentedKey } from './api-key.guard';

/** Handlers with each access level, as controllers declare them. */
class RoutesController {
  predict(): void {}
  @Admin() promote(): void {}
  @Public() health(): void {}
}

@Admin()
class AdminController {
  unload(): void {}
  @Public() status(): void {}
}

type Headers = Record<string, string | string[] | undefined>;
type Handler = (...args: never[]) => unknown;

const request = (headers: Headers = {}) => ({ headers });

function contextFor(req: object, controller: new () => object, handler: Handler, type = 'http'): ExecutionContext {
  return {
    getType: () => type,
    getClass: () => controller,
    getHandler: () => handler,
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({}), getNext: () => undefined }),
  } as unknown as ExecutionContext;
}

const ROUTES = RoutesController.prototype;
const client = (req: object) => contextFor(req, RoutesController, ROUTES.predict);
const admin = (req: object) => contextFor(req, RoutesController, ROUTES.promote);
const publicRoute = (req: object) => contextFor(req, RoutesController, ROUTES.health);

const guardWith = (env: Record<string, string>, reflector = new Reflector()) =>
  new ApiKeyGuard(reflector, new ConfigService<AllConfig, true>(buildConfig(env)));

const KEYS = { API_KEYS: 'alpha:client-secret', ADMIN_API_KEYS: 'ops:admin-secret' };

/** The AppError `act` throws. */
function thrown(act: () => unknown): AppError {
  try {
    act();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

describe('ApiKeyGuard', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(() => jest.restoreAllMocks());

  describe('with API_KEYS and ADMIN_API_KEYS set', () => {
    let sut: ApiKeyGuard;

    beforeEach(() => {
      sut = guardWith(KEYS);
    });

    it.each([
      ['Authorization: Bearer', { authorization: 'Bearer client-secret' }],
      ['Authorization: bearer (any case)', { authorization: 'bearer client-secret' }],
      ['X-API-Key', { 'x-api-key': 'client-secret' }],
    ])('lets a client key through on a client route (%s) and names the client after the key', (_, headers) => {
      // Arrange
      const req = request(headers);

      // Act
      const allowed = sut.canActivate(client(req));

      // Assert
      expect(allowed).toBe(true);
      expect(contextOf(req).client).toBe('alpha');
    });

    it.each([
      ['no key', {}, 'An API key is required (Authorization: Bearer <key> or X-API-Key)'],
      ['a wrong key', { 'x-api-key': 'client-secreT' }, 'Invalid API key'],
      ['a wrong bearer key', { authorization: 'Bearer nope' }, 'Invalid API key'],
      ['a non-bearer Authorization', { authorization: 'Basic Y2xpZW50LXNlY3JldA==' }, 'An API key is required (Authorization: Bearer <key> or X-API-Key)'],
      ['an empty X-API-Key', { 'x-api-key': '' }, 'An API key is required (Authorization: Bearer <key> or X-API-Key)'],
    ])('refuses %s on a client route with 401 UNAUTHORIZED', (_, headers, message) => {
      // Arrange
      const req = request(headers);

      // Act
      const error = thrown(() => sut.canActivate(client(req)));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.UNAUTHORIZED, message]);
      expect(contextOf(req).client).toBeUndefined();
    });

    it('lets an admin key through on a client route, named after the admin key', () => {
      // Arrange
      const req = request({ authorization: 'Bearer admin-secret' });

      // Act
      const allowed = sut.canActivate(client(req));

      // Assert
      expect(allowed).toBe(true);
      expect(contextOf(req).client).toBe('ops');
    });

    it('lets an admin key through on an admin route', () => {
      // Arrange
      const req = request({ 'x-api-key': 'admin-secret' });

      // Act
      const allowed = sut.canActivate(admin(req));

      // Assert
      expect(allowed).toBe(true);
      expect(contextOf(req).client).toBe('ops');
    });

    it.each([
      ['no key', {}, ErrorCode.UNAUTHORIZED, 'An admin API key is required'],
      ['a wrong key', { 'x-api-key': 'guess' }, ErrorCode.UNAUTHORIZED, 'Invalid admin API key'],
      ['a client key', { 'x-api-key': 'client-secret' }, ErrorCode.FORBIDDEN, 'This route needs an admin key (ADMIN_API_KEYS); a client key is not enough'],
    ])('refuses %s on an admin route', (_, headers, code, message) => {
      // Arrange
      const req = request(headers);

      // Act
      const error = thrown(() => sut.canActivate(admin(req)));

      // Assert
      expect([error.code, error.message]).toEqual([code, message]);
      expect(contextOf(req).client).toBeUndefined();
    });

    it('lets anyone through on a public route, without naming a client', () => {
      // Arrange
      const req = request({ 'x-api-key': 'wrong' });

      // Act
      const allowed = sut.canActivate(publicRoute(req));

      // Assert
      expect(allowed).toBe(true);
      expect(contextOf(req).client).toBeUndefined();
    });

    it('applies a controller-level @Admin() to its handlers, and a handler-level @Public() over it', () => {
      // Arrange
      const unload = contextFor(request({ 'x-api-key': 'client-secret' }), AdminController, AdminController.prototype.unload);
      const status = contextFor(request(), AdminController, AdminController.prototype.status);

      // Act
      const error = thrown(() => sut.canActivate(unload));
      const allowed = sut.canActivate(status);

      // Assert
      expect(error.code).toBe(ErrorCode.FORBIDDEN);
      expect(allowed).toBe(true);
    });

    it('prefers the Authorization bearer key over X-API-Key', () => {
      // Arrange
      const req = request({ authorization: 'Bearer admin-secret', 'x-api-key': 'client-secret' });

      // Act
      sut.canActivate(client(req));

      // Assert
      expect(contextOf(req).client).toBe('ops');
    });

    it('lets non-http calls through untouched (gRPC has its own gate)', () => {
      // Arrange
      const context = contextFor(request(), RoutesController, ROUTES.promote, 'rpc');

      // Act
      const allowed = sut.canActivate(context);

      // Assert
      expect(allowed).toBe(true);
    });
  });

  it('accepts a key configured as its sha256 digest', () => {
    // Arrange
    const digest = createHash('sha256').update('hashed-secret').digest('hex');
    const sut = guardWith({ API_KEYS: `svc:sha256:${digest}` });
    const req = request({ 'x-api-key': 'hashed-secret' });

    // Act
    sut.canActivate(client(req));

    // Assert
    expect(contextOf(req).client).toBe('svc');
  });

  describe('with API_KEYS empty', () => {
    it('leaves client routes open, without naming a client, and warns once at start', () => {
      // Arrange
      const warn = jest.spyOn(Logger.prototype, 'warn');
      const sut = guardWith({ ADMIN_API_KEYS: KEYS.ADMIN_API_KEYS });
      const req = request();

      // Act
      const allowed = sut.canActivate(client(req));

      // Assert
      expect(allowed).toBe(true);
      expect(contextOf(req).client).toBeUndefined();
      expect(warn).toHaveBeenCalledWith('API_KEYS is empty: prediction routes are open to any caller');
    });

    it('still names the client when an admin key is presented on an open client route', () => {
      // Arrange
      const sut = guardWith({ ADMIN_API_KEYS: KEYS.ADMIN_API_KEYS });
      const req = request({ 'x-api-key': 'admin-secret' });

      // Act
      sut.canActivate(client(req));

      // Assert
      expect(contextOf(req).client).toBe('ops');
    });

    it('still needs an admin key on admin routes', () => {
      // Arrange
      const sut = guardWith({ ADMIN_API_KEYS: KEYS.ADMIN_API_KEYS });

      // Act
      const error = thrown(() => sut.canActivate(admin(request())));

      // Assert
      expect(error.code).toBe(ErrorCode.UNAUTHORIZED);
    });
  });

  it('does not warn when API_KEYS is set', () => {
    // Arrange
    const warn = jest.spyOn(Logger.prototype, 'warn');

    // Act
    guardWith(KEYS);

    // Assert
    expect(warn).not.toHaveBeenCalled();
  });

  it.each([
    ['no key', {}],
    ['a client key', { 'x-api-key': 'client-secret' }],
    ['what would be an admin key', { 'x-api-key': 'admin-secret' }],
  ])('answers admin routes with 403 naming ADMIN_API_KEYS when it is empty, given %s', (_, headers) => {
    // Arrange
    const sut = guardWith({ API_KEYS: `${KEYS.API_KEYS},admin-secret` });

    // Act
    const error = thrown(() => sut.canActivate(admin(request(headers))));

    // Assert
    expect([error.code, error.message]).toEqual([ErrorCode.FORBIDDEN, 'Admin routes are disabled: set ADMIN_API_KEYS to enable them']);
  });

  it("reads a handler's access level once, not on every request", () => {
    // Arrange
    const reflector = new Reflector();
    const lookups = jest.spyOn(reflector, 'getAllAndOverride');
    const sut = guardWith(KEYS, reflector);

    // Act
    for (let i = 0; i < 3; i += 1) sut.canActivate(client(request({ 'x-api-key': 'client-secret' })));

    // Assert
    expect(lookups).toHaveBeenCalledTimes(1);
  });
});

describe('presentedKey', () => {
  it.each<[string, Headers, string | undefined]>([
    ['a bearer token', { authorization: 'Bearer abc' }, 'abc'],
    ['a bearer token with extra spaces', { authorization: 'Bearer   abc' }, 'abc'],
    ['an X-API-Key', { 'x-api-key': 'abc' }, 'abc'],
    ['a bearer without a token, falling back to X-API-Key', { authorization: 'Bearer ', 'x-api-key': 'xyz' }, 'xyz'],
    ['a bearer token with a space inside (not a token)', { authorization: 'Bearer a b' }, undefined],
    ['a repeated X-API-Key header (an array)', { 'x-api-key': ['a', 'b'] }, undefined],
    ['nothing', {}, undefined],
  ])('reads %s', (_, headers, expected) => {
    // Act
    const key = presentedKey(request(headers));

    // Assert
    expect(key).toBe(expected);
  });
});
