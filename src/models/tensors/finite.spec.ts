import { isFiniteDeep, nonFiniteOutputs, overlongStrings } from './finite';

describe('nonFiniteOutputs', () => {
  it('names the float outputs holding NaN or ±Infinity, and ignores integer outputs', () => {
    // Act
    const sut = nonFiniteOutputs({
      ok: { datatype: 'FP32', shape: [2], data: Float32Array.from([0.5, 1]) },
      nan: { datatype: 'FP32', shape: [2], data: Float32Array.from([0.5, Number.NaN]) },
      inf: { datatype: 'FP64', shape: [1], data: Float64Array.from([-Infinity]) },
      label: { datatype: 'INT64', shape: [1], data: BigInt64Array.from([3n]) },
    });

    // Assert
    expect(sut).toEqual(['nan', 'inf']);
  });
});

describe('isFiniteDeep', () => {
  it.each([
    [{ class: 'setosa', confidence: 0.9, probabilities: { setosa: 0.9, versicolor: 0.1 } }, true],
    [{ value: [1, 2, 3] }, true],
    [{ class: 'setosa', confidence: Number.NaN, probabilities: { setosa: Number.NaN } }, false],
    [{ output: [[0.1, Infinity]] }, false],
    ['text', true],
  ])('%j → %s', (value, expected) => {
    expect(isFiniteDeep(value)).toBe(expected);
  });
});

describe('overlongStrings', () => {
  it('names the first string over the limit in each BYTES input, and ignores numeric inputs', () => {
    // Act
    const sut = overlongStrings({
      short: { datatype: 'BYTES', shape: [2], data: ['ab', 'cd'] },
      long: { datatype: 'BYTES', shape: [3], data: ['ok', 'x'.repeat(11), 'y'.repeat(20)] },
      nums: { datatype: 'FP32', shape: [1], data: Float32Array.from([1]) },
    }, 10);

    // Assert
    expect(sut).toEqual([{ field: 'inputs (long).data[1]', message: 'string of 11 characters exceeds MAX_STRING_LENGTH (10)' }]);
  });
});
