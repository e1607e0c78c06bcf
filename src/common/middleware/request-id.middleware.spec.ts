import type { NextFunction, Request, Response } from 'express';

import { requestIdMiddleware, requestIdOf, resolveRequestId } from './request-id.middleware';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('resolveRequestId', () => {
  it.each(['a', 'abc-123', 'trace.id_01-XYZ', '123e4567-e89b-42d3-a456-426614174000', 'x'.repeat(128)])(
    'keeps the sane id %j',
    (incoming) => {
      // Act
      const sut = resolveRequestId(incoming);

      // Assert
      expect(sut).toBe(incoming);
    },
  );

  it.each([
    ['129 characters', 'x'.repeat(129)],
    ['a space', 'abc def'],
    ['an empty string', ''],
    ['a newline (header injection)', 'abc\r\nSet-Cookie: x=1'],
    ['a slash', 'a/b'],
    ['non-ASCII', 'idé'],
    ['a number', 42],
    ['an array (repeated header)', ['abc', 'def']],
    ['undefined', undefined],
    ['null', null],
  ])('replaces %s with a UUID v4', (_, incoming) => {
    // Act
    const sut = resolveRequestId(incoming);

    // Assert
    expect(sut).toMatch(UUID_V4);
  });

  it('generates a different id each time', () => {
    // Act
    const first = resolveRequestId(undefined);
    const second = resolveRequestId(undefined);

    // Assert
    expect(first).not.toBe(second);
  });
});

describe('requestIdMiddleware', () => {
  function run(headers: Record<string, unknown>) {
    const req = { headers } as unknown as Request;
    const setHeader = jest.fn();
    const res = { setHeader } as unknown as Response;
    const next: NextFunction = jest.fn();
    requestIdMiddleware(req, res, next);
    return { req, setHeader, next };
  }

  it('sets req.id, echoes the header and calls next', () => {
    // Act
    const { req, setHeader, next } = run({ 'x-request-id': 'abc-123' });

    // Assert
    expect(requestIdOf(req)).toBe('abc-123');
    expect(setHeader).toHaveBeenCalledWith('X-Request-Id', 'abc-123');
    expect(next).toHaveBeenCalledTimes(1);
  });

  it('generates and echoes an id when the header is insane', () => {
    // Act
    const { req, setHeader } = run({ 'x-request-id': 'bad id' });

    // Assert
    expect(requestIdOf(req)).toMatch(UUID_V4);
    expect(setHeader).toHaveBeenCalledWith('X-Request-Id', requestIdOf(req));
  });
});

describe('requestIdOf', () => {
  it("answers 'unknown' for a request that did not pass the middleware", () => {
    // Act
    const sut = requestIdOf({} as Request);

    // Assert
    expect(sut).toBe('unknown');
  });
});
