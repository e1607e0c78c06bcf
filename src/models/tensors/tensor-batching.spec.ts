import { NamedTensors, Tensor } from './tensor';
import { canStack, rowsOf, stack, unstack } from './tensor-batching';

const fp32 = (shape: number[], values: number[]): Tensor => ({ datatype: 'FP32', shape, data: Float32Array.from(values) });

describe('tensor batching', () => {
  describe('stack', () => {
    it('concatenates requests along dim 0 in order', () => {
      // Arrange
      const requests: NamedTensors[] = [
        { input: fp32([1, 2], [1, 2]) },
        { input: fp32([2, 2], [3, 4, 5, 6]) },
        { input: fp32([1, 2], [7, 8]) },
      ];

      // Act
      const sut = stack(requests);

      // Assert
      expect(sut.input.shape).toEqual([4, 2]);
      expect(sut.input.datatype).toBe('FP32');
      expect(sut.input.data).toEqual(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    });

    it('keeps the typed array kind of each input', () => {
      // Arrange
      const requests: NamedTensors[] = [
        { ids: { datatype: 'INT64', shape: [1, 2], data: BigInt64Array.from([1n, 2n]) }, words: { datatype: 'BYTES', shape: [1], data: ['a'] } },
        { ids: { datatype: 'INT64', shape: [1, 2], data: BigInt64Array.from([3n, 4n]) }, words: { datatype: 'BYTES', shape: [1], data: ['b'] } },
      ];

      // Act
      const sut = stack(requests);

      // Assert
      expect(sut.ids.data).toEqual(BigInt64Array.from([1n, 2n, 3n, 4n]));
      expect(sut.ids.shape).toEqual([2, 2]);
      expect(sut.words.data).toEqual(['a', 'b']);
      expect(sut.words.shape).toEqual([2]);
    });
  });

  describe('unstack', () => {
    it('gives each request back its own rows, in order (round trip)', () => {
      // Arrange
      const requests: NamedTensors[] = [
        { input: fp32([2, 3], [1, 2, 3, 4, 5, 6]) },
        { input: fp32([1, 3], [7, 8, 9]) },
        { input: fp32([3, 3], [10, 11, 12, 13, 14, 15, 16, 17, 18]) },
      ];
      const batched = stack(requests);

      // Act
      const sut = unstack(batched, requests.map(rowsOf));

      // Assert
      expect(sut).toEqual(requests);
    });

    it('splits every output by the same row counts', () => {
      // Arrange
      const outputs: NamedTensors = {
        label: { datatype: 'INT64', shape: [3], data: BigInt64Array.from([0n, 2n, 1n]) },
        probabilities: fp32([3, 2], [0.9, 0.1, 0.2, 0.8, 0.4, 0.6]),
      };

      // Act
      const sut = unstack(outputs, [1, 2]);

      // Assert
      expect(sut[0].label).toEqual({ datatype: 'INT64', shape: [1], data: BigInt64Array.from([0n]) });
      expect(sut[1].label).toEqual({ datatype: 'INT64', shape: [2], data: BigInt64Array.from([2n, 1n]) });
      expect(sut[1].probabilities).toEqual(fp32([2, 2], [0.2, 0.8, 0.4, 0.6]));
    });

    it('throws when an output lacks the batch rows in dim 0', () => {
      // Arrange
      const outputs: NamedTensors = { pooled: fp32([1, 2], [0.5, 0.5]) };

      // Act
      const act = () => unstack(outputs, [1, 2]);

      // Assert
      expect(act).toThrow("does not have the batch's 3 rows in dim 0");
    });

    it('throws for a scalar output', () => {
      // Arrange
      const outputs: NamedTensors = { loss: fp32([], [0.5]) };

      // Act
      const act = () => unstack(outputs, [1]);

      // Assert
      expect(act).toThrow('does not have the batch');
    });
  });

  describe('canStack', () => {
    it('is true for the same names, datatypes and trailing dims, whatever the row counts', () => {
      // Arrange
      const requests: NamedTensors[] = [
        { a: fp32([1, 4], [1, 2, 3, 4]), b: fp32([1], [1]) },
        { b: fp32([3], [1, 2, 3]), a: fp32([3, 4], new Array(12).fill(0)) },
      ];

      // Act
      const sut = canStack(requests);

      // Assert
      expect(sut).toBe(true);
    });

    it('is true for a single request', () => {
      // Act
      const sut = canStack([{ a: fp32([1, 2], [1, 2]) }]);

      // Assert
      expect(sut).toBe(true);
    });

    it('is false for different trailing dims', () => {
      // Act
      const sut = canStack([{ a: fp32([1, 2], [1, 2]) }, { a: fp32([1, 3], [1, 2, 3]) }]);

      // Assert
      expect(sut).toBe(false);
    });

    it('is false for different ranks', () => {
      // Act
      const sut = canStack([{ a: fp32([1, 2], [1, 2]) }, { a: fp32([1, 2, 1], [1, 2]) }]);

      // Assert
      expect(sut).toBe(false);
    });

    it('is false for different input names', () => {
      // Act
      const sut = canStack([{ a: fp32([1, 2], [1, 2]) }, { b: fp32([1, 2], [1, 2]) }]);

      // Assert
      expect(sut).toBe(false);
    });

    it('is false when one request has an extra input', () => {
      // Act
      const sut = canStack([{ a: fp32([1], [1]) }, { a: fp32([1], [1]), b: fp32([1], [1]) }]);

      // Assert
      expect(sut).toBe(false);
    });

    it('is false for different datatypes', () => {
      // Act
      const sut = canStack([{ a: fp32([1, 2], [1, 2]) }, { a: { datatype: 'FP64', shape: [1, 2], data: Float64Array.from([1, 2]) } }]);

      // Assert
      expect(sut).toBe(false);
    });

    it('is false when a later request names fewer inputs than the first', () => {
      // Act
      const sut = canStack([{ a: fp32([1], [1]), b: fp32([1], [1]) }, { a: fp32([1], [1]) }]);

      // Assert
      expect(sut).toBe(false);
    });

    it('is false for an input named like an Object.prototype member that the first request lacks', () => {
      // Arrange: JSON.parse makes "constructor" an own key; the first request's prototype has one too.
      const named: NamedTensors = {};
      Object.defineProperty(named, 'constructor', { value: fp32([1], [1]), enumerable: true });

      // Act
      const sut = canStack([{ a: fp32([1], [1]) }, named]);

      // Assert
      expect(sut).toBe(false);
    });
  });

  describe('rowsOf', () => {
    it('answers dim 0 of the first input', () => {
      // Act
      const sut = rowsOf({ a: fp32([3, 1], [1, 2, 3]) });

      // Assert
      expect(sut).toBe(3);
    });

    it('answers 0 for no inputs', () => {
      // Act
      const sut = rowsOf({});

      // Assert
      expect(sut).toBe(0);
    });
  });
});
