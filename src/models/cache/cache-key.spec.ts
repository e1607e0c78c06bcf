import { createHash } from 'node:crypto';

import { cacheKey, canonicalJson, modelIdOfKey } from './cache-key';

describe('canonicalJson', () => {
  it('sorts object keys recursively and keeps array order', () => {
    // Act
    const sut = canonicalJson({ b: [3, { z: 1, a: 2 }, 1], a: { d: true, c: 'x' } });

    // Assert
    expect(sut).toBe('{"a":{"c":"x","d":true},"b":[3,{"a":2,"z":1},1]}');
  });

  it('writes -0 as 0 and 1.0 as 1', () => {
    // Act
    const sut = canonicalJson([-0, 1.0, 0.5, -2]);

    // Assert
    expect(sut).toBe('[0,1,0.5,-2]');
  });

  it('follows JSON for undefined, NaN, Infinity and toJSON', () => {
    // Act
    const sut = canonicalJson({ gone: undefined, list: [undefined, NaN, Infinity], when: new Date(0) });

    // Assert
    expect(sut).toBe('{"list":[null,null,null],"when":"1970-01-01T00:00:00.000Z"}');
  });

  it('gives the same text as JSON.stringify for already-sorted input', () => {
    // Arrange
    const features = { petal_length: 1.4, petal_width: 0.2, sepal_length: 5.1, sepal_width: 3.5 };

    // Act
    const sut = canonicalJson(features);

    // Assert
    expect(sut).toBe(JSON.stringify(features));
  });
});

describe('cacheKey', () => {
  const features = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

  it('is model id, version and the SHA-256 hex of the canonical features', () => {
    // Arrange
    const digest = createHash('sha256').update(canonicalJson(features)).digest('hex');

    // Act
    const sut = cacheKey('iris', 2, features);

    // Assert
    expect(sut).toBe(`iris:2:${digest}`);
    expect(sut).toMatch(/^iris:2:[0-9a-f]{64}$/);
  });

  it('does not depend on the order of object keys', () => {
    // Arrange
    const reordered = { petal_width: 0.2, petal_length: 1.4, sepal_width: 3.5, sepal_length: 5.1 };

    // Act
    const sut = cacheKey('iris', 2, reordered);

    // Assert
    expect(sut).toBe(cacheKey('iris', 2, features));
  });

  it('treats -0 and 0 as the same feature value', () => {
    // Act
    const sut = cacheKey('iris', 2, { ...features, petal_width: -0 });

    // Assert
    expect(sut).toBe(cacheKey('iris', 2, { ...features, petal_width: 0 }));
  });

  it.each([
    ['the version', () => cacheKey('iris', 1, features)],
    ['a value', () => cacheKey('iris', 2, { ...features, petal_width: 0.3 })],
    ['the model', () => cacheKey('penguins', 2, features)],
  ])('differs by %s', (_, other) => {
    // Act
    const sut = other();

    // Assert
    expect(sut).not.toBe(cacheKey('iris', 2, features));
  });

  it('depends on array order', () => {
    // Act
    const sut = cacheKey('iris', 2, [5.1, 3.5, 0.2, 1.4]);

    // Assert
    expect(sut).not.toBe(cacheKey('iris', 2, [5.1, 3.5, 1.4, 0.2]));
  });
});

describe('modelIdOfKey', () => {
  it.each([
    ['iris:2:abc', 'iris'],
    ['ns:model:10:abc', 'ns:model'],
    ['plain', 'plain'],
  ])('reads the model id of %s', (key, modelId) => {
    // Act
    const sut = modelIdOfKey(key);

    // Assert
    expect(sut).toBe(modelId);
  });
});
