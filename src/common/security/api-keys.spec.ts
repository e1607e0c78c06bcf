import * as crypto from 'node:crypto';

import { matchApiKey, parseApiKeys } from './api-keys';

// Wrap (not replace) timingSafeEqual so the test can see how keys are compared.
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});

const hex = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

describe('parseApiKeys', () => {
  it('reads name:key, name:sha256:<hex> and bare keys (named by prefix)', () => {
    // Act
    const sut = parseApiKeys(`alpha:k1, beta:sha256:${hex('k2')} ,k3`, 'client');
    // Assert
    expect(sut.map((e) => e.name)).toEqual(['alpha', 'beta', 'client-3']);
    expect(sut[1].digest.toString('hex')).toBe(hex('k2'));
  });

  it('keeps colons inside a plain key', () => {
    const sut = parseApiKeys('svc:abc:def', 'client');
    expect(matchApiKey('abc:def', sut)).toBe('svc');
  });

  it.each([['alpha:'], [':key'], ['alpha:sha256:nothex'], ['a:k1,a:k2']])('rejects %s', (csv) => {
    expect(() => parseApiKeys(csv, 'client')).toThrow();
  });

  it('is empty for an empty variable', () => {
    expect(parseApiKeys(' , ', 'client')).toEqual([]);
  });
});

describe('matchApiKey', () => {
  const entries = parseApiKeys(`alpha:key-alpha,beta:sha256:${hex('key-beta')}`, 'client');

  it('matches plain and hashed keys and refuses near misses', () => {
    expect(matchApiKey('key-alpha', entries)).toBe('alpha');
    expect(matchApiKey('key-beta', entries)).toBe('beta');
    expect(matchApiKey('key-alphA', entries)).toBeUndefined();
    expect(matchApiKey('', entries)).toBeUndefined();
    expect(matchApiKey(`sha256:${hex('key-beta')}`, entries)).toBeUndefined();
  });

  it('compares with crypto.timingSafeEqual against every entry, whatever matches', () => {
    // Arrange
    const spy = crypto.timingSafeEqual as jest.MockedFunction<typeof crypto.timingSafeEqual>;
    spy.mockClear();
    // Act
    matchApiKey('key-alpha', entries);
    // Assert: no early exit on the first match, equal-length digests each time
    expect(spy).toHaveBeenCalledTimes(entries.length);
    for (const [a, b] of spy.mock.calls) expect((a as Buffer).length).toBe((b as Buffer).length);
  });
});
