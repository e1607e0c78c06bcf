import { manifestProblems } from './manifest-validation';

const IRIS = {
  name: 'iris',
  description: 'iris species',
  runtime: 'onnx',
  task: 'classification',
  features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
  labels: ['setosa', 'versicolor', 'virginica'],
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
  dynamic_batching: { max_batch_size: 32, max_queue_delay_ms: 2 },
  versions: { '1': { algorithm: 'logistic regression' } },
};

describe('manifestProblems', () => {
  describe('valid manifests', () => {
    it('accepts a full manifest', () => {
      // Act
      const sut = manifestProblems(IRIS, 'iris');

      // Assert
      expect(sut).toEqual([]);
    });

    it('accepts a manifest with only a name', () => {
      // Act
      const sut = manifestProblems({ name: 'bare.model_v-1' }, 'bare.model_v-1');

      // Assert
      expect(sut).toEqual([]);
    });

    it('accepts a manifest without a name (the model is named by its folder)', () => {
      // Act
      const sut = manifestProblems({ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 640, 640] }] }, 'det');

      // Assert
      expect(sut).toEqual([]);
    });

    it('accepts dynamic_batching: false and a regression task', () => {
      // Act
      const sut = manifestProblems({ name: 'car-mpg', task: 'regression', dynamic_batching: false }, 'car-mpg');

      // Assert
      expect(sut).toEqual([]);
    });

    it('accepts every V2 datatype and fixed or variable dims', () => {
      // Arrange
      const datatypes = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];
      const inputs = datatypes.map((datatype, i) => ({ name: `in${i}`, datatype, shape: [-1, 0, 3] }));

      // Act
      const sut = manifestProblems({ name: 'm', inputs, outputs: [{ name: 'scalar', datatype: 'FP32', shape: [] }] }, 'm');

      // Assert
      expect(sut).toEqual([]);
    });
  });

  describe('problems', () => {
    it.each([['an array', []], ['null', null], ['a string', 'iris'], ['a number', 1]])('rejects a manifest that is %s', (_, raw) => {
      // Act
      const sut = manifestProblems(raw, 'iris');

      // Assert
      expect(sut).toEqual(['model.json must be a JSON object']);
    });

    it.each([['empty', ''], ['with a slash', 'a/b'], ['too long', 'x'.repeat(65)], ['not a string', 7]])(
      'rejects a name that is %s',
      (_, name) => {
        // Act
        const sut = manifestProblems({ ...IRIS, name }, 'iris');

        // Assert
        expect(sut).toEqual(['name must be 1-64 chars of [A-Za-z0-9._-]']);
      },
    );

    it('requires the name to equal the folder name', () => {
      // Act
      const sut = manifestProblems(IRIS, 'iris-copy');

      // Assert
      expect(sut).toEqual(["name 'iris' must equal its folder name 'iris-copy'"]);
    });

    it('is case-sensitive about the folder name', () => {
      // Act
      const sut = manifestProblems(IRIS, 'Iris');

      // Assert
      expect(sut).toHaveLength(1);
    });

    it('rejects a runtime other than onnx', () => {
      // Act
      const sut = manifestProblems({ ...IRIS, runtime: 'tensorflow' }, 'iris');

      // Assert
      expect(sut).toEqual(["runtime 'tensorflow' is not supported (onnx)"]);
    });

    it('rejects an unknown task', () => {
      // Act
      const sut = manifestProblems({ ...IRIS, task: 'clustering' }, 'iris');

      // Assert
      expect(sut).toEqual(['task must be classification or regression']);
    });

    it.each([
      ['not a list', 'sepal_length'],
      ['with duplicates', ['a', 'b', 'a']],
      ['with an empty name', ['a', '']],
      ['with a non-string', ['a', 1]],
    ])('rejects features %s', (_, features) => {
      // Act
      const sut = manifestProblems({ ...IRIS, features }, 'iris');

      // Assert
      expect(sut).toEqual(['features must be a list of distinct non-empty names']);
    });

    it.each([['not a list', 'setosa'], ['with an empty label', ['setosa', '']], ['with a number', ['setosa', 2]]])(
      'rejects labels %s',
      (_, labels) => {
        // Act
        const sut = manifestProblems({ ...IRIS, labels }, 'iris');

        // Assert
        expect(sut).toEqual(['labels must be a list of non-empty strings']);
      },
    );

    it.each(['inputs', 'outputs'])('rejects %s that is not an array', (field) => {
      // Act
      const sut = manifestProblems({ ...IRIS, [field]: { name: 'input' } }, 'iris');

      // Assert
      expect(sut).toEqual([`${field} must be an array`]);
    });

    it('rejects a tensor without a string name', () => {
      // Act
      const sut = manifestProblems({ ...IRIS, inputs: [{ datatype: 'FP32', shape: [-1, 4] }] }, 'iris');

      // Assert
      expect(sut).toEqual(['inputs[0].name must be a string']);
    });

    it('rejects a tensor that is not an object', () => {
      // Act
      const sut = manifestProblems({ ...IRIS, outputs: ['probabilities'] }, 'iris');

      // Assert
      expect(sut).toEqual(['outputs[0].name must be a string']);
    });

    it('rejects an unknown datatype', () => {
      // Act
      const sut = manifestProblems({ ...IRIS, outputs: [{ name: 'p', datatype: 'float32', shape: [-1, 3] }] }, 'iris');

      // Assert
      expect(sut).toEqual(['outputs[0].datatype must be a V2 datatype']);
    });

    it.each([
      ['missing', undefined],
      ['not an array', '[-1, 4]'],
      ['with a non-integer', [-1, 4.5]],
      ['with a dim below -1', [-2, 4]],
      ['with a string dim', ['batch', 4]],
    ])('rejects a shape %s', (_, shape) => {
      // Act
      const sut = manifestProblems({ ...IRIS, inputs: [{ name: 'input', datatype: 'FP32', shape }] }, 'iris');

      // Assert
      expect(sut).toEqual(['inputs[0].shape must be an array of integers (-1 = variable)']);
    });

    it('names the index of the bad tensor', () => {
      // Act
      const sut = manifestProblems({ ...IRIS, inputs: [IRIS.inputs[0], { name: 'mask', datatype: 'NOPE', shape: [1] }] }, 'iris');

      // Assert
      expect(sut).toEqual(['inputs[1].datatype must be a V2 datatype']);
    });

    it.each([['true', true], ['a number', 32], ['an array', []]])('rejects dynamic_batching that is %s', (_, dynamicBatching) => {
      // Act
      const sut = manifestProblems({ ...IRIS, dynamic_batching: dynamicBatching }, 'iris');

      // Assert
      expect(sut).toEqual(['dynamic_batching must be an object or false']);
    });

    it('returns every problem at once', () => {
      // Arrange
      const raw = {
        name: 'other',
        runtime: 'torch',
        task: 'ranking',
        features: ['a', 'a'],
        labels: [1],
        inputs: [{ name: 1, datatype: 'X', shape: [0.5] }],
        outputs: 'p',
        dynamic_batching: true,
      };

      // Act
      const sut = manifestProblems(raw, 'iris');

      // Assert
      expect(sut).toEqual([
        "name 'other' must equal its folder name 'iris'",
        "runtime 'torch' is not supported (onnx)",
        'task must be classification or regression',
        'features must be a list of distinct non-empty names',
        'labels must be a list of non-empty strings',
        'inputs[0].name must be a string',
        'inputs[0].datatype must be a V2 datatype',
        'inputs[0].shape must be an array of integers (-1 = variable)',
        'outputs must be an array',
        'dynamic_batching must be an object or false',
      ]);
    });
      it('names every bad session option', () => {
      // Arrange
      const raw = { name: 'iris', worker_thread: 'yes', session_options: { intra_op_num_threads: 0, graph_optimization_level: 'max', allow_spinning: 'no' } };

      // Act
      const sut = manifestProblems(raw, 'iris');

      // Assert
      expect(sut).toEqual([
        'worker_thread must be a boolean',
        'session_options.intra_op_num_threads must be an integer from 1 to 64',
        'session_options.graph_optimization_level must be disabled, basic, extended or all',
        'session_options.allow_spinning must be a boolean',
      ]);
    });

    it('accepts valid session options and refuses a non-object', () => {
      // Arrange
      const good = { name: 'm', session_options: { intra_op_num_threads: 2, graph_optimization_level: 'basic', allow_spinning: true } };
      const bad = { name: 'm', session_options: [] };

      // Act / Assert
      expect(manifestProblems(good, 'm')).toEqual([]);
      expect(manifestProblems(bad, 'm')).toEqual(['session_options must be an object']);
    });
  });
});
