import fc from 'fast-check';

import { JsonNumbers } from '../inference/codec/json-numbers';
import { doneWithBody, InferJsonScanner, parseInferJson } from './infer-json';
import { parseJson } from './request-bodies';

/** A parsed body with every JsonNumbers turned back into the arrays it stands for. */
function plain(value: unknown): unknown {
  if (value instanceof JsonNumbers) return nest(Array.from(value.values), value.shape);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function nest(values: number[], shape: readonly number[]): unknown {
  if (shape.length <= 1) return values;
  const size = values.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(values.slice(i * size, (i + 1) * size), shape.slice(1)));
}

const read = (text: string): unknown => parseInferJson(Buffer.from(text, 'utf8'), parseJson);

/** Where `read` put JsonNumbers: the inputs whose data came off the fast path. */
const fast = (value: unknown): boolean[] => ((value as { inputs: { data: unknown }[] }).inputs ?? []).map((i) => i.data instanceof JsonNumbers);

describe('parseInferJson', () => {
  it('reads flat and nested numeric data into doubles with the nesting\'s shape; the rest as JSON.parse does', () => {
    // Arrange
    const text = JSON.stringify({
      id: 'a',
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [2, 2], data: [[1, 2.5], [-3e-5, 0]] },
        { name: 'y', datatype: 'INT64', shape: [3], data: [7, -9007199254740991, 12] },
      ],
      outputs: [{ name: 'out', parameters: { binary_data: false } }],
    });

    // Act
    const sut = read(text) as { inputs: { data: JsonNumbers }[] };

    // Assert
    expect(fast(sut)).toEqual([true, true]);
    expect(sut.inputs[0].data.shape).toEqual([2, 2]);
    expect(Array.from(sut.inputs[0].data.values)).toEqual([1, 2.5, -3e-5, 0]);
    expect(sut.inputs[1].data.flat).toBe(true);
    expect(plain(sut)).toEqual(JSON.parse(text));
  });

  it.each([
    ['17 significant digits', '0.10000000149011612'],
    ['a long mantissa', '123456789012345678901234567890'],
    ['exponents', '1.5e-7'],
    ['a capital exponent with a sign', '2E+21'],
    ['the smallest subnormal', '5e-324'],
    ['negative zero', '-0'],
    ['past the doubles', '1e400'],
    ['many leading zeros in the fraction', '0.000000000000000000000000123'],
    ['an integer past 2^53', '9007199254740993'],
  ])('gives exactly JSON.parse\'s double for %s', (_, number) => {
    // Act
    const sut = read(`{"inputs":[{"name":"x","data":[${number}, 1]}]}`) as { inputs: { data: JsonNumbers }[] };

    // Assert
    expect(Object.is(sut.inputs[0].data.values[0], JSON.parse(number))).toBe(true);
  });

  it('leaves data that is not plainly numbers to JSON.parse: booleans, strings, null, ragged or mixed nesting', () => {
    // Arrange
    const inputs = [[true, false], ['a', 'b'], [1, null], [[1, 2], [3]], [[1], 2], [1, [2]]];
    const text = JSON.stringify({ inputs: [...inputs.map((data) => ({ data })), { data: [1, 2] }] });

    // Act
    const sut = read(text);

    // Assert
    expect(fast(sut)).toEqual([false, false, false, false, false, false, true]);
    expect(plain(sut)).toEqual(JSON.parse(text));
  });

  it('is not fooled by a "data" inside a string, an escaped key, or data outside an input', () => {
    // Arrange
    const text = '{"id":"\\"data\\":[1,2]","parameters":{"data":[5]},"inputs":[{"d\\u0061ta":[3],"name":"x"},{"data":[4]}],"data":[6]}';

    // Act
    const sut = read(text);

    // Assert
    expect(fast(sut)).toEqual([false, true]);
    expect(plain(sut)).toEqual(JSON.parse(text));
  });

  it('keeps the last of a repeated key, as JSON.parse does', () => {
    // Arrange
    const text = '{"inputs":[{"data":[1],"data":[2,3]}],"inputs":[{"data":[4,5,6]}]}';

    // Act / Assert
    expect(plain(read(text))).toEqual(JSON.parse(text));
  });

  it.each([
    ['a trailing comma', '{"inputs":[{"data":[1,2,]}]}'],
    ['a leading zero', '{"inputs":[{"data":[01]}]}'],
    ['a bare dot', '{"inputs":[{"data":[1.]}]}'],
    ['a plus sign', '{"inputs":[{"data":[+1]}]}'],
    ['NaN', '{"inputs":[{"data":[NaN]}]}'],
    ['a missing bracket', '{"inputs":[{"data":[1,2}]}'],
    ['a cut body', '{"inputs":[{"data":[1,2'],
  ])('refuses malformed JSON with %s as the ordinary path does', (_, text) => {
    // Act / Assert
    expect(() => read(text) ?? parseJson(text)).toThrow('Malformed JSON in request body');
  });

  it('takes no fast path without numeric input data', () => {
    // Act / Assert
    expect(read('{"inputs":[{"name":"x","data":["a"]}]}')).toBeUndefined();
    expect(read('{"ready":true}')).toBeUndefined();
    expect(read('')).toBeUndefined();
  });

  it.each([
    ['a float32 printed as a double', String(Math.fround(0.1))],
    ['the midpoint between 1 and the next float32 (ties to even)', '1.000000059604644775390625'],
    ['just above that midpoint', '1.0000000596046448'],
    ['just below it', '1.0000000596046446'],
    ['a float32 midpoint at 17 digits with an exponent', '3.4028235677973366e+38'],
    ['under float32\'s normal range (read by Number(): the power of ten is past the fast path)', '1.1754942106924411e-38'],
    ['twenty digits', '0.12345678901234567890'],
    ['a long integer', '16777217.000000000001'],
    // Found by search: the approximation alone would round these to the other float32 of a midpoint.
    ['21 digits at a float32 midpoint', '1.99357253313064575195'],
    ['21 digits at another float32 midpoint', '1.42700034379959128650'],
  ])('gives for FP32 the float32 that JSON.parse\'s double rounds to, for %s, and JSON.parse\'s double as the values', (_, number) => {
    // Act
    const sut = read(`{"inputs":[{"name":"x","data":[${number}, -${number}]}]}`) as { inputs: { data: JsonNumbers }[] };
    const exact = Array.from((read(`{"inputs":[{"name":"x","data":[${number}, -${number}]}]}`) as { inputs: { data: JsonNumbers }[] }).inputs[0].data.values);
    const float32 = Array.from(sut.inputs[0].data.float32);

    // Assert
    expect(float32).toEqual([Math.fround(JSON.parse(number)), Math.fround(-JSON.parse(number))]);
    expect(exact).toEqual([JSON.parse(number), -JSON.parse(number)]);
  });

  it('keeps float32 values, widened exactly when each is a float32, read again when one is not, until the exact ones are given up', () => {
    // Arrange: an approximated long decimal, a short decimal that is no float32, float32s and small integers, an integer past 2^24
    const sut = read('{"inputs":[{"name":"a","data":[0.10000000149011612]},{"name":"b","data":[0.1]},{"name":"c","data":[0.5,-0,3,0.7364309430122375]},{"name":"d","data":[16777217]}]}') as { inputs: { data: JsonNumbers }[] };
    const [approximated, short, floats, big] = sut.inputs.map((i) => i.data);

    // Act
    const float32 = [approximated, short, floats, big].map((d) => Array.from(d.float32));
    approximated.releaseExact();
    floats.releaseExact();

    // Assert
    expect(float32).toEqual([[Math.fround(0.1)], [Math.fround(0.1)], [0.5, -0, 3, 0.7364309430122375], [16777216]]);
    expect(() => approximated.values).toThrow(/given up/);
    expect(Array.from(floats.values)).toEqual([0.5, -0, 3, 0.7364309430122375]);
    expect(Array.from(short.values)).toEqual([0.1]);
    expect(Array.from(big.values)).toEqual([16777217]);
    expect(Array.from(big.float32)).toEqual([16777216]);
  });

  it.each([[5_000, 0], [5_000, 40_000], [300_000, 0]])('reads an array of %i values after %i bytes of other input data (the values array grows to fit)', (count, padding) => {
    // Arrange
    const values = Array.from({ length: count }, (_, i) => (i % 97) / 8);
    const text = JSON.stringify({ inputs: [{ name: 'p', datatype: 'BYTES', data: ['z'.repeat(padding)] }, { name: 'x', data: values }] });

    // Act
    const sut = read(text) as { inputs: { data: unknown }[] };

    // Assert
    expect(fast(sut)).toEqual([false, true]);
    expect(Array.from((sut.inputs[1].data as JsonNumbers).values)).toEqual(values);
  });

  it('rounds any float32 and any long decimal to JSON.parse\'s float32 (property)', () => {
    const float32 = fc.float({ noNaN: true, noDefaultInfinity: true }).map((v) => String(v));
    const decimal = fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.stringMatching(/^[0-9]{10,22}$/), fc.integer({ min: -40, max: 38 }))
      .map(([whole, fraction, exponent]) => `${whole}.${fraction}e${exponent}`);
    // Decimals within a few doubles of the midpoint between two neighbouring float32s (where a careless approximation rounds the wrong way).
    const nearMidpoint = fc.tuple(fc.integer({ min: 0x00800000, max: 0x7f000000 }), fc.integer({ min: -3, max: 3 })).map(([bits, delta]) => {
      const [low, high] = new Float32Array(new Uint32Array([bits, bits + 1]).buffer);
      const midpoint = (low + high) / 2;
      return (midpoint + (delta * Number.EPSILON * midpoint) / 4).toPrecision(21);
    });
    fc.assert(fc.property(fc.array(fc.oneof(float32, decimal, nearMidpoint), { minLength: 1, maxLength: 20 }), (numbers) => {
      const text = `{"inputs":[{"name":"x","data":[${numbers.join(',')}]}]}`;
      const forFloat32 = read(text) as { inputs: { data: JsonNumbers }[] };
      const forExact = read(text) as { inputs: { data: JsonNumbers }[] };
      const expected = numbers.map((n) => JSON.parse(n) as number);
      expect(Array.from(forFloat32.inputs[0].data.float32)).toEqual(expected.map(Math.fround));
      expect(Array.from(forExact.inputs[0].data.values)).toEqual(expected);
    }), { numRuns: 500 });
  });

  it('reads every run of 0-24 integer and fraction digits, whatever ends it, as JSON.parse does (the four-digit steps)', () => {
    // Arrange: runs that end on each four-digit boundary and between them, before each kind of terminator.
    const digits = '738291046573829104657382';
    const numbers: string[] = [];
    for (let whole = 1; whole <= 20; whole += 1) {
      for (let fraction = 1; fraction <= 24; fraction += 1) {
        numbers.push(`${digits.slice(0, whole)}.${digits.slice(whole % 7, (whole % 7) + fraction)}`);
        numbers.push(`0.${'0'.repeat(whole % 5)}${digits.slice(0, fraction)}e-${whole}`);
      }
    }
    for (const end of [']', ' ]', '\n]']) {
      const text = `{"inputs":[{"name":"x","data":[${numbers.join(',')}${end}}]}`;
      // Act
      const sut = read(text) as { inputs: { data: JsonNumbers }[] };
      // Assert
      expect(Array.from(sut.inputs[0].data.values)).toEqual(numbers.map((n) => JSON.parse(n) as number));
    }
  });

  it('hides the values from a walk over the parsed body (the input limits): one key, the shape', () => {
    // Act
    const sut = read('{"inputs":[{"data":[1,2,3]}]}') as { inputs: { data: object }[] };

    // Assert
    expect(Object.keys(sut.inputs[0].data)).toEqual(['shape']);
  });

  it('reads any body of numeric tensors as JSON.parse does (property)', () => {
    const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constantFrom(0, -0, 1e-300, 5e-324, 1.7976931348623157e308));
    const tensor = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 4 })).chain(([rows, cols]) =>
      fc.oneof(
        fc.array(fc.array(number, { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows }),
        fc.array(number, { maxLength: 6 }),
      ));
    const body = fc.record({
      id: fc.string(),
      inputs: fc.array(fc.record({ name: fc.string(), datatype: fc.constantFrom('FP32', 'FP64'), shape: fc.array(fc.nat(4)), data: tensor }), { minLength: 1, maxLength: 3 }),
    });
    const spacing = fc.constantFrom(0, 1, '\t');
    fc.assert(fc.property(body, spacing, (value, space) => {
      const text = JSON.stringify(value, null, space);
      const sut = read(text);
      expect(plain(sut)).toEqual(JSON.parse(text));
    }), { numRuns: 300 });
  });
});

describe('InferJsonScanner, as the body arrives', () => {
  /**
   * `text` arriving in chunks of `sizes` (cycled) into a buffer of its final length whose bytes
   * not in yet are `filler` (what an unwritten allocUnsafe buffer may hold), walked after each.
   */
  function streamed(text: string, sizes: number[], filler: string, margin: number): unknown {
    const body = Buffer.from(text, 'utf8');
    const target = Buffer.alloc(body.length, filler.length > 0 ? filler : '\u0000');
    const sut = new InferJsonScanner(target, margin);
    for (let at = 0, k = 0; at < body.length; k += 1) {
      const end = Math.min(body.length, at + sizes[k % sizes.length]);
      body.copy(target, at, at, end);
      at = end;
      sut.advance(at);
    }
    return parseInferJson(target, parseJson, sut);
  }

  /** Bytes that look like the rest of a number, a string's end, a closing bracket: a walk that read them would go wrong. */
  const fillers = ['', '7', '9.25e+3', '"', ']', ']}]}', '\\', ', 1', ' '];

  it('finds what a walk over the whole body finds, in chunks of any size over any unwritten bytes (property)', () => {
    // Arrange: tensors (some refused: strings, ragged), names and ids with quotes and escapes
    const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.float({ noNaN: true, noDefaultInfinity: true }).map(Number));
    const tensor = fc.oneof(
      fc.array(number, { maxLength: 40 }),
      fc.array(fc.array(number, { minLength: 3, maxLength: 3 }), { maxLength: 6 }),
      fc.array(fc.oneof(number, fc.string()), { maxLength: 5 }),
      fc.constant([[1, 2], [3]]),
    );
    const body = fc.record({
      id: fc.string(),
      inputs: fc.array(fc.record({ name: fc.string(), datatype: fc.constant('FP32'), shape: fc.array(fc.nat(4)), data: tensor }), { minLength: 1, maxLength: 3 }),
    });
    const chunks = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 });
    fc.assert(fc.property(body, fc.constantFrom(0, 2), chunks, fc.constantFrom(...fillers), fc.integer({ min: 0, max: 24 }), (value, space, sizes, filler, margin) => {
      const text = JSON.stringify(value, null, space);
      // Act
      const sut = streamed(text, sizes, filler, margin);
      // Assert: the same value, the same arrays off the fast path
      const whole = read(text);
      expect(plain(sut)).toEqual(plain(whole));
      expect(sut === undefined ? undefined : fast(sut)).toEqual(whole === undefined ? undefined : fast(whole));
    }), { numRuns: 400 });
  });

  it('reads an image-sized array as it arrives in socket-sized chunks, as a walk over the whole body does', () => {
    // Arrange: 50,000 float32s printed as doubles, with a long string after them (past the margin, across chunks)
    const values = Array.from({ length: 50_000 }, (_, i) => Math.fround(Math.sin(i) / 3));
    const text = `{"inputs":[{"name":"x","datatype":"FP32","shape":[50000],"data":${JSON.stringify(values)},"parameters":{"note":"${'n'.repeat(10_000)}"}}]}`;
    for (const size of [65_536, 16_384, 1_000]) {
      // Act
      const sut = streamed(text, [size], '5', 4096) as { inputs: { data: JsonNumbers; parameters: { note: string } }[] };
      // Assert
      expect(Array.from(sut.inputs[0].data.values)).toEqual(values);
      expect(sut.inputs[0].parameters.note).toHaveLength(10_000);
    }
  });
});

describe('doneWithBody (may the body\'s memory serve another request?)', () => {
  const body = (datatype: string, values: string) => read(`{"inputs":[{"name":"x","datatype":"${datatype}","shape":[3],"data":[${values}]}]}`) as { inputs: { data: JsonNumbers }[] };

  it('is true for values that are float32 exactly (nothing reads the body again)', () => {
    const value = body('FP32', '0.5,1,2.25');
    expect(doneWithBody(value)).toBe(true);
    expect(Array.from(value.inputs[0].data.values)).toEqual([0.5, 1, 2.25]);
  });

  it('gives up the exact doubles of a finite FP32 input (a later read throws, it never reads another body)', () => {
    const value = body('FP32', '0.30000001192092896,0.1,0.7');
    expect(value.inputs[0].data.readsBodyAgain).toBe(true);
    expect(doneWithBody(value)).toBe(true);
    expect(Array.from(value.inputs[0].data.float32)).toEqual([0.3, 0.1, 0.7].map(Math.fround));
    expect(() => value.inputs[0].data.values).toThrow(/releaseExact/);
  });

  it('is false, exact doubles kept, for another datatype or an FP32 value past float32\'s range (its error names the exact value)', () => {
    const fp64 = body('FP64', '0.1,0.2,0.30000000000000004');
    expect(doneWithBody(fp64)).toBe(false);
    expect(Array.from(fp64.inputs[0].data.values)).toEqual([0.1, 0.2, 0.30000000000000004]);
    const huge = body('FP32', '0.1,1e39,2');
    expect(doneWithBody(huge)).toBe(false);
    expect(huge.inputs[0].data.values[1]).toBe(1e39);
  });

  it('is true for a body without inputs of numbers', () => {
    expect(doneWithBody({ inputs: [{ name: 'x', datatype: 'BYTES', data: ['a'] }] })).toBe(true);
    expect(doneWithBody(undefined)).toBe(true);
  });
});
