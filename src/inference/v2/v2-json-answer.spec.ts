import { SerializationService } from '../../serialization/serialization.service';
import { encodeInferResponse } from './v2-codec';
import { DIRECT_JSON_VALUES, largeJsonAnswer } from './v2-json-answer';

describe('largeJsonAnswer', () => {
  it('leaves an answer under DIRECT_JSON_VALUES output values to the serialization interceptor', () => {
    // Arrange
    const { response } = encodeInferResponse('iris', 2, 'r', { p: { datatype: 'FP32', shape: [1, 3], data: Float32Array.of(0.1, 0.2, 0.7) } }, ['p']);

    // Act / Assert
    expect(largeJsonAnswer(response)).toBeUndefined();
  });

  it('writes a large answer as exactly the bytes the serialization presets would give', () => {
    // Arrange: an image-sized map with -0, tiny and large values, and a BOOL and an INT64 output beside it
    const map = Float32Array.from({ length: DIRECT_JSON_VALUES }, (_, i) => (i === 0 ? -0 : Math.sin(i) * 10 ** ((i % 40) - 20)));
    const { response } = encodeInferResponse('det', 1, 'req-1', {
      map: { datatype: 'FP32', shape: [1, 1, 256, 256], data: map },
      mask: { datatype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) },
      ids: { datatype: 'INT64', shape: [1], data: BigInt64Array.of(42n) },
    }, ['map', 'mask', 'ids']);
    const service = new SerializationService();

    // Act
    const sut = largeJsonAnswer(response);

    // Assert
    expect(sut).toBeInstanceOf(Buffer);
    for (const preset of ['api', 'performance'] as const) {
      expect(sut!.toString('utf8')).toBe(JSON.stringify(service.compile({ ...service.resolve(preset), max_size: Infinity })(response)));
    }
  });
});
