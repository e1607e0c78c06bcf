import { answerStream, headerLength, tensorBytes, tensorDataFromBytes } from './v2-binary';

/** BYTES elements as the extension lays them out: a 4-byte little-endian length before each. */
function bytesOf(...items: string[]): Uint8Array {
  return Buffer.concat(items.flatMap((s) => {
    const body = Buffer.from(s, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(body.length);
    return [length, body];
  }));
}

describe('headerLength', () => {
  it.each([
    ['12', 100, 12],
    ['0', 0, 0],
    [' 7 ', 7, 7],
    [['5', '9'], 10, 5],
  ])('reads %j for a body of %d bytes as %d', (value, body, expected) => {
    expect(headerLength(value as string, body)).toBe(expected);
  });

  it.each([
    [undefined, 'must be a non-negative integer'],
    ['-1', 'must be a non-negative integer'],
    ['1e3', 'must be a non-negative integer'],
    ['abc', 'must be a non-negative integer'],
    ['101', "exceeds the body's 100 bytes"],
  ])('refuses %j', (value, message) => {
    expect(headerLength(value, 100)).toEqual(expect.stringContaining(message));
  });
});

describe('tensorDataFromBytes', () => {
  it('reads aligned bytes without copying: a typed array over the body\'s own memory', () => {
    // Arrange: the tensor at byte 8 of a body (after an 8-byte header), as Buffer.concat lays a request out
    const body = Buffer.alloc(8 + 16);
    Buffer.from(Float32Array.from([1.5, -2.25, 3, 4]).buffer).copy(body, 8);
    const f64 = Buffer.alloc(16 + 8);
    Buffer.from(Float64Array.from([0.1]).buffer).copy(f64, 16);

    // Act
    const sut = tensorDataFromBytes(body.subarray(8), 'FP32', 4) as Float32Array;
    const wide = tensorDataFromBytes(f64.subarray(16), 'FP64', 1) as Float64Array;

    // Assert
    expect(sut).toBeInstanceOf(Float32Array);
    expect(sut.buffer).toBe(body.buffer);
    expect(sut.byteOffset).toBe(body.byteOffset + 8);
    expect(Array.from(sut)).toEqual([1.5, -2.25, 3, 4]);
    expect(wide.buffer).toBe(f64.buffer);
    expect(Array.from(wide)).toEqual([0.1]);
  });

  it('checks the floats of a view as of a copy: NaN and Infinity are named', () => {
    // Arrange
    const body = Buffer.alloc(4 + 12);
    Buffer.from(Float32Array.from([1, Number.NaN, 2]).buffer).copy(body, 4);
    const half = new Uint8Array(Uint16Array.from([0x3c00, 0x7c00]).buffer);

    // Act / Assert
    expect(tensorDataFromBytes(body.subarray(4), 'FP32', 3)).toBe('element 1 is not a finite number');
    expect(tensorDataFromBytes(half, 'FP16', 2)).toBe('element 1 is not a finite number');
  });

  it('reads every fixed-size datatype little-endian into its typed array, as an aligned copy when misaligned', () => {
    // Arrange: an odd offset, as in a real body after a JSON header
    const f32 = Float32Array.from([1.5, -2.25]);
    const padded = new Uint8Array(9);
    padded.set(new Uint8Array(f32.buffer), 1);

    // Act
    const sut = tensorDataFromBytes(padded.subarray(1), 'FP32', 2);

    // Assert
    expect(sut).toBeInstanceOf(Float32Array);
    expect(Array.from(sut as Float32Array)).toEqual([1.5, -2.25]);
    padded.fill(0);
    expect(Array.from(sut as Float32Array)).toEqual([1.5, -2.25]);
    expect(tensorDataFromBytes(new Uint8Array(new BigInt64Array([-3n, 9007199254740993n]).buffer), 'INT64', 2)).toEqual(new BigInt64Array([-3n, 9007199254740993n]));
    expect(tensorDataFromBytes(new Uint8Array(new Uint16Array([0x3c00]).buffer), 'FP16', 1)).toEqual(new Uint16Array([0x3c00]));
    expect(tensorDataFromBytes(new Uint8Array(new Int8Array([-1, 5]).buffer), 'INT8', 2)).toEqual(new Int8Array([-1, 5]));
    expect(tensorDataFromBytes(new Uint8Array(new Float64Array([0.1]).buffer), 'FP64', 1)).toEqual(new Float64Array([0.1]));
  });

  it('names a byte count that does not fit the shape', () => {
    expect(tensorDataFromBytes(new Uint8Array(6), 'FP32', 2)).toBe('has 6 bytes, 2 FP32 elements need 8');
    expect(tensorDataFromBytes(new Uint8Array(3), 'INT64', 0)).toBe('has 3 bytes, 0 INT64 elements need 0');
  });

  it('takes BOOL bytes 0 and 1 only, and finite floats only', () => {
    expect(tensorDataFromBytes(Uint8Array.from([1, 0, 1]), 'BOOL', 3)).toEqual(Uint8Array.from([1, 0, 1]));
    expect(tensorDataFromBytes(Uint8Array.from([1, 2]), 'BOOL', 2)).toBe('BOOL elements must be bytes 0 or 1');
    expect(tensorDataFromBytes(new Uint8Array(Float64Array.from([1, Infinity]).buffer), 'FP64', 2)).toBe('element 1 is not a finite number');
  });

  it('reads BYTES elements with their length prefixes, UTF-8', () => {
    expect(tensorDataFromBytes(bytesOf('héllo', '', 'x'), 'BYTES', 3)).toEqual(['héllo', '', 'x']);
  });

  it.each([
    ['a cut length', bytesOf('ab').subarray(0, 3), 1, 'ends inside the length of BYTES element 0'],
    ['a cut element', bytesOf('abc').subarray(0, 5), 1, 'ends inside BYTES element 0'],
    ['trailing bytes', Buffer.concat([bytesOf('a'), Buffer.from([0])]), 1, 'has 1 bytes after its 1 BYTES elements'],
  ])('names BYTES data with %s', (_, bytes, count, message) => {
    expect(tensorDataFromBytes(bytes, 'BYTES', count)).toBe(message);
  });
});

describe('tensorBytes', () => {
  it('gives the raw bytes of a typed tensor and round-trips through tensorDataFromBytes', () => {
    // Arrange
    const data = Int32Array.from([1, -2, 300000]);

    // Act
    const sut = tensorBytes({ datatype: 'INT32', shape: [3], data });

    // Assert
    expect(sut.length).toBe(12);
    expect(tensorDataFromBytes(sut, 'INT32', 3)).toEqual(data);
  });

  it('lays BYTES out with length prefixes', () => {
    expect(tensorBytes({ datatype: 'BYTES', shape: [2], data: ['hi', 'é'] })).toEqual(Buffer.from(bytesOf('hi', 'é')));
  });
});

describe('answerStream', () => {
  it('streams the header and each output\'s own bytes, as they are, with the total length', async () => {
    // Arrange
    const header = Buffer.from('{"outputs":[]}');
    const output = Float32Array.from([1, 2, 3]);
    const bytes = tensorBytes({ datatype: 'FP32', shape: [3], data: output });

    // Act
    const sut = answerStream([header, bytes]);
    // Flowing, as the adapters pipe it into the response: one chunk per part.
    const chunks: Buffer[] = [];
    sut.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => sut.stream.once('end', resolve));

    // Assert
    expect(sut.length).toBe(header.length + 12);
    expect(Buffer.concat(chunks)).toEqual(Buffer.concat([header, bytes]));
    expect(chunks[1].buffer).toBe(output.buffer);
  });
});
