import fc from 'fast-check';

import { SerializationService } from '../../serialization/serialization.service';
import { encodeInferResponse } from './v2-codec';
import { DIRECT_JSON_VALUES, largeJsonAnswer, numbersJson } from './v2-json-answer';

describe('largeJsonAnswer', () => {
  it('leaves an answer under DIRECT_JSON_VALUES output values to the serialization interceptor', () => {
    // Arrange
    const { response } = encodeInferResponse('iris', 2, 'r', { p: { datatype: 'FP32', shape: [1, 3], data: Float32Array.of(0.1, 0.2, 0.7) } }, ['p']);

    // Act / Assert
    expect(largeJsonAnswer(response)).toBeUndefined();
  });

  it('writes a large answer as exactly the bytes the serialization presets would give for the same values as plain arrays', () => {
    // Arrange: an image-sized map with -0, tiny and large values; a second large output; a BOOL, an INT64 and a small FP32 output beside them
    const map = Float32Array.from({ length: DIRECT_JSON_VALUES + 5 }, (_, i) => (i === 0 ? -0 : Math.sin(i) * 10 ** ((i % 40) - 20)));
    const counts = Int32Array.from({ length: DIRECT_JSON_VALUES }, (_, i) => (i * 7919) - 2 ** 30);
    const { response } = encodeInferResponse('det', 1, 'req-\u0000-"quoted"', {
      map: { datatype: 'FP32', shape: [1, 1, 1, DIRECT_JSON_VALUES + 5], data: map },
      mask: { datatype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) },
      ids: { datatype: 'INT64', shape: [1], data: BigInt64Array.of(42n) },
      counts: { datatype: 'INT32', shape: [DIRECT_JSON_VALUES], data: counts },
      small: { datatype: 'FP32', shape: [3], data: Float32Array.of(0.1, 0.2, 0.7) },
    }, ['map', 'mask', 'ids', 'counts', 'small']);
    const plain = { ...response, outputs: response.outputs.map((o) => ({ ...o, data: Array.from(o.data as ArrayLike<unknown>) })) };
    const service = new SerializationService();

    // Act
    const sut = largeJsonAnswer(response);

    // Assert: the large outputs stayed typed arrays (no array of numbers built), and the bytes are the presets'
    expect(response.outputs[0].data).toBeInstanceOf(Float32Array);
    expect(response.outputs[3].data).toBeInstanceOf(Int32Array);
    expect(Array.isArray(response.outputs[4].data)).toBe(true);
    for (const preset of ['api', 'performance'] as const) {
      expect(Buffer.concat(sut!).toString('utf8')).toBe(JSON.stringify(service.compile({ ...service.resolve(preset), max_size: Infinity })(plain)));
    }
  });
});

describe('numbersJson', () => {
  it('writes any numeric typed array as JSON.stringify writes its values as a plain array, at every chunk boundary (property)', () => {
    const float = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 5e-324, -2.2250738585072014e-308, -1.7976931348623157e308));
    const data = fc.oneof(
      fc.array(float, { maxLength: 9000 }).map((v) => Float64Array.from(v)),
      fc.array(float, { maxLength: 9000 }).map((v) => Float32Array.from(v)),
      fc.array(fc.integer(), { maxLength: 9000 }).map((v) => Int32Array.from(v)),
      fc.constantFrom(4095, 4096, 4097, 8192, 8193).map((n) => Float32Array.from({ length: n }, (_, i) => -Math.cos(i) / 7)),
      fc.constant(new Uint8Array(0)),
    );
    fc.assert(fc.property(data, (values) => {
      // Act
      const sut = numbersJson(values);

      // Assert
      expect(sut.toString('latin1')).toBe(JSON.stringify(Array.from(values)));
    }), { numRuns: 150 });
  });
});
