import { CachedPrediction } from './prediction-cache';
import { decodePrediction, encodePrediction } from './prediction-codec';

describe('encodePrediction / decodePrediction', () => {
  it('round-trips every datatype bit for bit: FP16 bits, -0, NaN, 64-bit integers, UTF-16 strings', () => {
    // Arrange
    const value: CachedPrediction = {
      model_version: '7',
      outputs: {
        probabilities: { datatype: 'FP32', shape: [2, 2], data: Float32Array.from([0.25, -0, Number.NaN, 3.4e38]) },
        score: { datatype: 'FP64', shape: [1], data: Float64Array.from([Math.PI]) },
        half: { datatype: 'FP16', shape: [2], data: Uint16Array.from([0x3c00, 0x8000]) },
        ids: { datatype: 'INT64', shape: [2], data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]) },
        big: { datatype: 'UINT64', shape: [1], data: BigUint64Array.from([2n ** 64n - 1n]) },
        small: { datatype: 'INT8', shape: [3], data: Int8Array.from([-128, 0, 127]) },
        mask: { datatype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
        label: { datatype: 'BYTES', shape: [3], data: ['setosa', 'ünïcødé 🌸', '\ud800 lone surrogate'] },
        empty: { datatype: 'INT32', shape: [0, 3], data: new Int32Array(0) },
      },
    };

    // Act
    const sut = decodePrediction(encodePrediction(value));

    // Assert
    expect(sut).toEqual(value);
    const probabilities = sut!.outputs.probabilities.data as Float32Array;
    expect(Object.is(probabilities[1], -0)).toBe(true);
    expect(Number.isNaN(probabilities[2])).toBe(true);
    expect(sut!.outputs.ids.data).toBeInstanceOf(BigInt64Array);
    expect(sut!.outputs.label.data).toEqual(['setosa', 'ünïcødé 🌸', '\ud800 lone surrogate']);
  });

  it('decodes from a buffer at any offset (a pooled reply) into aligned arrays of their own', () => {
    // Arrange
    const encoded = encodePrediction({ model_version: '1', outputs: { y: { datatype: 'FP64', shape: [2], data: Float64Array.from([1.5, -2]) } } });
    const pool = Buffer.alloc(encoded.length + 3);
    encoded.copy(pool, 3);

    // Act
    const sut = decodePrediction(pool.subarray(3));
    pool.fill(0);

    // Assert
    expect(Array.from(sut!.outputs.y.data as Float64Array)).toEqual([1.5, -2]);
  });

  it('encodes a view of a larger buffer as the view only', () => {
    // Arrange
    const whole = Float32Array.from([9, 1, 2, 9]);

    // Act
    const sut = decodePrediction(encodePrediction({ model_version: '1', outputs: { y: { datatype: 'FP32', shape: [2], data: whole.subarray(1, 3) } } }));

    // Assert
    expect(Array.from(sut!.outputs.y.data as Float32Array)).toEqual([1, 2]);
  });

  it('keeps an output named __proto__ as an output', () => {
    // Act
    const sut = decodePrediction(encodePrediction({ model_version: '1', outputs: JSON.parse('{"__proto__":{"datatype":"BYTES","shape":[1],"data":["x"]}}') }));

    // Assert
    expect(Object.keys(sut!.outputs)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(sut!.outputs)).toBe(Object.prototype);
  });

  it.each([
    ['empty', () => Buffer.alloc(0)],
    ['another format', () => { const b = encodePrediction({ model_version: '1', outputs: {} }); b[0] = 9; return b; }],
    ['another byte order', () => { const b = encodePrediction({ model_version: '1', outputs: {} }); b[1] ^= 1; return b; }],
    ['truncated data', () => encodePrediction({ model_version: '1', outputs: { y: { datatype: 'FP32', shape: [4], data: new Float32Array(4) } } }).subarray(0, -1)],
    ['trailing bytes', () => Buffer.concat([encodePrediction({ model_version: '1', outputs: {} }), Buffer.from([0])])],
    ['a header that is not JSON', () => { const b = encodePrediction({ model_version: '1', outputs: {} }); b[6] = 0x7b; b[7] = 0x7b; return b; }],
    ['a byte length that does not match the shape', () => {
      const b = encodePrediction({ model_version: '1', outputs: { y: { datatype: 'FP32', shape: [2], data: new Float32Array(2) } } });
      return Buffer.from(b.toString('latin1').replace('[2],8', '[3],8'), 'latin1');
    }],
  ])('answers undefined (a miss) for %s', (_, corrupt) => {
    // Act
    const sut = decodePrediction(corrupt());

    // Assert
    expect(sut).toBeUndefined();
  });
});
