import { ModelManifest } from '../repository/model-manifest';
import { RuntimeSignature } from '../runtimes/model-runtime';
import { outputProblems, servedSignature, signatureProblems } from './signature-check';

/** What the bundled iris model.onnx reports to the ONNX runtime. */
const IRIS_SIGNATURE: RuntimeSignature = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
};

const IRIS: ModelManifest = {
  name: 'iris',
  task: 'classification',
  features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
  labels: ['setosa', 'versicolor', 'virginica'],
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
};

describe('signatureProblems', () => {
  it('accepts a manifest that matches the model', () => {
    // Act
    const sut = signatureProblems(IRIS, IRIS_SIGNATURE);

    // Assert
    expect(sut).toEqual([]);
  });

  it('accepts a manifest that declares no tensors', () => {
    // Act
    const sut = signatureProblems({ name: 'bench-mlp' }, { inputs: [{ name: 'input', datatype: 'INT64', shape: [2, 2, 2] }], outputs: [] });

    // Assert
    expect(sut).toEqual([]);
  });

  it('treats -1 on either side as compatible with any size', () => {
    // Arrange
    const manifest: ModelManifest = { ...IRIS, inputs: [{ name: 'input', datatype: 'FP32', shape: [8, -1] }] };

    // Act
    const sut = signatureProblems(manifest, IRIS_SIGNATURE);

    // Assert
    expect(sut).toEqual([]);
  });

  it('names a declared input the model does not have', () => {
    // Arrange
    const manifest: ModelManifest = { ...IRIS, inputs: [{ name: 'float_input', datatype: 'FP32', shape: [-1, 4] }] };

    // Act
    const sut = signatureProblems(manifest, IRIS_SIGNATURE);

    // Assert
    expect(sut).toEqual(["input 'float_input' is not in the model (it has input)"]);
  });

  it('names a declared output the model does not have', () => {
    // Arrange
    const manifest: ModelManifest = { ...IRIS, outputs: [...IRIS.outputs!, { name: 'label', datatype: 'INT64', shape: [-1] }] };

    // Act
    const sut = signatureProblems(manifest, IRIS_SIGNATURE);

    // Assert
    expect(sut).toEqual(["output 'label' is not in the model (it has probabilities)"]);
  });

  it('names a datatype mismatch', () => {
    // Arrange
    const manifest: ModelManifest = { ...IRIS, inputs: [{ name: 'input', datatype: 'FP64', shape: [-1, 4] }] };

    // Act
    const sut = signatureProblems(manifest, IRIS_SIGNATURE);

    // Assert
    expect(sut).toEqual(["input 'input' is FP32 in the model, FP64 in model.json"]);
  });

  it('names a fixed dimension mismatch', () => {
    // Arrange
    const manifest: ModelManifest = { ...IRIS, outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 4] }] };

    // Act
    const sut = signatureProblems(manifest, IRIS_SIGNATURE);

    // Assert
    expect(sut).toEqual(["output 'probabilities' has shape [-1,3] in the model, [-1,4] in model.json (dimension 1 is 3 in the model, 4 in model.json)"]);
  });

  it('names a rank mismatch', () => {
    // Arrange
    const manifest: ModelManifest = { name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 2, 2] }] };

    // Act
    const sut = signatureProblems(manifest, IRIS_SIGNATURE);

    // Assert
    expect(sut).toEqual(["input 'input' has shape [-1,4] in the model, [-1,2,2] in model.json (rank 2 in the model, 3 in model.json)"]);
  });

  it('accepts a declared size on a dimension the model leaves variable (a narrowing)', () => {
    // Arrange: PaddleOCR's det input is [-1, 3, -1, -1]
    const signature: RuntimeSignature = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }], outputs: [] };
    const manifest: ModelManifest = { name: 'det', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 640, 640] }] };

    // Act
    const sut = signatureProblems(manifest, signature);

    // Assert
    expect(sut).toEqual([]);
  });

  it('judges features on the narrowed input: a declared width the features list does not have is named', () => {
    // Arrange: the model takes any width; model.json says 4 and lists 3 features
    const signature: RuntimeSignature = { ...IRIS_SIGNATURE, inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, -1] }] };
    const manifest: ModelManifest = { name: 'iris', features: ['a', 'b', 'c'], inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }] };

    // Act
    const sut = signatureProblems(manifest, signature);

    // Assert
    expect(sut).toEqual(['model input takes 4 features, model.json lists 3']);
  });

  describe('features', () => {
    it('names a width that differs from the number of features', () => {
      // Arrange
      const manifest: ModelManifest = { name: 'iris', features: ['a', 'b', 'c'] };

      // Act
      const sut = signatureProblems(manifest, IRIS_SIGNATURE);

      // Assert
      expect(sut).toEqual(['model input takes 4 features, model.json lists 3']);
    });

    it('accepts a variable width', () => {
      // Arrange
      const signature: RuntimeSignature = { ...IRIS_SIGNATURE, inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, -1] }] };

      // Act
      const sut = signatureProblems({ name: 'iris', features: ['a', 'b', 'c'] }, signature);

      // Assert
      expect(sut).toEqual([]);
    });

    it.each([
      ['two inputs', [{ name: 'a', datatype: 'FP32', shape: [-1, 2] }, { name: 'b', datatype: 'FP32', shape: [-1, 2] }]],
      ['no input', []],
      ['a 3-D input', [{ name: 'input', datatype: 'FP32', shape: [-1, 4, 1] }]],
      ['an integer input', [{ name: 'input', datatype: 'INT64', shape: [-1, 4] }]],
    ] as [string, RuntimeSignature['inputs']][])('needs exactly one 2-D float input, not %s', (_, inputs) => {
      // Act
      const sut = signatureProblems({ name: 'iris', features: ['a', 'b', 'c', 'd'] }, { inputs, outputs: IRIS_SIGNATURE.outputs });

      // Assert
      expect(sut).toEqual(['features need a model with exactly one 2-D FP32 or FP64 input']);
    });
  });

  describe('labels', () => {
    it('names labels without an output of one column per label', () => {
      // Arrange
      const signature: RuntimeSignature = { ...IRIS_SIGNATURE, outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 3] }] };

      // Act
      const sut = signatureProblems({ name: 'iris', labels: ['a', 'b'] }, signature);

      // Assert
      expect(sut).toEqual(['no float output with 2 columns for the labels']);
    });

    it('does not count an integer output of the right width', () => {
      // Arrange
      const signature: RuntimeSignature = { ...IRIS_SIGNATURE, outputs: [{ name: 'label', datatype: 'INT64', shape: [-1, 3] }] };

      // Act
      const sut = signatureProblems({ name: 'iris', labels: IRIS.labels }, signature);

      // Assert
      expect(sut).toEqual(['no float output with 3 columns for the labels']);
    });

    it('accepts a float output of the right width under another name', () => {
      // Arrange
      const signature: RuntimeSignature = {
        ...IRIS_SIGNATURE,
        outputs: [{ name: 'label', datatype: 'INT64', shape: [-1] }, { name: 'output_probability', datatype: 'FP32', shape: [-1, 3] }],
      };

      // Act
      const sut = signatureProblems({ name: 'iris', labels: IRIS.labels }, signature);

      // Assert
      expect(sut).toEqual([]);
    });
  });

  it('returns every problem at once', () => {
    // Arrange
    const manifest: ModelManifest = {
      name: 'iris',
      features: ['a', 'b'],
      labels: ['x', 'y'],
      inputs: [{ name: 'input', datatype: 'FP16', shape: [-1, 4] }],
    };
    const signature: RuntimeSignature = { ...IRIS_SIGNATURE, outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 3] }] };

    // Act
    const sut = signatureProblems(manifest, signature);

    // Assert
    expect(sut).toHaveLength(3);
  });
});

describe('servedSignature', () => {
  it('is the model\'s own signature when model.json declares no tensors', () => {
    // Act
    const sut = servedSignature({ name: 'iris' }, IRIS_SIGNATURE);

    // Assert
    expect(sut).toEqual(IRIS_SIGNATURE);
  });

  it('narrows each declared tensor to its declared sizes, keeping the model\'s fixed dims and the undeclared tensors', () => {
    // Arrange
    const signature: RuntimeSignature = {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }, { name: 'scale', datatype: 'FP32', shape: [-1, 2] }],
      outputs: [{ name: 'maps', datatype: 'FP32', shape: [-1, 1, -1, -1] }],
    };
    const manifest: ModelManifest = {
      name: 'det',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, -1, 640, 640] }],
      outputs: [{ name: 'maps', datatype: 'FP32', shape: [1, 1, 640, -1] }],
    };

    // Act
    const sut = servedSignature(manifest, signature);

    // Assert
    expect(sut).toEqual({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 640, 640] }, { name: 'scale', datatype: 'FP32', shape: [-1, 2] }],
      outputs: [{ name: 'maps', datatype: 'FP32', shape: [1, 1, 640, -1] }],
    });
  });

  it('leaves a declared tensor that does not fit as the model has it (the load fails on signatureProblems)', () => {
    // Arrange
    const manifest: ModelManifest = { name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 5] }] };

    // Act
    const sut = servedSignature(manifest, IRIS_SIGNATURE);

    // Assert
    expect(sut).toEqual(IRIS_SIGNATURE);
  });
});

describe('outputProblems', () => {
  const sig: RuntimeSignature = {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }, { name: 'scalar', datatype: 'INT64', shape: [] }],
  };
  const good = () => ({
    probabilities: { datatype: 'FP32' as const, shape: [2, 3], data: new Float32Array(6) },
    scalar: { datatype: 'INT64' as const, shape: [1], data: new BigInt64Array(1) },
  });

  it('accepts outputs that fit: any batch size on a -1 dimension, any shape for an empty declared shape', () => {
    // Act
    const sut = outputProblems(good(), sig);

    // Assert
    expect(sut).toEqual([]);
  });

  it('names a missing output, a wrong datatype, a wrong fixed dimension or rank, and a value count that is not the shape', () => {
    // Arrange
    const missing = { scalar: good().scalar };
    const wrongType = { ...good(), probabilities: { datatype: 'FP64' as const, shape: [2, 3], data: new Float64Array(6) } };
    const wrongDim = { ...good(), probabilities: { datatype: 'FP32' as const, shape: [1, 2], data: new Float32Array(2) } };
    const wrongRank = { ...good(), probabilities: { datatype: 'FP32' as const, shape: [6], data: new Float32Array(6) } };
    const wrongCount = { ...good(), probabilities: { datatype: 'FP32' as const, shape: [2, 3], data: new Float32Array(5) } };

    // Act
    const sut = [missing, wrongType, wrongDim, wrongRank, wrongCount].map((o) => outputProblems(o, sig));

    // Assert
    expect(sut).toEqual([
      ["output 'probabilities' is missing"],
      ["output 'probabilities' is FP64, the model declares FP32"],
      ["output 'probabilities' has shape [1,2], the model declares [-1,3]"],
      ["output 'probabilities' has shape [6], the model declares [-1,3]"],
      ["output 'probabilities' holds 5 values for shape [2,3]"],
    ]);
  });
});
