import { createHash } from 'node:crypto';

import { NamedTensors, Tensor } from '../tensors/tensor';
import { cacheKey, modelIdOfKey } from './cache-key';

const fp32 = (values: number[], shape = [1, values.length]): Tensor => ({ datatype: 'FP32', shape, data: Float32Array.from(values) });
const row = (values: number[]): NamedTensors => ({ input: fp32(values) });

describe('cacheKey', () => {
  const setosa = row([5.1, 3.5, 1.4, 0.2]);

  it('is model id, version and the SHA-256 hex of each input: name, datatype, shape and data bytes', () => {
    // Arrange
    const data = setosa.input.data as Float32Array;
    const digest = createHash('sha256')
      .update('"input":FP32:[1,4]:')
      .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      .update(';')
      .digest('hex');

    // Act
    const sut = cacheKey('iris', 2, setosa);

    // Assert
    expect(sut).toBe(`iris:2:${digest}`);
    expect(sut).toMatch(/^iris:2:[0-9a-f]{64}$/);
  });

  it.each([
    ['fits the one-shot buffer', 1000],
    ['is larger than the one-shot buffer (hashed as a stream)', 5000],
  ])('hashes the same bytes in the same layout when the input %s', (_name, n) => {
    // Arrange
    const values = Array.from({ length: n }, (_, i) => i / 7);
    const inputs: NamedTensors = { b: fp32(values, [1, n]), 'a-ü': fp32([1, 2], [1, 2]) };
    const digest = createHash('sha256');
    for (const name of ['a-ü', 'b']) {
      const t = inputs[name];
      const data = t.data as Float32Array;
      digest.update(`${JSON.stringify(name)}:FP32:[${t.shape.join(',')}]:`).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).update(';');
    }

    // Act
    const sut = cacheKey('m', 1, inputs);

    // Assert
    expect(sut).toBe(`m:1:${digest.digest('hex')}`);
  });

  it('does not depend on the order of the inputs', () => {
    // Arrange
    const ids: Tensor = { datatype: 'INT64', shape: [1], data: BigInt64Array.from([7n]) };
    const x = fp32([1, 2]);

    // Act
    const sut = cacheKey('m', 1, { x, ids });

    // Assert
    expect(sut).toBe(cacheKey('m', 1, { ids, x }));
  });

  it('is the same for the same data in a view of a larger buffer (binary request bodies)', () => {
    // Arrange
    const body = new Float32Array([9, 5.1, 3.5, 1.4, 0.2, 9]);
    const view: NamedTensors = { input: { datatype: 'FP32', shape: [1, 4], data: body.subarray(1, 5) } };

    // Act
    const sut = cacheKey('iris', 2, view);

    // Assert
    expect(sut).toBe(cacheKey('iris', 2, setosa));
  });

  it.each([
    ['FP32', (v: number) => Float32Array.from([1, v])],
    ['FP64', (v: number) => Float64Array.from([1, v])],
  ] as const)('treats -0 and 0 as the same %s feature value', (datatype, data) => {
    // Act
    const sut = cacheKey('iris', 2, { input: { datatype, shape: [1, 2], data: data(-0) } });

    // Assert
    expect(sut).toBe(cacheKey('iris', 2, { input: { datatype, shape: [1, 2], data: data(0) } }));
  });

  it('treats FP16 -0 (bits 0x8000) and 0 as the same value', () => {
    // Act
    const sut = cacheKey('m', 1, { x: { datatype: 'FP16', shape: [2], data: Uint16Array.from([0x3c00, 0x8000]) } });

    // Assert
    expect(sut).toBe(cacheKey('m', 1, { x: { datatype: 'FP16', shape: [2], data: Uint16Array.from([0x3c00, 0]) } }));
  });

  it('keeps the caller\'s -0 as it is', () => {
    // Arrange
    const data = Float32Array.from([-0]);

    // Act
    cacheKey('m', 1, { x: { datatype: 'FP32', shape: [1], data } });

    // Assert
    expect(Object.is(data[0], -0)).toBe(true);
  });

  it.each([
    ['the version', () => cacheKey('iris', 1, setosa)],
    ['a value', () => cacheKey('iris', 2, row([5.1, 3.5, 1.4, 0.3]))],
    ['the model', () => cacheKey('penguins', 2, setosa)],
    ['the input name', () => cacheKey('iris', 2, { x: setosa.input })],
    ['the shape', () => cacheKey('iris', 2, { input: fp32([5.1, 3.5, 1.4, 0.2], [2, 2]) })],
    ['the datatype', () => cacheKey('iris', 2, { input: { datatype: 'FP64', shape: [1, 4], data: Float64Array.from([5.1, 3.5, 1.4, 0.2]) } })],
  ])('differs by %s', (_, other) => {
    // Act
    const sut = other();

    // Assert
    expect(sut).not.toBe(cacheKey('iris', 2, setosa));
  });

  it('depends on data order', () => {
    // Act
    const sut = cacheKey('iris', 2, row([5.1, 3.5, 0.2, 1.4]));

    // Assert
    expect(sut).not.toBe(cacheKey('iris', 2, row([5.1, 3.5, 1.4, 0.2])));
  });

  it('tells BYTES elements apart where they split, not only by their concatenation', () => {
    // Act
    const sut = cacheKey('m', 1, { text: { datatype: 'BYTES', shape: [2], data: ['ab', 'c'] } });

    // Assert
    expect(sut).not.toBe(cacheKey('m', 1, { text: { datatype: 'BYTES', shape: [2], data: ['a', 'bc'] } }));
    expect(sut).toBe(cacheKey('m', 1, { text: { datatype: 'BYTES', shape: [2], data: ['ab', 'c'] } }));
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
