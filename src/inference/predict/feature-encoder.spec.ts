import { TensorSpec } from '../../models/repository/model-manifest';
import { Encoded, encodeNamedTensors, encodeRows, encodeTabular, soleMatrixInput } from './feature-encoder';

const NAMES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const INPUT: TensorSpec = { name: 'input', datatype: 'FP32', shape: [-1, 4] };

function details(result: Encoded) {
  if (result.ok) throw new Error('expected the encoding to fail');
  return result.details;
}

function inputs(result: Encoded) {
  if (!result.ok) throw new Error(`expected the encoding to succeed: ${JSON.stringify(result.details)}`);
  return result.inputs;
}

describe('encodeTabular', () => {
  describe('valid features', () => {
    it('encodes an object by name into one Float32 row in declared order', () => {
      // Arrange
      const features = { petal_width: 0.2, sepal_length: 5.1, petal_length: 1.4, sepal_width: 3.5 };

      // Act
      const sut = inputs(encodeTabular(features, NAMES, INPUT));

      // Assert
      expect(Object.keys(sut)).toEqual(['input']);
      expect(sut.input.datatype).toBe('FP32');
      expect(sut.input.shape).toEqual([1, 4]);
      expect(sut.input.data).toBeInstanceOf(Float32Array);
      expect(sut.input.data).toEqual(Float32Array.from([5.1, 3.5, 1.4, 0.2]));
    });

    it('encodes an array in the order given', () => {
      // Act
      const sut = inputs(encodeTabular([5.1, 3.5, 1.4, 0.2], NAMES, INPUT));

      // Assert
      expect(sut.input.shape).toEqual([1, 4]);
      expect(sut.input.data).toEqual(Float32Array.from([5.1, 3.5, 1.4, 0.2]));
    });

    it('counts booleans as 1 and 0', () => {
      // Act
      const sut = inputs(encodeTabular([true, false, 2, -3], NAMES, INPUT));

      // Assert
      expect(Array.from(sut.input.data as Float32Array)).toEqual([1, 0, 2, -3]);
    });

    it("names the tensor after the model's input", () => {
      // Act
      const sut = inputs(encodeTabular([1, 2], ['a', 'b'], { name: 'float_input', datatype: 'FP32', shape: [-1, 2] }));

      // Assert
      expect(Object.keys(sut)).toEqual(['float_input']);
      expect(sut.float_input.shape).toEqual([1, 2]);
    });
  });

  describe('features by name', () => {
    it('names a missing feature', () => {
      // Act
      const sut = details(encodeTabular({ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4 }, NAMES, INPUT));

      // Assert
      expect(sut).toEqual([{ field: 'features.petal_width', message: 'is required' }]);
    });

    it('names an unknown feature and lists the expected ones', () => {
      // Act
      const sut = details(encodeTabular({ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2, colour: 1 }, NAMES, INPUT));

      // Assert
      expect(sut).toHaveLength(1);
      expect(sut[0].field).toBe('features.colour');
      expect(sut[0].message).toContain('sepal_length, sepal_width, petal_length, petal_width');
    });

    it.each([
      ['a string', '5.1', 'must be a number, got string'],
      ['null', null, 'must be a number, got null'],
      ['an array', [5.1], 'must be a number, got array'],
      ['an object', { v: 5.1 }, 'must be a number, got object'],
      ['Infinity', Infinity, 'must be a finite number'],
      ['-Infinity', -Infinity, 'must be a finite number'],
      ['NaN', NaN, 'must be a finite number'],
    ])('rejects %s', (_, value, message) => {
      // Act
      const sut = details(encodeTabular({ sepal_length: value, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }, NAMES, INPUT));

      // Assert
      expect(sut).toEqual([{ field: 'features.sepal_length', message }]);
    });

    it('names every problem at once', () => {
      // Arrange
      const features = { sepal_length: 'x', petal_length: null, petal_width: Infinity, extra: 1 };

      // Act
      const sut = details(encodeTabular(features, NAMES, INPUT));

      // Assert
      expect(sut.map((d) => d.field).sort()).toEqual([
        'features.extra',
        'features.petal_length',
        'features.petal_width',
        'features.sepal_length',
        'features.sepal_width',
      ]);
    });

    it('does not take inherited properties as features', () => {
      // Arrange
      const features = Object.create({ petal_width: 0.2 }) as Record<string, unknown>;
      Object.assign(features, { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4 });

      // Act
      const sut = details(encodeTabular(features, NAMES, INPUT));

      // Assert
      expect(sut).toEqual([{ field: 'features.petal_width', message: 'is required' }]);
    });
  });

  describe('features in order', () => {
    it.each([[[5.1, 3.5, 1.4]], [[5.1, 3.5, 1.4, 0.2, 9]], [[]]])('rejects an array of the wrong length %j', (features) => {
      // Act
      const sut = details(encodeTabular(features, NAMES, INPUT));

      // Assert
      expect(sut).toHaveLength(1);
      expect(sut[0].field).toBe('features');
      expect(sut[0].message).toContain(`must have 4 values in the order ${NAMES.join(', ')}, got ${features.length}`);
    });

    it('names a bad value by index and feature name', () => {
      // Act
      const sut = details(encodeTabular([5.1, 'wide', 1.4, null], NAMES, INPUT));

      // Assert
      expect(sut).toEqual([
        { field: 'features[1] (sepal_width)', message: 'must be a number, got string' },
        { field: 'features[3] (petal_width)', message: 'must be a number, got null' },
      ]);
    });
  });

  it.each([['a string', 'hello'], ['a number', 5.1], ['null', null], ['undefined', undefined], ['a boolean', true]])(
    'rejects features that are %s',
    (_, features) => {
      // Act
      const sut = details(encodeTabular(features, NAMES, INPUT));

      // Assert
      expect(sut).toEqual([{ field: 'features', message: 'must be an object of feature values or an array in declared order' }]);
    },
  );
});

describe('encodeNamedTensors', () => {
  const SPECS: TensorSpec[] = [
    { name: 'image', datatype: 'FP32', shape: [-1, 2, 2] },
    { name: 'ids', datatype: 'INT64', shape: [-1, 3] },
  ];
  const VALID = { image: [[[1, 2], [3, 4]]], ids: [[1, 2, 3]] };

  it('encodes every declared input with the shape of its nesting and the datatype of the model', () => {
    // Act
    const sut = inputs(encodeNamedTensors(VALID, SPECS));

    // Assert
    expect(sut.image.datatype).toBe('FP32');
    expect(sut.image.shape).toEqual([1, 2, 2]);
    expect(sut.image.data).toEqual(Float32Array.from([1, 2, 3, 4]));
    expect(sut.ids.datatype).toBe('INT64');
    expect(sut.ids.shape).toEqual([1, 3]);
    expect(sut.ids.data).toEqual(BigInt64Array.from([1n, 2n, 3n]));
  });

  it('names a missing input', () => {
    // Act
    const sut = details(encodeNamedTensors({ image: VALID.image }, SPECS));

    // Assert
    expect(sut).toEqual([{ field: 'features.ids', message: 'is required' }]);
  });

  it('names an unknown input and lists the declared ones', () => {
    // Act
    const sut = details(encodeNamedTensors({ ...VALID, mask: [[1]] }, SPECS));

    // Assert
    expect(sut).toHaveLength(1);
    expect(sut[0].field).toBe('features.mask');
    expect(sut[0].message).toContain('image, ids');
  });

  it("names the input whose tensor is wrong, with the tensor's problem", () => {
    // Act
    const sut = details(encodeNamedTensors({ image: [[1, 2, 3, 4]], ids: [[1, 2, 3]] }, SPECS));

    // Assert
    expect(sut).toHaveLength(1);
    expect(sut[0].field).toBe('features.image');
    expect(sut[0].message).toContain('must have rank 3');
  });

  it('names every bad input at once', () => {
    // Act
    const sut = details(encodeNamedTensors({ image: [[[1, 2], [3]]], ids: [[1.5, 2, 3]], extra: 1 }, SPECS));

    // Assert
    expect(sut.map((d) => d.field).sort()).toEqual(['features.extra', 'features.ids', 'features.image']);
  });

  it.each([['an array', [[1, 2, 3]]], ['null', null], ['a string', 'x']])('rejects features that are %s', (_, features) => {
    // Act
    const sut = details(encodeNamedTensors(features, SPECS));

    // Assert
    expect(sut).toHaveLength(1);
    expect(sut[0].field).toBe('features');
    expect(sut[0].message).toContain('image, ids');
  });
});

describe('encodeNamedTensors for an array', () => {
  it('says an array is taken only by a model whose one input is 2-D', () => {
    // Act
    const sut = details(encodeNamedTensors([1, 2, 3], [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }]));

    // Assert
    expect(sut).toEqual([{ field: 'features', message: 'must be an object of named input tensors (x): an array of values is taken only by a model whose one input is 2-D' }]);
  });
});

describe('soleMatrixInput', () => {
  it.each([
    ['one [-1, F] input', [{ name: 'input', datatype: 'FP32', shape: [-1, 256] }], 'input'],
    ['one [N, F] input', [{ name: 'input', datatype: 'INT64', shape: [1, 8] }], 'input'],
    ['one 4-D input', [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }], undefined],
    ['two 2-D inputs', [{ name: 'a', datatype: 'FP32', shape: [-1, 2] }, { name: 'b', datatype: 'FP32', shape: [-1, 2] }], undefined],
  ] as [string, TensorSpec[], string | undefined][])('finds the input a flat array fills for %s', (_, specs, name) => {
    // Act
    const sut = soleMatrixInput(specs);

    // Assert
    expect(sut?.name).toBe(name);
  });
});

describe('encodeRows', () => {
  const MATRIX: TensorSpec = { name: 'input', datatype: 'FP32', shape: [-1, 3] };

  it('encodes a flat array as one row and one nested row the same way', () => {
    // Act
    const flat = inputs(encodeRows([1, 2, 3], MATRIX));
    const nested = inputs(encodeRows([[1, 2, 3]], MATRIX));

    // Assert
    expect(flat).toEqual({ input: { datatype: 'FP32', shape: [1, 3], data: Float32Array.from([1, 2, 3]) } });
    expect(nested).toEqual(flat);
  });

  it('encodes nested rows with the shape of the nesting', () => {
    // Act
    const sut = inputs(encodeRows([[1, 2, 3], [4, 5, 6]], MATRIX));

    // Assert
    expect(sut.input.shape).toEqual([2, 3]);
  });

  it("converts to the input's datatype, each value checked", () => {
    // Act
    const ids = inputs(encodeRows([1, 2], { name: 'ids', datatype: 'INT64', shape: [-1, 2] }));
    const fraction = details(encodeRows([1.5, 2], { name: 'ids', datatype: 'INT64', shape: [-1, 2] }));

    // Assert
    expect(ids.ids.data).toEqual(BigInt64Array.from([1n, 2n]));
    expect(fraction).toEqual([{ field: 'features', message: 'must hold integers (INT64)' }]);
  });

  it('names the F the model takes for a flat row or a nested row of the wrong length', () => {
    // Act
    const flat = details(encodeRows([1, 2], MATRIX));
    const nested = details(encodeRows([[1, 2, 3, 4]], MATRIX));

    // Assert
    expect(flat).toEqual([{ field: 'features', message: "must have 3 values (input 'input' is [-1, 3]), got 2" }]);
    expect(nested).toEqual([{ field: 'features', message: 'dimension 1 must be 3, got 4' }]);
  });

  it('takes a row of any length when the model leaves the width variable', () => {
    // Act
    const sut = inputs(encodeRows([1, 2, 3, 4, 5], { name: 'input', datatype: 'FP32', shape: [-1, -1] }));

    // Assert
    expect(sut.input.shape).toEqual([1, 5]);
  });

  it('names a value that is not a number', () => {
    // Act
    const sut = details(encodeRows([1, 'two', 3], MATRIX));

    // Assert
    expect(sut).toEqual([{ field: 'features', message: 'must hold finite numbers (FP32)' }]);
  });
});

describe('encodeTabular for an FP64 input (regression: it used to send FP32)', () => {
  it('encodes the row in the input\'s own datatype', () => {
    // Act
    const sut = encodeTabular([1, 2], ['a', 'b'], { name: 'x', datatype: 'FP64', shape: [-1, 2] });
    // Assert
    expect(sut.ok && sut.inputs.x.datatype).toBe('FP64');
    expect(sut.ok && sut.inputs.x.data).toBeInstanceOf(Float64Array);
  });
});

describe('encodeTabular range of the input datatype', () => {
  it('refuses a value an FP32 input cannot hold instead of sending Infinity', () => {
    // Act
    const sut = details(encodeTabular({ sepal_length: 1e39, sepal_width: -4e38, petal_length: 1, petal_width: 3.4e38 }, NAMES, INPUT));

    // Assert
    expect(sut).toEqual([
      { field: 'features.sepal_length', message: 'value 1e+39 is out of range for FP32 (it would round to infinity)' },
      { field: 'features.sepal_width', message: 'value -4e+38 is out of range for FP32 (it would round to infinity)' },
    ]);
  });

  it('takes the same value for an FP64 input', () => {
    // Act
    const sut = inputs(encodeTabular([1e39, 2], ['a', 'b'], { name: 'x', datatype: 'FP64', shape: [-1, 2] }));

    // Assert
    expect(Array.from(sut.x.data as Float64Array)).toEqual([1e39, 2]);
  });
});
