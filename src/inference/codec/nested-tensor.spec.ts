import { TensorSpec } from '../../models/repository/model-manifest';
import { Tensor } from '../../models/tensors/tensor';
import { tensorFromNested, toHalfBits, typedData } from '../codec/nested-tensor';

const spec = (datatype: TensorSpec['datatype'], shape: number[]): TensorSpec => ({ name: 'x', datatype, shape });

function tensor(result: Tensor | string): Tensor {
  if (typeof result === 'string') throw new Error(`expected a tensor, got: ${result}`);
  return result;
}

function problem(result: Tensor | string): string {
  if (typeof result !== 'string') throw new Error(`expected a problem, got a tensor of shape [${result.shape}]`);
  return result;
}

describe('tensorFromNested', () => {
  describe('shape', () => {
    it('reads the shape from the nesting, row-major', () => {
      // Act
      const sut = tensor(tensorFromNested([[[1, 2, 3], [4, 5, 6]]], spec('FP32', [-1, 2, 3])));

      // Assert
      expect(sut.shape).toEqual([1, 2, 3]);
      expect(Array.from(sut.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('accepts any size for a -1 dimension', () => {
      // Act
      const sut = tensor(tensorFromNested([[1, 2], [3, 4], [5, 6]], spec('FP32', [-1, 2])));

      // Assert
      expect(sut.shape).toEqual([3, 2]);
    });

    it('accepts a scalar for a rank-0 input', () => {
      // Act
      const sut = tensor(tensorFromNested(7, spec('FP64', [])));

      // Assert
      expect(sut.shape).toEqual([]);
      expect(sut.data).toEqual(Float64Array.from([7]));
    });

    it.each([
      ['too shallow', [1, 2, 3, 4], 1],
      ['too deep', [[[1], [2], [3], [4]]], 3],
      ['a scalar', 5, 0],
    ])('rejects a rank mismatch (%s)', (_, value, rank) => {
      // Act
      const sut = problem(tensorFromNested(value, spec('FP32', [-1, 4])));

      // Assert
      expect(sut).toBe(`must have rank 2 (shape [-1, 4], -1 = any), got rank ${rank}`);
    });

    it('rejects a fixed dimension of the wrong size', () => {
      // Act
      const sut = problem(tensorFromNested([[1, 2, 3]], spec('FP32', [-1, 4])));

      // Assert
      expect(sut).toBe('dimension 1 must be 4, got 3');
    });

    it.each([
      ['a shorter later row', [[1, 2], [3]]],
      ['a longer later row', [[1], [2, 3]]],
      ['a scalar where a row belongs', [[1, 2], 3]],
    ])('rejects ragged arrays (%s)', (_, value) => {
      // Act
      const sut = problem(tensorFromNested(value, spec('FP32', [-1, -1])));

      // Assert
      expect(sut).toMatch(/^is not rectangular: expected \d+ items at depth 1$/);
    });

    it('rejects an array nested deeper than the shape read from the first items', () => {
      // Act
      const sut = problem(tensorFromNested([[1, [2]]], spec('FP32', [-1, 2])));

      // Assert
      expect(sut).toBe('is nested deeper than its shape [1, 2]');
    });
  });

  describe('image-sized nested data', () => {
    /** [1, 3, h, w] of distinct values, nested as JSON carries an image, and the same values flat. */
    const image = (h: number, w: number) => {
      const flat = Array.from({ length: 3 * h * w }, (_, i) => Math.sin(i) * 3);
      const at = (c: number, y: number) => flat.slice((c * h + y) * w, (c * h + y + 1) * w);
      return { flat, nested: [[0, 1, 2].map((c) => Array.from({ length: h }, (_, y) => at(c, y)))] };
    };

    it('fills the typed array row-major in one walk, exactly as the flat values convert', () => {
      // Arrange
      const { flat, nested } = image(64, 48);

      // Act
      const sut = tensor(tensorFromNested(nested, spec('FP32', [-1, 3, -1, -1])));

      // Assert
      expect(sut.shape).toEqual([1, 3, 64, 48]);
      expect(sut.data).toEqual(typedData(flat, spec('FP32', [-1])));
    });

    it('names a bad value deep inside, and a row that is short', () => {
      // Arrange
      const { nested } = image(8, 8);
      const bad = structuredClone(nested);
      bad[0][2][7][3] = 'x' as unknown as number;
      const short = structuredClone(nested);
      short[0][1][5] = short[0][1][5].slice(1);

      // Act / Assert
      expect(problem(tensorFromNested(bad, spec('FP32', [-1, 3, -1, -1])))).toBe('must hold finite numbers (FP32)');
      expect(problem(tensorFromNested(short, spec('FP32', [-1, 3, -1, -1])))).toBe('is not rectangular: expected 8 items at depth 3');
      expect(problem(tensorFromNested([[[[1e39]]]], spec('FP32', [-1, 1, -1, -1])))).toBe('value 1e+39 is out of range for FP32 (it would round to infinity)');
    });
  });

  describe('datatypes', () => {
    it('encodes FP32 as Float32Array', () => {
      // Act
      const sut = tensor(tensorFromNested([0.5, 1.25], spec('FP32', [-1])));

      // Assert
      expect(sut.datatype).toBe('FP32');
      expect(sut.data).toBeInstanceOf(Float32Array);
    });

    it('encodes INT64 as BigInt64Array of exact values', () => {
      // Act
      const sut = tensor(tensorFromNested([[1, -2, 9007199254740991]], spec('INT64', [-1, 3])));

      // Assert
      expect(sut.data).toBeInstanceOf(BigInt64Array);
      expect(Array.from(sut.data as BigInt64Array)).toEqual([1n, -2n, 9007199254740991n]);
    });

    it('encodes UINT64 as BigUint64Array', () => {
      // Act
      const sut = tensor(tensorFromNested([3], spec('UINT64', [-1])));

      // Assert
      expect(sut.data).toEqual(BigUint64Array.from([3n]));
    });

    it('encodes INT32 as Int32Array', () => {
      // Act
      const sut = tensor(tensorFromNested([[1, 2]], spec('INT32', [1, 2])));

      // Assert
      expect(sut.data).toEqual(Int32Array.from([1, 2]));
    });

    it.each(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64'] as const)('rejects non-integers for %s', (datatype) => {
      // Act
      const sut = problem(tensorFromNested([1, 2.5], spec(datatype, [-1])));

      // Assert
      expect(sut).toBe(`must hold integers (${datatype})`);
    });

    it.each([['a string', '1'], ['null', null], ['Infinity', Infinity], ['NaN', NaN]])('rejects %s in a numeric tensor', (_, value) => {
      // Act
      const sut = problem(tensorFromNested([1, value], spec('FP32', [-1])));

      // Assert
      expect(sut).toBe('must hold finite numbers (FP32)');
    });

    it('counts booleans as 1 and 0 in numeric tensors', () => {
      // Act
      const sut = tensor(tensorFromNested([true, false], spec('INT32', [-1])));

      // Assert
      expect(sut.data).toEqual(Int32Array.from([1, 0]));
    });

    it('keeps BYTES as an array of strings', () => {
      // Act
      const sut = tensor(tensorFromNested([['a', 'b'], ['c', 'd']], spec('BYTES', [-1, 2])));

      // Assert
      expect(sut.datatype).toBe('BYTES');
      expect(sut.shape).toEqual([2, 2]);
      expect(sut.data).toEqual(['a', 'b', 'c', 'd']);
    });

    it('rejects non-strings in a BYTES tensor', () => {
      // Act
      const sut = problem(tensorFromNested(['a', 1], spec('BYTES', [-1])));

      // Assert
      expect(sut).toBe('must hold strings (BYTES)');
    });
  });
});

describe('tensorFromNested integer ranges and FP16 (regressions)', () => {
  const spec = (datatype: 'UINT8' | 'INT32' | 'UINT64' | 'BOOL' | 'FP16') => ({ name: 'x', datatype, shape: [-1] });

  it.each([
    ['UINT8', [300]], ['UINT8', [-1]], ['INT32', [2 ** 31]], ['UINT64', [-1]], ['BOOL', [2]], ['BOOL', [0.5]],
  ] as const)('refuses %s values %j instead of wrapping them', (datatype, values) => {
    // Act
    const sut = tensorFromNested([...values], spec(datatype));
    // Assert
    expect(typeof sut).toBe('string');
  });

  it('encodes FP16 values as half-precision bits, not truncated integers', () => {
    // Act
    const sut = tensorFromNested([1.5, -2, 65504], spec('FP16'));
    // Assert
    expect(typeof sut).not.toBe('string');
    expect(Array.from((sut as { data: Uint16Array }).data)).toEqual([0x3e00, 0xc000, 0x7bff]);
  });

  it('toHalfBits rounds to nearest even and saturates to infinity', () => {
    expect(toHalfBits(0.0001)).toBe(0x068e);
    expect(toHalfBits(1e5)).toBe(0x7c00);
    expect(toHalfBits(-0)).toBe(0x8000);
  });
});
