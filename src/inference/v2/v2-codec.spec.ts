import { ErrorDetail } from '../../common/errors/app-error';
import { JsonNumbers } from '../codec/json-numbers';
import { fromHalfBits, toHalfBits, typedData } from '../codec/nested-tensor';
import { parseInferJson } from '../../http/infer-json';
import { TensorDatatype, TensorSpec } from '../../models/repository/model-manifest';
import { RuntimeSignature } from '../../models/runtimes/model-runtime';
import { NamedTensors, Tensor, TensorData } from '../../models/tensors/tensor';
import { DecodedInfer, decodeInferRequest, encodeInferResponse } from './v2-codec';
import { V2_TEST_SIGNATURE } from '../../../test/support/v2-signature';

const SIGNATURE = V2_TEST_SIGNATURE;

/** A one-input model of the given datatype and shape, for the datatype conversions. */
const single = (datatype: TensorDatatype, shape: number[] = [-1]): RuntimeSignature => ({
  inputs: [{ name: 'in', datatype, shape }],
  outputs: [{ name: 'out', datatype: 'FP32', shape: [-1] }],
});

const X = { name: 'x', datatype: 'FP32', shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] };
const IDS = { name: 'ids', datatype: 'INT64', shape: [2], data: [7, -3] };

function ok(result: DecodedInfer) {
  if (!result.ok) throw new Error(`expected a decoded request, got: ${JSON.stringify(result.details)}`);
  return result;
}

function problems(result: DecodedInfer): ErrorDetail[] {
  if (result.ok) throw new Error(`expected problems, got inputs ${Object.keys(result.inputs).join(', ')}`);
  return result.details;
}

const spec = (datatype: TensorDatatype, shape: number[] = [-1]): TensorSpec => ({ name: 'v', datatype, shape });

function converted(values: unknown[], datatype: TensorDatatype): TensorData {
  const result = typedData(values, spec(datatype));
  if (typeof result === 'string') throw new Error(`expected data, got: ${result}`);
  return result;
}

describe('decodeInferRequest', () => {
  describe('a valid request', () => {
    it('becomes the model\'s input tensors: typed arrays of the model datatype, the request shape, the values row-major', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [X, IDS] }, SIGNATURE));

      // Assert
      expect(Object.keys(sut.inputs).sort()).toEqual(['ids', 'x']);
      expect(sut.inputs.x.datatype).toBe('FP32');
      expect(sut.inputs.x.shape).toEqual([2, 4]);
      expect(sut.inputs.x.data).toBeInstanceOf(Float32Array);
      expect(Array.from(sut.inputs.x.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(sut.inputs.ids.datatype).toBe('INT64');
      expect(sut.inputs.ids.shape).toEqual([2]);
      expect(sut.inputs.ids.data).toBeInstanceOf(BigInt64Array);
      expect(Array.from(sut.inputs.ids.data as BigInt64Array)).toEqual([7n, -3n]);
    });

    it('returns every output of the model when none is named, and no id when none is given', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [X, IDS] }, SIGNATURE));

      // Assert
      expect(sut.outputs).toEqual(['scores', 'label']);
      expect(sut.id).toBeUndefined();
    });

    it('echoes the request id and accepts request parameters', () => {
      // Act
      const sut = ok(decodeInferRequest({ id: 'req-42', parameters: { priority: 1 }, inputs: [X, IDS] }, SIGNATURE));

      // Assert
      expect(sut.id).toBe('req-42');
    });

    it('accepts the inputs in any order', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [IDS, X] }, SIGNATURE));

      // Assert
      expect(Array.from(sut.inputs.x.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(Array.from(sut.inputs.ids.data as BigInt64Array)).toEqual([7n, -3n]);
    });

    it('reads nested data row-major, exactly as the flat form', () => {
      // Arrange
      const nested = { ...X, data: [[1, 2, 3, 4], [5, 6, 7, 8]] };

      // Act
      const flat = ok(decodeInferRequest({ inputs: [X, IDS] }, SIGNATURE));
      const sut = ok(decodeInferRequest({ inputs: [nested, IDS] }, SIGNATURE));

      // Assert
      expect(sut.inputs).toEqual(flat.inputs);
    });

    it('rounds to the model\'s FP32, whatever precision the request carries', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [{ ...X, data: [0.1, 0.2, 0.3, 1 / 3, 1, 2, 3, 4] }, IDS] }, SIGNATURE));

      // Assert
      expect(sut.inputs.x.datatype).toBe('FP32');
      expect(sut.inputs.x.data).toBeInstanceOf(Float32Array);
      expect(Array.from(sut.inputs.x.data as Float32Array).slice(0, 4)).toEqual([0.1, 0.2, 0.3, 1 / 3].map(Math.fround));
    });

    it('reads FP32 data the body parser read into doubles (JsonNumbers) as a plain array\'s, up to the edge of float32\'s range', () => {
      // Arrange: the largest finite float32, values that round to it, -0, a long decimal
      const values = [3.4028234663852886e38, 3.4028235e38, -3.4028235677973362e38, -0, 1e-46, 0.73643094301223755, 7];
      const ID = { ...IDS, shape: [1], data: [7] };
      // JSON.stringify writes -0 as 0: the data's text is written here.
      const body = (data: number[]): unknown => parseInferJson(Buffer.from(JSON.stringify({ inputs: [{ ...X, shape: [1, data.length], data: 'DATA' }, ID] }).replace('"DATA"', `[${data.map((v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}]`)), JSON.parse);
      const signature: RuntimeSignature = { ...SIGNATURE, inputs: SIGNATURE.inputs.map((s) => (s.name === 'x' ? { ...s, shape: [-1, -1] } : s)) };

      // Act
      const fromNumbers = ok(decodeInferRequest(body(values), signature));
      const fromArray = ok(decodeInferRequest({ inputs: [{ ...X, shape: [1, values.length], data: values }, ID] }, signature));

      // Assert
      expect((body(values) as { inputs: { data: unknown }[] }).inputs[0].data).toBeInstanceOf(JsonNumbers);
      expect(fromNumbers.inputs.x.data).toBeInstanceOf(Float32Array);
      expect(fromNumbers.inputs.x.data).toEqual(fromArray.inputs.x.data);
      expect(Object.is((fromNumbers.inputs.x.data as Float32Array)[3], -0)).toBe(true);
    });

    it('refuses FP32 data read into doubles that would round to infinity, naming the value as for a plain array', () => {
      for (const big of ['3.4028235677973366e38', '-1e39', '1e400']) {
        // Arrange
        const text = `{"inputs":[{"name":"x","datatype":"FP32","shape":[2,4],"data":[1,2,3,${big},5,6,7,8]},${JSON.stringify(IDS)}]}`;
        const parsed = parseInferJson(Buffer.from(text), JSON.parse);

        // Act
        const sut = problems(decodeInferRequest(parsed, SIGNATURE));

        // Assert
        expect(sut).toEqual(problems(decodeInferRequest(JSON.parse(text), SIGNATURE)));
        expect(sut[0].message).toMatch(/out of range for FP32|must hold finite numbers/);
      }
    });
  });

  describe('datatypes are strict (Triton\'s 400: no conversion between datatypes)', () => {
    it.each(['FP64', 'FP16', 'INT32', 'INT64', 'BOOL', 'UINT8'])('refuses %s data for the FP32 input, naming the input, the given and the expected datatype', (datatype) => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, datatype }, IDS] }, SIGNATURE, undefined, 'iris'));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (x).datatype', message: `is '${datatype}', but model 'iris' expects 'FP32'` }]);
    });

    it('refuses INT32 for the INT64 input as well: integers of another width are another datatype', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [X, { ...IDS, datatype: 'INT32' }] }, SIGNATURE, undefined, 'm'));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[1] (ids).datatype', message: "is 'INT32', but model 'm' expects 'INT64'" }]);
    });

    it('still checks every value for the datatype: 5.1 is no INT32, -3 is no UINT8, 300 is out of range for INT8', () => {
      // Act
      const fraction = problems(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'INT32', shape: [2], data: [1, 5.1] }] }, single('INT32')));
      const negative = problems(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'UINT8', shape: [2], data: [7, -3] }] }, single('UINT8')));
      const range = problems(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'INT8', shape: [1, 2], data: [[1, 300]] }] }, single('INT8', [-1, 2])));

      // Assert
      expect(fraction).toEqual([{ field: 'inputs[0] (in).data', message: 'must hold integers (INT32)' }]);
      expect(negative).toEqual([{ field: 'inputs[0] (in).data', message: 'value -3 is out of range for UINT8 [0, 255]' }]);
      expect(range).toEqual([{ field: 'inputs[0] (in).data', message: 'value 300 is out of range for INT8 [-128, 127]' }]);
    });

    it('takes true/false only in a BOOL input: a boolean in FP32 data, flat or nested, is no number', () => {
      // Act
      const flat = problems(decodeInferRequest({ inputs: [{ ...X, data: [1, 2, 3, true, 5, 6, 7, 8] }, IDS] }, SIGNATURE));
      const nested = problems(decodeInferRequest({ inputs: [{ ...X, data: [[1, 2, 3, 4], [5, false, 7, 8]] }, IDS] }, SIGNATURE));

      // Assert
      expect(flat).toEqual([{ field: 'inputs[0] (x).data', message: 'must hold finite numbers (FP32)' }]);
      expect(nested).toEqual([{ field: 'inputs[0] (x).data', message: 'must hold finite numbers (FP32)' }]);
    });

    it('refuses a binary input of another datatype with the same message as JSON', () => {
      // Arrange
      const bytes = new Uint8Array(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]).buffer);
      const x = { name: 'x', datatype: 'FP64', shape: [2, 4], parameters: { binary_data_size: bytes.length } };

      // Act
      const sut = problems(decodeInferRequest({ inputs: [x, IDS] }, SIGNATURE, bytes, 'iris'));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (x).datatype', message: "is 'FP64', but model 'iris' expects 'FP32'" }]);
    });
  });

  describe('a valid request: zero rows and the outputs', () => {
    it('accepts zero rows', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [{ ...X, shape: [0, 4], data: [] }, { ...IDS, shape: [0], data: [] }] }, SIGNATURE));

      // Assert
      expect(sut.inputs.x.shape).toEqual([0, 4]);
      expect(sut.inputs.x.data).toHaveLength(0);
    });

    it('returns only the named outputs, in request order, each once', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [X, IDS], outputs: [{ name: 'label' }, { name: 'scores' }, { name: 'label' }] }, SIGNATURE));

      // Assert
      expect(sut.outputs).toEqual(['label', 'scores']);
    });

    it('returns one named output alone', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [X, IDS], outputs: [{ name: 'scores', parameters: { binary_data: false } }] }, SIGNATURE));

      // Assert
      expect(sut.outputs).toEqual(['scores']);
    });
  });

  describe('the request body', () => {
    it.each([
      ['null', null],
      ['an array', [X, IDS]],
      ['a string', 'x'],
      ['a number', 5],
    ])('is refused when %s', (_, body) => {
      // Act
      const sut = problems(decodeInferRequest(body, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'body', message: 'must be a JSON object {inputs: [...]}' }]);
    });

    it.each([[5], [null], [{ a: 1 }]])('refuses id %p that is not a string', (id) => {
      // Act
      const sut = problems(decodeInferRequest({ id, inputs: [X, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'id', message: 'must be a string' }]);
    });

    it.each([['x'], [[1]], [null]])('refuses parameters %p that are not an object', (parameters) => {
      // Act
      const sut = problems(decodeInferRequest({ parameters, inputs: [X, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'parameters', message: 'must be an object' }]);
    });

    it.each([
      ['missing', {}],
      ['empty', { inputs: [] }],
      ['an object', { inputs: X }],
      ['a string', { inputs: 'x' }],
    ])('refuses inputs %s, naming the model\'s inputs', (_, body) => {
      // Act
      const sut = problems(decodeInferRequest(body, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs', message: 'must be a non-empty array of input tensors (x, ids)' }]);
    });
  });

  describe('each input', () => {
    it.each([[5], ['x'], [[1, 2]]])('must be an object, not %p', (raw) => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [raw, X, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0]', message: 'must be an object {name, shape, datatype, data}' }]);
    });

    it('must be an object, not null (a problem named like any other, never a crash)', () => {
      // Act
      const act = () => decodeInferRequest({ inputs: [null, X, IDS] }, SIGNATURE);

      // Assert
      expect(act).not.toThrow();
      expect(problems(act())).toEqual([{ field: 'inputs[0]', message: 'must be an object {name, shape, datatype, data}' }]);
    });

    it('names its name, shape, datatype and data problems all at once', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ name: 5, shape: [1, -4], datatype: 'FP8', data: 'abc' }, X, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([
        { field: 'inputs[0].name', message: 'must be a string' },
        { field: 'inputs[0].shape', message: 'must be an array of non-negative integers' },
        { field: 'inputs[0].datatype', message: 'must be one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES' },
        { field: 'inputs[0].data', message: 'must be an array (flat in row-major order, or nested)' },
      ]);
    });

    it.each([
      ['a string', '2x4'],
      ['a negative dim', [2, -1]],
      ['a fractional dim', [2, 4.5]],
      ['a string dim', [2, '4']],
      ['missing', undefined],
    ])('refuses a shape that is %s', (_, shape) => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, shape }, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0].shape', message: 'must be an array of non-negative integers' }]);
    });

    it.each(['fp32', 'FLOAT', 'STRING', 'FP8'])('refuses the unknown datatype %s', (datatype) => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, datatype }, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toHaveLength(1);
      expect(sut[0].field).toBe('inputs[0].datatype');
      expect(sut[0].message).toMatch(/^must be one of BOOL, .*, BYTES$/);
    });

    it('must be an input of the model; the missing one is named too', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, name: 'y' }, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([
        { field: 'inputs[0].name', message: '\'y\' is not an input of this model (inputs: x, ids)' },
        { field: 'inputs', message: 'input \'x\' is required' },
      ]);
    });

    it('names every missing input', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, name: 'z' }] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([
        { field: 'inputs[0].name', message: '\'z\' is not an input of this model (inputs: x, ids)' },
        { field: 'inputs', message: 'input \'x\' is required' },
        { field: 'inputs', message: 'input \'ids\' is required' },
      ]);
    });

    it('must not be given twice', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [X, IDS, X] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[2].name', message: '\'x\' is given more than once' }]);
    });

    it('may be named like an Object.prototype member (constructor, toString) and still decode', () => {
      // Arrange: tensor names are arbitrary strings in ONNX
      const signature: RuntimeSignature = {
        inputs: [{ name: 'constructor', datatype: 'FP32', shape: [-1, 2] }, { name: 'toString', datatype: 'FP32', shape: [-1, 2] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }],
      };

      // Act
      const sut = decodeInferRequest({
        inputs: [{ name: 'constructor', datatype: 'FP32', shape: [1, 2], data: [1, 2] }, { name: 'toString', datatype: 'FP32', shape: [1, 2], data: [3, 4] }],
      }, signature);

      // Assert
      const decoded = ok(sut);
      expect(Array.from(decoded.inputs['constructor'].data as Float32Array)).toEqual([1, 2]);
      expect(Array.from(decoded.inputs['toString'].data as Float32Array)).toEqual([3, 4]);
    });

    it('refuses text (BYTES) for a numeric input', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, datatype: 'BYTES', data: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] }, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (x).datatype', message: "is 'BYTES', but model 'the model' expects 'FP32'" }]);
    });

    it('refuses numbers for a text (BYTES) input', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'FP32', shape: [2], data: [1, 2] }] }, single('BYTES')));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (in).datatype', message: "is 'FP32', but model 'the model' expects 'BYTES'" }]);
    });

    it('must have the model\'s rank', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, shape: [8] }, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (x).shape', message: 'must have rank 2 (model shape [-1, 4], -1 = any), got [8]' }]);
    });

    it('must match each fixed dimension of the model', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (x).shape', message: 'dimension 1 must be 4, got 3' }]);
    });

    it.each([
      ['too few flat values', [1, 2, 3, 4, 5, 6, 7], 7],
      ['too many flat values', [1, 2, 3, 4, 5, 6, 7, 8, 9], 9],
      ['no values', [], 0],
    ])('must hold as many elements as its shape: %s', (_, data, count) => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, data }, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (x).data', message: `has ${count} elements, shape [2, 4] needs 8` }]);
    });

    it('must nest as its shape says when nested', () => {
      // Act
      const ragged = problems(decodeInferRequest({ inputs: [{ ...X, data: [[1, 2, 3, 4], [5, 6, 7]] }, IDS] }, SIGNATURE));
      const transposed = problems(decodeInferRequest({ inputs: [{ ...X, data: [[1, 2], [3, 4], [5, 6], [7, 8]] }, IDS] }, SIGNATURE));

      // Assert
      expect(ragged).toEqual([{ field: 'inputs[0] (x).data', message: 'is not rectangular: expected 4 items at depth 1' }]);
      expect(transposed).toEqual([{ field: 'inputs[0] (x).data', message: 'dimension 0 must be 2, got 4' }]);
    });

    it.each([['a string', '1'], ['null', null], ['an object', { v: 1 }]])('refuses %s in numeric data', (_, value) => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ ...X, data: [1, 2, 3, value, 5, 6, 7, 8] }, IDS] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (x).data', message: 'must hold finite numbers (FP32)' }]);
    });

    it('refuses fractions for an integer input', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [X, { ...IDS, data: [7, 1.5] }] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[1] (ids).data', message: 'must hold integers (INT64)' }]);
    });

    it.each([
      [2 ** 53, 'value 9007199254740992 is out of range for INT64 [-9007199254740991, 9007199254740991]'],
      [-(2 ** 53), 'value -9007199254740992 is out of range for INT64 [-9007199254740991, 9007199254740991]'],
      [1e20, 'value 100000000000000000000 is out of range for INT64 [-9007199254740991, 9007199254740991]'],
    ])('refuses the 64-bit value %p that a JSON number cannot carry exactly', (value, message) => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [X, { ...IDS, data: [7, value] }] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[1] (ids).data', message }]);
    });

    it('keeps the largest exact 64-bit values', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [X, { ...IDS, data: [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER] }] }, SIGNATURE));

      // Assert
      expect(Array.from(sut.inputs.ids.data as BigInt64Array)).toEqual([9007199254740991n, -9007199254740991n]);
    });

    it('refuses inputs that disagree on the batch dimension', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [X, { ...IDS, shape: [3], data: [1, 2, 3] }] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'inputs', message: 'inputs disagree on the batch dimension (dim 0): 2 vs 3' }]);
    });
  });

  describe('the requested outputs', () => {
    it.each([[{ name: 'scores' }], ['scores'], [null]])('must be an array, not %p', (outputs) => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [X, IDS], outputs }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'outputs', message: 'must be an array of {name}' }]);
    });

    it('each name a string', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [X, IDS], outputs: [{ name: 'scores' }, {}, 'label', { name: 3 }] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([
        { field: 'outputs[1].name', message: 'must be a string' },
        { field: 'outputs[2].name', message: 'must be a string' },
        { field: 'outputs[3].name', message: 'must be a string' },
      ]);
    });

    it('each an output of the model', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [X, IDS], outputs: [{ name: 'scores' }, { name: 'probabilities' }] }, SIGNATURE));

      // Assert
      expect(sut).toEqual([{ field: 'outputs[1].name', message: '\'probabilities\' is not an output of this model (outputs: scores, label)' }]);
    });
  });

  it('names every problem of a request at once, in request order', () => {
    // Arrange
    const body = {
      id: 1,
      parameters: 'fast',
      inputs: [
        { ...X, shape: [2, 5], data: Array(10).fill(0) },
        { ...IDS, data: [1, 'two'] },
        { ...X, name: 'nope' },
        { ...X, datatype: 'BYTES' },
        { name: 'x' },
      ],
      outputs: [{ name: 'nothing' }],
    };

    // Act
    const sut = problems(decodeInferRequest(body, SIGNATURE));

    // Assert
    expect(sut).toEqual([
      { field: 'id', message: 'must be a string' },
      { field: 'parameters', message: 'must be an object' },
      { field: 'inputs[0] (x).shape', message: 'dimension 1 must be 4, got 5' },
      { field: 'inputs[1] (ids).data', message: 'must hold finite numbers (INT64)' },
      { field: 'inputs[2].name', message: '\'nope\' is not an input of this model (inputs: x, ids)' },
      { field: 'inputs[3] (x).datatype', message: "is 'BYTES', but model 'the model' expects 'FP32'" },
      { field: 'inputs[4].shape', message: 'must be an array of non-negative integers' },
      { field: 'inputs[4].datatype', message: 'must be one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES' },
      { field: 'inputs[4].data', message: 'must be an array (flat in row-major order, or nested)' },
      { field: 'outputs[0].name', message: '\'nothing\' is not an output of this model (outputs: scores, label)' },
    ]);
  });

  describe('datatypes (through typedData)', () => {
    it('BOOL: true/false and 1/0 become a Uint8Array of 1/0', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'BOOL', shape: [4], data: [true, false, 1, 0] }] }, single('BOOL')));

      // Assert
      expect(sut.inputs.in.datatype).toBe('BOOL');
      expect(sut.inputs.in.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(sut.inputs.in.data as Uint8Array)).toEqual([1, 0, 1, 0]);
    });

    it('BOOL: any other number is out of range', () => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'BOOL', shape: [2], data: [true, 2] }] }, single('BOOL')));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (in).data', message: 'value 2 is out of range for BOOL [0, 1]' }]);
    });

    it('FP16: numbers travel as their IEEE half bits and come back exactly through fromHalfBits', () => {
      // Arrange
      const values = [1, -2, 0.5, 65504, 2 ** -14, 2 ** -24, 0, 0.333251953125];

      // Act
      const sut = ok(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'FP16', shape: [values.length], data: values }] }, single('FP16')));

      // Assert
      expect(sut.inputs.in.datatype).toBe('FP16');
      expect(sut.inputs.in.data).toBeInstanceOf(Uint16Array);
      expect(Array.from(sut.inputs.in.data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0400, 0x0001, 0x0000, 0x3555]);
      expect(Array.from(sut.inputs.in.data as Uint16Array, fromHalfBits)).toEqual(values);
    });

    it('FP16: a value between halves rounds to the nearest one', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'FP16', shape: [2], data: [0.1, 1 / 3] }] }, single('FP16')));

      // Assert
      expect(Array.from(sut.inputs.in.data as Uint16Array, fromHalfBits)).toEqual([0.0999755859375, 0.333251953125]);
    });

    it.each([
      ['UINT8', 256, 'value 256 is out of range for UINT8 [0, 255]'],
      ['UINT8', -1, 'value -1 is out of range for UINT8 [0, 255]'],
      ['INT8', -129, 'value -129 is out of range for INT8 [-128, 127]'],
      ['INT16', 32768, 'value 32768 is out of range for INT16 [-32768, 32767]'],
      ['UINT32', 2 ** 32, 'value 4294967296 is out of range for UINT32 [0, 4294967295]'],
      ['INT32', -(2 ** 31) - 1, 'value -2147483649 is out of range for INT32 [-2147483648, 2147483647]'],
      ['UINT64', -1, 'value -1 is out of range for UINT64 [0, 9007199254740991]'],
      ['UINT64', 2 ** 53, 'value 9007199254740992 is out of range for UINT64 [0, 9007199254740991]'],
    ] as [TensorDatatype, number, string][])('%s refuses %p instead of wrapping it', (datatype, value, message) => {
      // Act
      const sut = problems(decodeInferRequest({ inputs: [{ name: 'in', datatype, shape: [1], data: [value] }] }, single(datatype)));

      // Assert
      expect(sut).toEqual([{ field: 'inputs[0] (in).data', message }]);
    });

    it.each([
      ['UINT8', Uint8Array, [0, 255]],
      ['INT8', Int8Array, [-128, 127]],
      ['UINT16', Uint16Array, [0, 65535]],
      ['INT16', Int16Array, [-32768, 32767]],
      ['UINT32', Uint32Array, [0, 4294967295]],
      ['INT32', Int32Array, [-2147483648, 2147483647]],
      ['FP64', Float64Array, [0.1, -1e300]],
    ] as [TensorDatatype, new (n: number) => ArrayLike<number>, number[]][])('%s keeps its extreme values in a %p', (datatype, Ctor, values) => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [{ name: 'in', datatype, shape: [2], data: values }] }, single(datatype)));

      // Assert
      expect(sut.inputs.in.data).toBeInstanceOf(Ctor);
      expect(Array.from(sut.inputs.in.data as ArrayLike<number>)).toEqual(values);
    });

    it('UINT64 becomes a BigUint64Array', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'UINT64', shape: [2], data: [0, Number.MAX_SAFE_INTEGER] }] }, single('UINT64')));

      // Assert
      expect(sut.inputs.in.data).toBeInstanceOf(BigUint64Array);
      expect(Array.from(sut.inputs.in.data as BigUint64Array)).toEqual([0n, 9007199254740991n]);
    });

    it('BYTES keeps strings, and refuses anything else', () => {
      // Act
      const sut = ok(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'BYTES', shape: [2], data: ['a', 'b c'] }] }, single('BYTES')));
      const bad = problems(decodeInferRequest({ inputs: [{ name: 'in', datatype: 'BYTES', shape: [2], data: ['a', 1] }] }, single('BYTES')));

      // Assert
      expect(sut.inputs.in).toEqual({ datatype: 'BYTES', shape: [2], data: ['a', 'b c'] });
      expect(bad).toEqual([{ field: 'inputs[0] (in).data', message: 'must hold strings (BYTES)' }]);
    });
  });
});

describe('typedData and fromHalfBits (FP16, float ranges)', () => {
  it('fromHalfBits decodes the special values', () => {
    // Act / Assert
    expect(fromHalfBits(0x7c00)).toBe(Infinity);
    expect(fromHalfBits(0xfc00)).toBe(-Infinity);
    expect(fromHalfBits(0x7e00)).toBeNaN();
    expect(Object.is(fromHalfBits(0x8000), -0)).toBe(true);
    expect(fromHalfBits(0x0001)).toBe(2 ** -24);
    expect(fromHalfBits(0x03ff)).toBe(1023 * 2 ** -24);
    expect(fromHalfBits(0x0400)).toBe(2 ** -14);
    expect(fromHalfBits(0x7bff)).toBe(65504);
    expect(fromHalfBits(0xbc00)).toBe(-1);
  });

  it('every finite half survives number → FP16 bits → number unchanged (all 63488 of them)', () => {
    // Arrange
    const bits: number[] = [];
    for (let b = 0; b < 0x10000; b += 1) if (((b >>> 10) & 0x1f) !== 0x1f) bits.push(b);
    const values = bits.map(fromHalfBits);

    // Act
    const sut = converted(values, 'FP16') as Uint16Array;

    // Assert
    expect(bits).toHaveLength(63488);
    const wrong = bits.filter((b, i) => sut[i] !== b);
    expect(wrong).toEqual([]);
  });

  it.each([
    // Just above the tie between 1 and 1 + 2^-10: the nearest half is 1 + 2^-10 (double rounding through FP32 lands on the tie and goes to even).
    ['1 + 2^-11 + 2^-40', 1 + 2 ** -11 + 2 ** -40, 0x3c01],
    // Just above half the smallest subnormal: the nearest half is 2^-24, not 0.
    ['2^-25 · (1 + 2^-23)', 2 ** -25 * (1 + 2 ** -23), 0x0001],
  ])('FP16 rounds %s to the nearest half', (_, value, expected) => {
    // Act
    const sut = converted([value], 'FP16') as Uint16Array;

    // Assert
    expect(sut[0].toString(16)).toBe(expected.toString(16));
  });

  it.each([
    ['FP32', 1e39],
    ['FP16', 70000],
  ] as [TensorDatatype, number][])('%s refuses %p, which it cannot hold (instead of turning it into ±Infinity)', (datatype, value) => {
    // Act
    const sut = typedData([1, value], spec(datatype));

    // Assert
    expect(sut).toEqual(expect.any(String));
  });

  it('FP16 keeps the largest finite half', () => {
    // Act
    const sut = converted([65504, -65504], 'FP16') as Uint16Array;

    // Assert
    expect(Array.from(sut)).toEqual([0x7bff, 0xfbff]);
  });

  it('toHalfBits and fromHalfBits agree on signed zero', () => {
    // Act / Assert
    expect(toHalfBits(-0)).toBe(0x8000);
    expect(Object.is(fromHalfBits(toHalfBits(-0)), -0)).toBe(true);
  });
});

describe('encodeInferResponse', () => {
  const t = (datatype: TensorDatatype, shape: number[], data: TensorData): Tensor => ({ datatype, shape, data });

  it('answers the protocol\'s response: model name, version as a string, id, empty parameters, outputs', () => {
    // Arrange
    const outputs: NamedTensors = { scores: t('FP32', [1, 3], Float32Array.from([0.25, 0.5, 0.25])) };

    // Act
    const sut = encodeInferResponse('iris', 3, 'req-1', outputs, ['scores']).response;

    // Assert
    expect(sut).toEqual({
      model_name: 'iris',
      model_version: '3',
      id: 'req-1',
      parameters: {},
      outputs: [{ name: 'scores', datatype: 'FP32', shape: [1, 3], data: [0.25, 0.5, 0.25] }],
    });
    expect(Array.isArray(sut.outputs[0].data)).toBe(true);
  });

  it('writes FP32 values as the numbers the float holds', () => {
    // Act
    const sut = encodeInferResponse('m', 1, 'i', { y: t('FP32', [2], Float32Array.from([0.1, 1 / 3])) }, ['y']).response;

    // Assert
    expect(sut.outputs[0].data).toEqual([Math.fround(0.1), Math.fround(1 / 3)]);
  });

  it('writes BOOL as booleans', () => {
    // Act
    const sut = encodeInferResponse('m', 1, 'i', { flag: t('BOOL', [4], Uint8Array.from([1, 0, 0, 2])) }, ['flag']).response;

    // Assert
    expect(sut.outputs[0]).toEqual({ name: 'flag', datatype: 'BOOL', shape: [4], data: [true, false, false, true] });
  });

  it('writes FP16 bits as the numbers they encode', () => {
    // Act
    const sut = encodeInferResponse('m', 1, 'i', { h: t('FP16', [5], Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x7bff, 0x3555])) }, ['h']).response;

    // Assert
    expect(sut.outputs[0]).toEqual({ name: 'h', datatype: 'FP16', shape: [5], data: [1, -2, 0.5, 65504, 0.333251953125] });
  });

  it('writes an FP16 input encoded by typedData back as the same numbers', () => {
    // Arrange
    const values = [0.5, -0.125, 1024, 2 ** -24];
    const bits = converted(values, 'FP16');

    // Act
    const sut = encodeInferResponse('m', 1, 'i', { h: t('FP16', [4], bits) }, ['h']).response;

    // Assert
    expect(sut.outputs[0].data).toEqual(values);
  });

  it('writes 64-bit integers as numbers', () => {
    // Arrange
    const outputs: NamedTensors = {
      signed: t('INT64', [3], BigInt64Array.from([5n, -7n, 9007199254740991n])),
      unsigned: t('UINT64', [2], BigUint64Array.from([0n, 42n])),
    };

    // Act
    const sut = encodeInferResponse('m', 1, 'i', outputs, ['signed', 'unsigned']).response;

    // Assert
    expect(sut.outputs.map((o) => o.data)).toEqual([[5, -7, 9007199254740991], [0, 42]]);
    expect(sut.outputs.flatMap((o) => o.data).every((v) => typeof v === 'number')).toBe(true);
  });

  it('writes other integer arrays as numbers and BYTES as strings', () => {
    // Arrange
    const outputs: NamedTensors = { i: t('INT32', [2], Int32Array.from([-1, 2])), s: t('BYTES', [2], ['a', 'b']) };

    // Act
    const sut = encodeInferResponse('m', 1, 'i', outputs, ['i', 's']).response;

    // Assert
    expect(sut.outputs.map((o) => o.data)).toEqual([[-1, 2], ['a', 'b']]);
  });

  it('returns the selected outputs only, in the selected order', () => {
    // Arrange
    const outputs: NamedTensors = {
      a: t('FP32', [1], Float32Array.from([1])),
      b: t('INT32', [1], Int32Array.from([2])),
      c: t('BOOL', [1], Uint8Array.from([1])),
    };

    // Act
    const sut = encodeInferResponse('m', 1, 'i', outputs, ['c', 'a']).response;

    // Assert
    expect(sut.outputs).toEqual([
      { name: 'c', datatype: 'BOOL', shape: [1], data: [true] },
      { name: 'a', datatype: 'FP32', shape: [1], data: [1] },
    ]);
  });

  it('leaves out a selected name the runtime did not return', () => {
    // Act
    const sut = encodeInferResponse('m', 1, 'i', { a: t('FP32', [1], Float32Array.from([1])) }, ['missing', 'a']).response;

    // Assert
    expect(sut.outputs.map((o) => o.name)).toEqual(['a']);
  });
});
