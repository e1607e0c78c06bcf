import { NamedTensors } from '../../models/tensors/tensor';
import { decodeInferRequest } from '../v2/v2-codec';
import { encodeModelInferResponse, parameterValue, v2Equivalent } from './grpc-codec';
import { loadServices } from './grpc-proto';
import { GrpcInferInputTensor, GrpcModelInferRequest, GrpcModelInferResponse, GrpcTensorContents } from './grpc.types';
import { V2_TEST_SIGNATURE } from '../../../test/support/v2-signature';

const SIGNATURE = V2_TEST_SIGNATURE;

const { inference } = loadServices();
const method = inference.service.ModelInfer;

/** A request exactly as the server receives it: serialized by a client, then deserialized with the server's proto-loader options. */
function received(request: Record<string, unknown>): GrpcModelInferRequest {
  return method.requestDeserialize(method.requestSerialize(request)) as GrpcModelInferRequest;
}

/** A response as a client reads it off the wire. */
function sent(response: GrpcModelInferResponse): GrpcModelInferResponse {
  return method.responseDeserialize(method.responseSerialize(response)) as GrpcModelInferResponse;
}

const input = (name: string, datatype: string, shape: number[], contents?: Partial<GrpcTensorContents>): Partial<GrpcInferInputTensor> => ({ name, datatype, shape, ...(contents ? { contents } : {}) });

const X = [1, 2, 3, 4, 5, 6, 7, 8];

/** What the V2 codec makes of a gRPC request, through its V2 equivalent. */
function decode(request: Record<string, unknown>) {
  const sut = v2Equivalent(received({ model_name: 'm', ...request }));
  return { ...sut, decoded: decodeInferRequest(sut.body, SIGNATURE, sut.binary, 'm') };
}

const restMessages = (body: unknown, binary?: Uint8Array): string[] => {
  const decoded = decodeInferRequest(body, SIGNATURE, binary, 'm');
  return decoded.ok ? [] : decoded.details.map((d) => `${d.field} ${d.message}`);
};

describe('grpc codec', () => {
  describe('v2Equivalent: typed contents', () => {
    it('decodes fp32 and int64 contents into the same tensors as the REST body', () => {
      // Act
      const sut = decode({ id: 'r1', inputs: [input('x', 'FP32', [2, 4], { fp32_contents: X }), input('ids', 'INT64', [2], { int64_contents: [7, -3] })] });

      // Assert
      expect(sut.problems).toEqual([]);
      expect(sut.raw).toBe(false);
      const rest = decodeInferRequest({ id: 'r1', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: X }, { name: 'ids', datatype: 'INT64', shape: [2], data: [7, -3] }] }, SIGNATURE);
      expect(sut.decoded).toEqual(rest);
      if (!sut.decoded.ok) throw new Error('not decoded');
      expect(sut.decoded.inputs.ids.data).toEqual(new BigInt64Array([7n, -3n]));
      expect(sut.decoded.id).toBe('r1');
    });

    it('leaves the id undefined when the request has none (the server then answers with the request id)', () => {
      const sut = decode({ inputs: [input('x', 'FP32', [2, 4], { fp32_contents: X }), input('ids', 'INT64', [2], { int64_contents: [1, 2] })] });
      expect(sut.decoded.ok && sut.decoded.id).toBeUndefined();
    });

    it('refuses numeric contents of another datatype than the model\'s, as REST does (Triton: no conversion)', () => {
      // Act
      const sut = decode({ inputs: [input('x', 'INT32', [2, 4], { int_contents: X }), input('ids', 'INT32', [2], { int_contents: [1, 2] })] });

      // Assert
      expect(sut.problems).toEqual([]);
      expect(sut.decoded.ok ? [] : sut.decoded.details.map((d) => `${d.field} ${d.message}`)).toEqual([
        "inputs[0] (x).datatype is 'INT32', but model 'm' expects 'FP32'",
        "inputs[1] (ids).datatype is 'INT32', but model 'm' expects 'INT64'",
      ]);
    });

    it('fails a datatype mismatch with the REST V2 message, word for word', () => {
      // Arrange
      const text = ['a', 'b', 'c', 'd'];

      // Act
      const sut = decode({ inputs: [input('x', 'BYTES', [1, 4], { bytes_contents: text.map((s) => Buffer.from(s)) }), input('ids', 'INT64', [1], { int64_contents: [1] })] });

      // Assert
      const rest = restMessages({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [1, 4], data: text }, { name: 'ids', datatype: 'INT64', shape: [1], data: [1] }] });
      expect(rest).toEqual(["inputs[0] (x).datatype is 'BYTES', but model 'm' expects 'FP32'"]);
      expect(sut.decoded.ok ? [] : sut.decoded.details.map((d) => `${d.field} ${d.message}`)).toEqual(rest);
    });

    it('fails a wrong element count and a wrong dimension with the REST messages', () => {
      const count = decode({ inputs: [input('x', 'FP32', [2, 4], { fp32_contents: [1, 2, 3] }), input('ids', 'INT64', [2], { int64_contents: [1, 2] })] });
      expect(count.decoded.ok ? [] : count.decoded.details.map((d) => d.message)).toEqual(['has 3 elements, shape [2, 4] needs 8']);
      const dim = decode({ inputs: [input('x', 'FP32', [1, 3], { fp32_contents: [1, 2, 3] }), input('ids', 'INT64', [1], { int64_contents: [1] })] });
      expect(dim.decoded.ok ? [] : dim.decoded.details.map((d) => d.message)).toEqual(['dimension 1 must be 4, got 3']);
    });

    it('names contents in the wrong field, and FP16 (which has no field)', () => {
      const wrong = decode({ inputs: [input('x', 'FP32', [2, 4], { fp64_contents: X }), input('ids', 'INT64', [2], { int64_contents: [1, 2] })] });
      expect(wrong.problems).toEqual([{ field: 'inputs[0] (x).contents.fp64_contents', message: 'is not the field for FP32 (use contents.fp32_contents)' }]);
      const half = decode({ inputs: [input('x', 'FP16', [2, 4])] });
      expect(half.problems).toEqual([{ field: 'inputs[0] (x).contents', message: 'FP16 has no contents field: send its bytes in raw_input_contents' }]);
    });

    it('passes request parameters through as plain values, and the requested outputs', () => {
      const sut = decode({
        parameters: { priority: { int64_param: 3 }, tag: { string_param: 'a' }, flag: { bool_param: true } },
        inputs: [input('x', 'FP32', [2, 4], { fp32_contents: X }), input('ids', 'INT64', [2], { int64_contents: [1, 2] })],
        outputs: [{ name: 'label' }],
      });
      expect(sut.body.parameters).toEqual({ priority: 3, tag: 'a', flag: true });
      expect(sut.decoded.ok && sut.decoded.outputs).toEqual(['label']);
      const unknown = decode({ inputs: [input('x', 'FP32', [2, 4], { fp32_contents: X }), input('ids', 'INT64', [2], { int64_contents: [1, 2] })], outputs: [{ name: 'nope' }] });
      expect(unknown.decoded.ok ? [] : unknown.decoded.details.map((d) => `${d.field} ${d.message}`)).toEqual(["outputs[0].name 'nope' is not an output of this model (outputs: scores, label)"]);
    });

    it('reads the value of the oneof member that is set', () => {
      expect(parameterValue({ parameter_choice: 'double_param', double_param: 0.5 })).toBe(0.5);
      expect(parameterValue({})).toBeUndefined();
    });
  });

  describe('v2Equivalent: raw_input_contents', () => {
    const rawX = Buffer.from(new Float32Array(X).buffer);
    const rawIds = Buffer.from(new BigInt64Array([5n, 6n]).buffer);

    it('takes one little-endian entry per input, as the binary tensor data extension does', () => {
      // Act
      const sut = decode({ inputs: [input('x', 'FP32', [2, 4]), input('ids', 'INT64', [2])], raw_input_contents: [rawX, rawIds] });

      // Assert
      expect(sut.raw).toBe(true);
      expect(sut.problems).toEqual([]);
      if (!sut.decoded.ok) throw new Error(JSON.stringify(sut.decoded.details));
      expect(Array.from(sut.decoded.inputs.x.data as Float32Array)).toEqual(X);
      expect(sut.decoded.inputs.ids.data).toEqual(new BigInt64Array([5n, 6n]));
    });

    it('fails a wrong byte count, a datatype other than the model\'s and a missing entry, naming each', () => {
      const short = decode({ inputs: [input('x', 'FP32', [2, 4]), input('ids', 'INT64', [2])], raw_input_contents: [rawX.subarray(0, 12), rawIds] });
      expect(short.decoded.ok ? [] : short.decoded.details.map((d) => d.message)).toEqual(['binary data has 12 bytes, 8 FP32 elements need 32']);
      const type = decode({ inputs: [input('x', 'FP64', [2, 4]), input('ids', 'INT64', [2])], raw_input_contents: [rawX, rawIds] });
      expect(type.decoded.ok ? [] : type.decoded.details.map((d) => d.message)).toEqual(["is 'FP64', but model 'm' expects 'FP32'"]);
      const missing = decode({ inputs: [input('x', 'FP32', [2, 4]), input('ids', 'INT64', [2])], raw_input_contents: [rawX] });
      expect(missing.problems).toEqual([{ field: 'raw_input_contents', message: 'has 1 entries; one per input (2) is needed' }]);
    });

    it('refuses typed contents beside raw ones', () => {
      const sut = decode({ inputs: [input('x', 'FP32', [2, 4], { fp32_contents: X }), input('ids', 'INT64', [2])], raw_input_contents: [rawX, rawIds] });
      expect(sut.problems).toEqual([{ field: 'inputs[0] (x).contents', message: 'must be empty when raw_input_contents is given' }]);
    });
  });

  describe('encodeModelInferResponse', () => {
    const outputs: NamedTensors = {
      scores: { datatype: 'FP32', shape: [2, 3], data: new Float32Array([0.25, 0.5, 0.25, 0.125, 0.75, 0.125]) },
      label: { datatype: 'INT64', shape: [2], data: new BigInt64Array([2n ** 60n + 1n, -1n]) },
    };

    it('puts each output in its contents field, 64-bit integers without losing a digit', () => {
      // Act
      const sut = sent(encodeModelInferResponse('m', 2, 'r1', outputs, ['scores', 'label'], false));

      // Assert
      expect(sut).toMatchObject({ model_name: 'm', model_version: '2', id: 'r1', raw_output_contents: [] });
      expect(sut.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([['scores', 'FP32', [2, 3]], ['label', 'INT64', [2]]]);
      expect(sut.outputs[0].contents!.fp32_contents).toEqual([0.25, 0.5, 0.25, 0.125, 0.75, 0.125]);
      // The reader turns int64 into numbers (longs: Number); the wire carried the exact value.
      const exact = method.responseSerialize(encodeModelInferResponse('m', 2, 'r1', outputs, ['label'], false)) as Buffer;
      expect(exact.includes(Buffer.from([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]))).toBe(true);
    });

    it('answers raw_output_contents in the order of the requested outputs when the inputs were raw', () => {
      const sut = sent(encodeModelInferResponse('m', 2, 'r1', outputs, ['label', 'scores'], true));
      expect(sut.outputs.map((o) => o.name)).toEqual(['label', 'scores']);
      expect(sut.outputs.every((o) => o.contents === null)).toBe(true);
      expect(new BigInt64Array(new Uint8Array(sut.raw_output_contents[0]).buffer)).toEqual(new BigInt64Array([2n ** 60n + 1n, -1n]));
      expect(Array.from(new Float32Array(new Uint8Array(sut.raw_output_contents[1]).buffer))).toEqual([0.25, 0.5, 0.25, 0.125, 0.75, 0.125]);
    });

    it('answers every output raw when one is FP16, which has no contents field', () => {
      const half: NamedTensors = { ...outputs, h: { datatype: 'FP16', shape: [1], data: new Uint16Array([0x3c00]) } };
      const sut = sent(encodeModelInferResponse('m', 1, 'r', half, ['scores', 'h'], false));
      expect(sut.raw_output_contents.map((b) => b.length)).toEqual([24, 2]);
    });

    it('encodes BOOL and BYTES outputs in their fields', () => {
      const tensors: NamedTensors = {
        b: { datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
        s: { datatype: 'BYTES', shape: [1], data: ['héllo'] },
      };
      const sut = sent(encodeModelInferResponse('m', 1, 'r', tensors, ['b', 's'], false));
      expect(sut.outputs[0].contents!.bool_contents).toEqual([true, false]);
      expect(Buffer.from(sut.outputs[1].contents!.bytes_contents![0]).toString('utf8')).toBe('héllo');
    });
  });
});
