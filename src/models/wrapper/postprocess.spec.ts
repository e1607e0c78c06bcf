import { NamedTensors, Tensor } from '../tensors/tensor';
import { ClassPrediction, nest, outputKindOf, postprocess, probabilityOutput, RegressionPrediction } from './postprocess';

const fp32 = (shape: number[], values: number[]): Tensor => ({ datatype: 'FP32', shape, data: Float32Array.from(values) });
const LABELS = ['setosa', 'versicolor', 'virginica'];

describe('postprocess', () => {
  describe('classifier', () => {
    it('answers the argmax class, its confidence and probabilities by label, one per row', () => {
      // Arrange
      const outputs: NamedTensors = { probabilities: fp32([2, 3], [0.75, 0.125, 0.125, 0.25, 0.25, 0.5]) };

      // Act
      const sut = postprocess('classifier', outputs, LABELS) as ClassPrediction[];

      // Assert
      expect(sut).toEqual([
        { class: 'setosa', confidence: 0.75, probabilities: { setosa: 0.75, versicolor: 0.125, virginica: 0.125 } },
        { class: 'virginica', confidence: 0.5, probabilities: { setosa: 0.25, versicolor: 0.25, virginica: 0.5 } },
      ]);
    });

    it('picks the first class on a tie', () => {
      // Arrange
      const outputs: NamedTensors = { probabilities: fp32([1, 3], [0.25, 0.375, 0.375]) };

      // Act
      const [sut] = postprocess('classifier', outputs, LABELS) as ClassPrediction[];

      // Assert
      expect(sut.class).toBe('versicolor');
    });

    it("prefers the output named 'probabilities' over other float outputs", () => {
      // Arrange
      const outputs: NamedTensors = {
        logits: fp32([1, 3], [9, 0, 0]),
        probabilities: fp32([1, 3], [0.125, 0.125, 0.75]),
      };

      // Act
      const [sut] = postprocess('classifier', outputs, LABELS) as ClassPrediction[];

      // Assert
      expect(sut.class).toBe('virginica');
    });

    it('else picks the float output with one column per label, skipping integer and wrong-width outputs', () => {
      // Arrange
      const outputs: NamedTensors = {
        label: { datatype: 'INT64', shape: [1, 3], data: BigInt64Array.from([1n, 0n, 0n]) },
        embedding: fp32([1, 2], [0.9, 0.1]),
        output_probability: fp32([1, 3], [0.125, 0.75, 0.125]),
      };

      // Act
      const [sut] = postprocess('classifier', outputs, LABELS) as ClassPrediction[];

      // Assert
      expect(sut.class).toBe('versicolor');
      expect(sut.probabilities).toEqual({ setosa: 0.125, versicolor: 0.75, virginica: 0.125 });
    });

    it('throws when no output has one column per label', () => {
      // Arrange
      const outputs: NamedTensors = { scores: fp32([1, 2], [0.5, 0.5]) };

      // Act
      const act = () => postprocess('classifier', outputs, LABELS);

      // Assert
      expect(act).toThrow('no output with 3 class probabilities');
    });
  });

  describe('regressor', () => {
    it('answers a scalar value per row for a one-column output', () => {
      // Arrange
      const outputs: NamedTensors = { value: fp32([3, 1], [21.5, 30.25, 12]) };

      // Act
      const sut = postprocess('regressor', outputs) as RegressionPrediction[];

      // Assert
      expect(sut).toEqual([{ value: 21.5 }, { value: 30.25 }, { value: 12 }]);
    });

    it('answers an array per row for a multi-column output', () => {
      // Arrange
      const outputs: NamedTensors = { value: fp32([2, 2], [1, 2, 3, 4]) };

      // Act
      const sut = postprocess('regressor', outputs) as RegressionPrediction[];

      // Assert
      expect(sut).toEqual([{ value: [1, 2] }, { value: [3, 4] }]);
    });

    it('answers a scalar per row for a rank-1 output', () => {
      // Arrange
      const outputs: NamedTensors = { variable: fp32([2], [1.5, 2.5]) };

      // Act
      const sut = postprocess('regressor', outputs) as RegressionPrediction[];

      // Assert
      expect(sut).toEqual([{ value: 1.5 }, { value: 2.5 }]);
    });

    it('converts BigInt values to numbers', () => {
      // Arrange
      const outputs: NamedTensors = { value: { datatype: 'INT64', shape: [1, 1], data: BigInt64Array.from([42n]) } };

      // Act
      const sut = postprocess('regressor', outputs) as RegressionPrediction[];

      // Assert
      expect(sut).toEqual([{ value: 42 }]);
    });
  });

  describe('raw', () => {
    it('answers one prediction holding every output by name as nested arrays', () => {
      // Arrange
      const outputs: NamedTensors = {
        output: fp32([1, 2], [0.25, 0.75]),
        ids: { datatype: 'INT64', shape: [2], data: BigInt64Array.from([7n, 8n]) },
      };

      // Act
      const sut = postprocess('raw', outputs);

      // Assert
      expect(sut).toEqual([{ output: [[0.25, 0.75]], ids: [7, 8] }]);
    });
  });
});

describe('nest', () => {
  it('returns the scalar of a rank-0 tensor', () => {
    // Act
    const sut = nest(fp32([], [1.5]));

    // Assert
    expect(sut).toBe(1.5);
  });

  it('nests rank 1', () => {
    // Act
    const sut = nest(fp32([3], [1, 2, 3]));

    // Assert
    expect(sut).toEqual([1, 2, 3]);
  });

  it('nests rank 2 row-major', () => {
    // Act
    const sut = nest(fp32([2, 3], [1, 2, 3, 4, 5, 6]));

    // Assert
    expect(sut).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  it('nests rank 3 row-major', () => {
    // Act
    const sut = nest(fp32([2, 3, 2], Array.from({ length: 12 }, (_, i) => i)));

    // Assert
    expect(sut).toEqual([
      [[0, 1], [2, 3], [4, 5]],
      [[6, 7], [8, 9], [10, 11]],
    ]);
  });

  it('turns BigInt into number', () => {
    // Act
    const sut = nest({ datatype: 'INT64', shape: [1, 2], data: BigInt64Array.from([3n, -4n]) });

    // Assert
    expect(sut).toEqual([[3, -4]]);
  });

  it('keeps strings of a BYTES tensor', () => {
    // Act
    const sut = nest({ datatype: 'BYTES', shape: [2, 1], data: ['a', 'b'] });

    // Assert
    expect(sut).toEqual([['a'], ['b']]);
  });

  it('nests an empty dimension as an empty array', () => {
    // Act
    const sut = nest(fp32([0, 3], []));

    // Assert
    expect(sut).toEqual([]);
  });
});

describe('outputKindOf', () => {
  it('is classifier when the manifest has labels', () => {
    // Act
    const sut = outputKindOf({ name: 'iris', labels: ['a', 'b'], features: ['x'] });

    // Assert
    expect(sut).toBe('classifier');
  });

  it('is regressor for a regression task with features', () => {
    // Act
    const sut = outputKindOf({ name: 'car-mpg', task: 'regression', features: ['x'] });

    // Assert
    expect(sut).toBe('regressor');
  });

  it('is raw for a regression task without features', () => {
    // Act
    const sut = outputKindOf({ name: 'm', task: 'regression' });

    // Assert
    expect(sut).toBe('raw');
  });

  it('is raw for a bare manifest', () => {
    // Act
    const sut = outputKindOf({ name: 'bench-mlp' });

    // Assert
    expect(sut).toBe('raw');
  });
});

describe('probabilityOutput (regression: a `probabilities` output of the wrong width is not used)', () => {
  it('skips a probabilities output whose columns do not match the labels', () => {
    // Arrange
    const outputs: NamedTensors = {
      probabilities: { datatype: 'FP32', shape: [2, 2], data: new Float32Array([0.9, 0.1, 0.2, 0.8]) },
    };
    // Act
    const sut = probabilityOutput(outputs, 3);
    // Assert
    expect(sut).toBeUndefined();
  });
});
