import { ErrorDetail } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { RuntimeSignature } from '../../models/runtimes/model-runtime';
import { NamedTensors } from '../../models/tensors/tensor';
import { classifyOutputs, formatFixed6, requestedClassifications, topK } from './v2-classification';

const LABELS = ['setosa', 'versicolor', 'virginica'];
const fp32 = (shape: number[], values: number[]) => ({ datatype: 'FP32' as const, shape, data: Float32Array.from(values) });

describe('formatFixed6 (C++ std::to_string of a float or double: printf %f)', () => {
  it.each([
    [0.5, '0.500000'],
    [Math.fround(0.95), '0.950000'],
    [Math.fround(0.1234567), '0.123457'],
    [123.4567891, '123.456789'],
    [-2.25, '-2.250000'],
    [3, '3.000000'],
    [0, '0.000000'],
  ])('writes %p as %p: six decimals, rounded to nearest', (value, text) => {
    // Act
    const sut = formatFixed6(value);

    // Assert
    expect(sut).toBe(text);
  });

  it.each([
    [1 / 128, '0.007812'],
    [3 / 128, '0.023438'],
    [5 / 128, '0.039062'],
    [-1 / 128, '-0.007812'],
    [1000 + 1 / 128, '1000.007812'],
  ])('rounds the exact tie %p to even, as glibc does (toFixed would round it up)', (value, text) => {
    // Act
    const sut = formatFixed6(value);

    // Assert
    expect(sut).toBe(text);
  });

  it('keeps the sign of negative zero and of negatives that round to zero, as %f does', () => {
    // Act
    const sut = [formatFixed6(-0), formatFixed6(-1e-9)];

    // Assert
    expect(sut).toEqual(['-0.000000', '-0.000000']);
  });

  it('writes huge values in full and non-finite ones as C does', () => {
    // Act
    const sut = [formatFixed6(1e21), formatFixed6(Infinity), formatFixed6(-Infinity), formatFixed6(NaN)];

    // Assert
    expect(sut).toEqual(['1000000000000000000000.000000', 'inf', '-inf', 'nan']);
  });
});

describe('topK', () => {
  it('answers the indices of the k highest values, highest first', () => {
    // Act
    const sut = topK([1, 5, 10, 4], 0, 4, 3);

    // Assert
    expect(sut).toEqual([2, 1, 3]);
  });

  it('keeps the lower index first on a tie', () => {
    // Act
    const sut = topK([0.25, 0.5, 0.25, 0.5], 0, 4, 4);

    // Assert
    expect(sut).toEqual([1, 3, 0, 2]);
  });

  it('looks only at the row it is given, with indices within the row', () => {
    // Act
    const sut = topK([9, 9, 9, 1, 3, 2], 3, 3, 2);

    // Assert
    expect(sut).toEqual([1, 2]);
  });

  it('compares 64-bit integers exactly', () => {
    // Act
    const sut = topK(BigInt64Array.from([2n ** 60n + 1n, 2n ** 60n + 3n, 2n ** 60n + 2n]), 0, 3, 3);

    // Assert
    expect(sut).toEqual([1, 2, 0]);
  });
});

describe('classifyOutputs', () => {
  it('answers BYTES [batch, k] of "value:index:label", labels on the probability output', () => {
    // Arrange
    const outputs: NamedTensors = { probabilities: fp32([2, 3], [0.75, 0.125, 0.125, 0.25, 0.25, 0.5]) };

    // Act
    const sut = classifyOutputs(outputs, new Map([['probabilities', 2]]), LABELS);

    // Assert
    expect(sut.probabilities).toEqual({
      datatype: 'BYTES',
      shape: [2, 2],
      data: ['0.750000:0:setosa', '0.125000:1:versicolor', '0.500000:2:virginica', '0.250000:0:setosa'],
    });
  });

  it('answers [k] for a rank-1 output, and "value:index" without labels', () => {
    // Arrange: Triton's own example
    const outputs: NamedTensors = { output0: fp32([4], [1.1, 3.3, 0.5, 2.4]) };

    // Act
    const sut = classifyOutputs(outputs, new Map([['output0', 2]]));

    // Assert
    expect(sut.output0).toEqual({ datatype: 'BYTES', shape: [2], data: ['3.300000:1', '2.400000:3'] });
  });

  it('writes integer outputs as integers', () => {
    // Arrange
    const outputs: NamedTensors = { counts: { datatype: 'INT64', shape: [1, 3], data: BigInt64Array.from([7n, -2n, 9n]) } };

    // Act
    const sut = classifyOutputs(outputs, new Map([['counts', 3]]));

    // Assert
    expect(sut.counts.data).toEqual(['9:2', '7:0', '-2:1']);
  });

  it('gives no labels to an output that is not the one with a probability per label', () => {
    // Arrange
    const outputs: NamedTensors = { probabilities: fp32([1, 3], [0.2, 0.3, 0.5]), logits: fp32([1, 2], [4, 1]) };

    // Act
    const sut = classifyOutputs(outputs, new Map([['logits', 1], ['probabilities', 1]]), LABELS);

    // Assert
    expect(sut.logits.data).toEqual(['4.000000:0']);
    expect(sut.probabilities.data).toEqual(['0.500000:2:virginica']);
  });

  it('leaves the other outputs and the given object as they were', () => {
    // Arrange
    const probabilities = fp32([1, 3], [0.2, 0.3, 0.5]);
    const other = fp32([1, 1], [7]);
    const outputs: NamedTensors = { probabilities, other };

    // Act
    const sut = classifyOutputs(outputs, new Map([['probabilities', 1]]), LABELS);

    // Assert
    expect(sut.other).toBe(other);
    expect(outputs.probabilities).toBe(probabilities);
    expect(sut).not.toBe(outputs);
  });

  it('refuses a k beyond the classes the output turned out to have', () => {
    // Arrange
    const outputs: NamedTensors = { scores: fp32([1, 2], [0.4, 0.6]) };

    // Act
    const act = () => classifyOutputs(outputs, new Map([['scores', 3]]));

    // Assert
    expect(act).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_FAILED, message: expect.stringContaining("3 is more than the 2 classes of output 'scores'") }));
  });
});

describe('requestedClassifications', () => {
  const SIGNATURE: RuntimeSignature = {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
      { name: 'scores', datatype: 'FP32', shape: [-1, -1] },
      { name: 'names', datatype: 'BYTES', shape: [-1, 3] },
      { name: 'mask', datatype: 'BOOL', shape: [-1, 3] },
    ],
  };
  const ask = (outputs: unknown[]) => {
    const details: ErrorDetail[] = [];
    const found = requestedClassifications({ inputs: [], outputs }, SIGNATURE, details);
    return { found: Object.fromEntries(found), problems: details.map((d) => `${d.field} ${d.message}`) };
  };

  it('reads each output\'s classification, as tritonclient sends it beside binary_data', () => {
    // Act
    const sut = ask([{ name: 'probabilities', parameters: { classification: 2, binary_data: true } }, { name: 'scores', parameters: { binary_data: false } }]);

    // Assert
    expect(sut).toEqual({ found: { probabilities: 2 }, problems: [] });
  });

  it.each([[0], [-1], [2.5], ['2'], [true], [null]])('refuses classification %p: not a positive integer', (k) => {
    // Act
    const sut = ask([{ name: 'probabilities', parameters: { classification: k } }]);

    // Assert
    expect(sut.found).toEqual({});
    expect(sut.problems).toEqual([`outputs[0].parameters.classification must be a positive integer (how many classes to return), got ${JSON.stringify(k)}`]);
  });

  it('refuses more classes than the output has, when its signature fixes them', () => {
    // Act
    const sut = ask([{ name: 'probabilities', parameters: { classification: 4 } }]);

    // Assert
    expect(sut.problems).toEqual(["outputs[0].parameters.classification 4 is more than the 3 classes of output 'probabilities'"]);
  });

  it('takes any k on an output whose classes are variable (checked once it has answered)', () => {
    // Act
    const sut = ask([{ name: 'scores', parameters: { classification: 50 } }]);

    // Assert
    expect(sut).toEqual({ found: { scores: 50 }, problems: [] });
  });

  it('refuses BYTES and BOOL outputs, as Triton does', () => {
    // Act
    const sut = ask([{ name: 'names', parameters: { classification: 1 } }, { name: 'mask', parameters: { classification: 1 } }]);

    // Assert
    expect(sut.problems).toEqual([
      "outputs[0].parameters.classification output 'names' is BYTES: classification needs an integer, FP32 or FP64 output",
      "outputs[1].parameters.classification output 'mask' is BOOL: classification needs an integer, FP32 or FP64 output",
    ]);
  });

  it('leaves unknown outputs to the codec and finds nothing when no output asks', () => {
    // Act
    const unknown = ask([{ name: 'nope', parameters: { classification: 1 } }]);
    const none = requestedClassifications({ inputs: [] }, SIGNATURE, []);

    // Assert
    expect(unknown).toEqual({ found: {}, problems: [] });
    expect(none.size).toBe(0);
  });
});
