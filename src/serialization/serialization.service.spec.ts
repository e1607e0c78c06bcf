import fc from 'fast-check';

import { SERIALIZATION_PRESETS, SerializationConfig } from './serialization-config';
import { SerializationError } from './serialization.error';
import { SerializationService } from './serialization.service';

/** Stand-in for decimal.js: detected by constructor name, no dependency needed. */
class Decimal {
  constructor(private readonly text: string) {}
  toString(): string {
    return this.text;
  }
  toJSON(): string {
    return this.text;
  }
}

/** big.js-like shape under another name: detected by its toFixed/isFinite methods. */
class Money {
  constructor(private readonly text: string) {}
  toFixed(): string {
    return this.text;
  }
  isFinite(): boolean {
    return true;
  }
  toString(): string {
    return this.text;
  }
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  get norm(): number {
    return Math.hypot(this.x, this.y);
  }
  describe(): string {
    return `${this.x},${this.y}`;
  }
}

const UUID = '123e4567-e89b-42d3-a456-426614174000';
const AT = new Date('2024-01-02T03:04:05.678Z');

function nest(depth: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let node = root;
  for (let i = 1; i < depth; i += 1) {
    const child: Record<string, unknown> = {};
    node.a = child;
    node = child;
  }
  return root;
}

function captureError(act: () => unknown): SerializationError {
  try {
    act();
  } catch (error: unknown) {
    if (error instanceof SerializationError) return error;
    throw error;
  }
  throw new Error('expected a SerializationError');
}

function roundTrip(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe('SerializationService', () => {
  let sut: SerializationService;

  beforeEach(() => {
    sut = new SerializationService();
  });

  describe('resolve', () => {
    it('returns the api preset by default', () => {
      // Act
      const config = sut.resolve();

      // Assert
      expect(config).toEqual({
        uuid_format: 'string',
        parse_uuids: false,
        date_format: 'iso',
        preserve_decimals: true,
        max_depth: 50,
        max_size: 10 * 1024 * 1024,
        sort_keys: false,
      });
    });

    it('returns the performance preset by name', () => {
      // Act
      const config = sut.resolve('performance');

      // Assert
      expect(config).toMatchObject({ date_format: 'unix', preserve_decimals: false, max_depth: 20, max_size: 50 * 1024 * 1024 });
    });

    it('merges a partial override over api and ignores undefined keys', () => {
      // Act
      const config = sut.resolve({ date_format: 'unix_ms', max_depth: undefined });

      // Assert
      expect(config).toEqual({ ...SERIALIZATION_PRESETS.api, date_format: 'unix_ms' });
    });

    it('returns a copy that cannot alter the preset', () => {
      // Arrange
      const config = sut.resolve('api');

      // Act
      config.max_depth = 1;

      // Assert
      expect(SERIALIZATION_PRESETS.api.max_depth).toBe(50);
    });

    it('rejects an unknown preset and invalid values', () => {
      // Act / Assert
      expect(() => sut.resolve('fast' as 'api')).toThrow(TypeError);
      expect(() => sut.resolve({ max_depth: Number.NaN })).toThrow(/max_depth/);
      expect(() => sut.resolve({ max_size: -1 })).toThrow(/max_size/);
      expect(() => sut.resolve({ date_format: 'rfc' as 'iso' })).toThrow(/date_format/);
    });
  });

  describe('serialize primitives', () => {
    it('keeps strings, booleans, null and finite numbers', () => {
      // Act
      const result = sut.serialize({ s: 'x', t: true, f: false, n: null, i: 42, r: 1.5 });

      // Assert
      expect(result).toEqual({ s: 'x', t: true, f: false, n: null, i: 42, r: 1.5 });
    });

    it('turns NaN and ±Infinity into null and -0 into 0', () => {
      // Act
      const result = sut.serialize([Number.NaN, Infinity, -Infinity, -0]);

      // Assert
      expect(result).toEqual([null, null, null, 0]);
      expect(Object.is((result as number[])[3], 0)).toBe(true);
    });

    it('drops undefined, functions and symbols from objects and nulls them in arrays', () => {
      // Arrange
      const value = { keep: 1, u: undefined, fn: () => 1, sym: Symbol('s'), [Symbol('key')]: 2, list: [undefined, () => 1, Symbol('x')] };

      // Act
      const result = sut.serialize(value);

      // Assert
      expect(result).toStrictEqual({ keep: 1, list: [null, null, null] });
    });

    it('returns null for an undefined root', () => {
      // Act / Assert
      expect(sut.serialize(undefined)).toBeNull();
    });

    it('unwraps boxed primitives', () => {
      // Act
      const result = sut.serialize([new Number(3), new String('x'), new Boolean(false)]);

      // Assert
      expect(result).toEqual([3, 'x', false]);
    });
  });

  describe('serialize dates', () => {
    it.each([
      ['iso', '2024-01-02T03:04:05.678Z'],
      ['unix', 1704164645.678],
      ['unix_ms', 1704164645678],
    ] as const)('encodes date_format %s', (dateFormat, expected) => {
      // Act
      const result = sut.serialize({ at: AT }, { date_format: dateFormat });

      // Assert
      expect(result).toEqual({ at: expected });
    });

    it('uses ISO for the api preset and unix seconds for the performance preset', () => {
      // Act
      const api = sut.serialize(AT, 'api');
      const performance = sut.serialize(AT, 'performance');

      // Assert
      expect(api).toBe('2024-01-02T03:04:05.678Z');
      expect(performance).toBeCloseTo(1704164645.678, 6);
    });

    it('turns an invalid Date into null', () => {
      // Act / Assert
      expect(sut.serialize({ at: new Date('nope') })).toEqual({ at: null });
    });
  });

  describe('serialize BigInt', () => {
    it('uses numbers when safe and decimal strings otherwise', () => {
      // Arrange
      const big = 2n ** 64n;

      // Act
      const result = sut.serialize([42n, BigInt(Number.MAX_SAFE_INTEGER), big, -big]);

      // Assert
      expect(result).toEqual([42, Number.MAX_SAFE_INTEGER, '18446744073709551616', '-18446744073709551616']);
    });
  });

  describe('serialize collections', () => {
    it('turns a Map with string or number keys into an object', () => {
      // Act
      const result = sut.serialize(new Map<unknown, unknown>([['a', 1], [2, new Set([AT])]]));

      // Assert
      expect(result).toEqual({ a: 1, '2': ['2024-01-02T03:04:05.678Z'] });
    });

    it('turns a Map with object or colliding keys into [key, value] pairs', () => {
      // Act
      const objectKeys = sut.serialize(new Map([[{ id: 1 }, 'x']]));
      const colliding = sut.serialize(new Map<unknown, unknown>([[1, 'n'], ['1', 's']]));

      // Assert
      expect(objectKeys).toEqual([[{ id: 1 }, 'x']]);
      expect(colliding).toEqual([[1, 'n'], ['1', 's']]);
    });

    it('turns a Set into an array', () => {
      // Act / Assert
      expect(sut.serialize(new Set([1, 'a', 2n]))).toEqual([1, 'a', 2]);
    });

    it('sorts object keys when sort_keys is set', () => {
      // Act
      const result = sut.stringify({ b: 1, a: { d: 1, c: 2 } }, { sort_keys: true });

      // Assert
      expect(result).toBe('{"a":{"c":2,"d":1},"b":1}');
    });

    it('keeps a "__proto__" key as data without touching the prototype', () => {
      // Arrange
      const value = JSON.parse('{"__proto__":{"polluted":true},"ok":1}') as unknown;

      // Act
      const result = sut.serialize(value) as Record<string, unknown>;

      // Assert
      expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
      expect(JSON.stringify(result)).toBe('{"__proto__":{"polluted":true},"ok":1}');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('serialize typed arrays and bytes', () => {
    it('turns ONNX-style tensors into plain number arrays', () => {
      // Arrange
      const f32 = new Float32Array([0.1, 2.5]);

      // Act
      const result = sut.serialize({
        f32,
        f64: new Float64Array([1.25, Number.NaN]),
        i32: new Int32Array([-1, 7]),
        u8: new Uint8Array([1, 255]),
      });

      // Assert
      expect(result).toEqual({ f32: [Number(f32[0]), 2.5], f64: [1.25, null], i32: [-1, 7], u8: [1, 255] });
    });

    it('encodes BigInt64Array items like BigInt', () => {
      // Act
      const result = sut.serialize(new BigInt64Array([5n, 2n ** 62n]));

      // Assert
      expect(result).toEqual([5, '4611686018427387904']);
    });

    it('encodes Buffer, ArrayBuffer and DataView as base64', () => {
      // Arrange
      const bytes = Buffer.from('hello world');
      const view = bytes.subarray(6); // shares memory with an offset

      // Act
      const result = sut.serialize({
        buffer: bytes,
        slice: view,
        arrayBuffer: new Uint8Array([104, 105]).buffer,
        dataView: new DataView(new Uint8Array([104, 105]).buffer),
      });

      // Assert
      expect(result).toEqual({ buffer: 'aGVsbG8gd29ybGQ=', slice: 'd29ybGQ=', arrayBuffer: 'aGk=', dataView: 'aGk=' });
    });
  });

  describe('serialize objects', () => {
    it('keeps only name and message of an Error', () => {
      // Arrange
      class ModelError extends Error {
        override readonly name = 'ModelError';
      }

      // Act
      const result = sut.serialize({ error: new ModelError('boom') });

      // Assert
      expect(result).toStrictEqual({ error: { name: 'ModelError', message: 'boom' } });
      expect(JSON.stringify(result)).not.toContain('stack');
    });

    it('uses own enumerable properties of class instances', () => {
      // Act
      const result = sut.serialize(new Point(3, 4));

      // Assert
      expect(result).toStrictEqual({ x: 3, y: 4 });
    });

    it('calls toJSON once and serializes its result', () => {
      // Arrange
      const value = { toJSON: () => ({ at: AT, again: { toJSON: () => 'inner' } }) };

      // Act
      const result = sut.serialize(value);

      // Assert
      expect(result).toEqual({ at: '2024-01-02T03:04:05.678Z', again: 'inner' });
    });

    it('rejects a Promise as unsupported', () => {
      // Act
      const error = captureError(() => sut.serialize({ pending: Promise.resolve(1) }));

      // Assert
      expect(error.reason).toBe('unsupported');
      expect(error.path).toBe('$.pending');
    });
  });

  describe('serialize decimals', () => {
    it.each([
      ['api', '0.30000000000000000001'],
      ['performance', 0.3],
    ] as const)('preset %s encodes a Decimal as %p', (preset, expected) => {
      // Act
      const result = sut.serialize({ price: new Decimal('0.30000000000000000001') }, preset);

      // Assert
      expect(result).toEqual({ price: expected });
    });

    it('detects decimal look-alikes by toFixed/isFinite', () => {
      // Act
      const preserved = sut.serialize(new Money('12.50'), { preserve_decimals: true });
      const numeric = sut.serialize(new Money('12.50'), { preserve_decimals: false });

      // Assert
      expect(preserved).toBe('12.50');
      expect(numeric).toBe(12.5);
    });

    it('turns a non-finite decimal into null when not preserving', () => {
      // Act / Assert
      expect(sut.serialize(new Decimal('NaN'), { preserve_decimals: false })).toBeNull();
    });
  });

  describe('serialize UUIDs', () => {
    it('leaves UUID strings unchanged with uuid_format string', () => {
      // Act / Assert
      expect(sut.serialize({ id: UUID.toUpperCase() })).toEqual({ id: UUID.toUpperCase() });
    });

    it('wraps lower-cased UUIDs with uuid_format object and leaves other strings alone', () => {
      // Act
      const result = sut.serialize({ id: UUID.toUpperCase(), name: 'not-a-uuid' }, { uuid_format: 'object' });

      // Assert
      expect(result).toEqual({ id: { __uuid__: UUID }, name: 'not-a-uuid' });
    });
  });

  describe('limits', () => {
    it('accepts nesting exactly at max_depth and rejects one more level with its path', () => {
      // Act
      const atLimit = sut.serialize(nest(3), { max_depth: 3 });
      const error = captureError(() => sut.serialize(nest(4), { max_depth: 3 }));

      // Assert
      expect(atLimit).toEqual({ a: { a: {} } });
      expect(error.reason).toBe('max_depth');
      expect(error.path).toBe('$.a.a.a');
      expect(error.message).toContain('max_depth of 3');
    });

    it.each(['api', 'performance'] as const)('throws max_depth, not RangeError, on 100,000-deep nesting (%s)', (preset) => {
      // Arrange
      const deep = nest(100_000);

      // Act
      const error = captureError(() => sut.serialize(deep, preset));

      // Assert
      expect(error.reason).toBe('max_depth');
    });

    it('walks 100,000-deep nesting without recursion when max_depth is unlimited', () => {
      // Arrange
      const deep: unknown[] = [];
      let node = deep;
      for (let i = 0; i < 100_000; i += 1) {
        const child: unknown[] = [];
        node.push(child);
        node = child;
      }

      // Act
      const result = sut.serialize(deep, { max_depth: Infinity });

      // Assert
      expect(Array.isArray(result)).toBe(true);
    });

    it('reports the array index in the path', () => {
      // Arrange
      const value = { a: { b: [0, 1, 2, nest(3)] } };

      // Act
      const error = captureError(() => sut.serialize(value, { max_depth: 4 }));

      // Assert
      expect(error.path).toBe('$.a.b[3].a');
      expect(error.message).toContain('$.a.b[3].a');
    });

    it('stops at max_size long before the end of a huge array', () => {
      // Arrange
      const huge = new Array<string>(2_000_000).fill('0123456789'); // ~26 MB of JSON

      // Act
      const error = captureError(() => sut.serialize(huge, 'api'));

      // Assert
      expect(error.reason).toBe('max_size');
      expect(error.message).toContain(`${10 * 1024 * 1024} bytes`);
      const index = Number(/\[(\d+)\]/.exec(error.path)?.[1]);
      expect(index).toBeGreaterThan(700_000);
      expect(index).toBeLessThan(900_000);
    });

    it('stops at max_size inside a large tensor', () => {
      // Arrange
      const tensor = new Float64Array(1_000_000).fill(0.123456789);

      // Act
      const error = captureError(() => sut.serialize({ output: tensor }, { max_size: 1024 }));

      // Assert
      expect(error.reason).toBe('max_size');
      expect(error.path).toMatch(/^\$\.output\[\d{2}\]$/);
    });

    it('counts UTF-8 bytes of a single oversized string', () => {
      // Act
      const fits = sut.serialize('é'.repeat(10), { max_size: 22 });
      const error = captureError(() => sut.serialize('é'.repeat(11), { max_size: 22 }));

      // Assert
      expect(fits).toHaveLength(10);
      expect(error.reason).toBe('max_size');
      expect(error.path).toBe('$');
    });

    it('keeps output size close to the real JSON length', () => {
      // Arrange
      const value = { a: [1, 2.5, 'x', true, null], b: { c: 'd' }, id: UUID };
      const exact = Buffer.byteLength(JSON.stringify(value));

      // Act
      const fits = () => sut.serialize(value, { max_size: exact });
      const tooSmall = () => sut.serialize(value, { max_size: exact - 1 });

      // Assert
      expect(fits).not.toThrow();
      expect(tooSmall).toThrow(SerializationError);
    });
  });

  describe('cycles', () => {
    it('rejects an object that contains itself', () => {
      // Arrange
      const value: Record<string, unknown> = { a: { b: {} } };
      (value.a as Record<string, Record<string, unknown>>).b.back = value;

      // Act
      const error = captureError(() => sut.serialize(value));

      // Assert
      expect(error.reason).toBe('circular');
      expect(error.path).toBe('$.a.b.back');
    });

    it('rejects cycles through arrays and Maps', () => {
      // Arrange
      const list: unknown[] = [];
      list.push(list);
      const map = new Map<string, unknown>();
      map.set('self', map);

      // Act / Assert
      expect(captureError(() => sut.serialize(list)).reason).toBe('circular');
      expect(captureError(() => sut.serialize(map)).reason).toBe('circular');
    });

    it('bounds an exponentially shared DAG by max_size instead of hanging', () => {
      // Arrange
      let node: unknown = { leaf: 1 };
      for (let i = 0; i < 45; i += 1) node = [node, node]; // 2^45 paths, 46 objects

      // Act
      const error = captureError(() => sut.serialize(node, { max_depth: 100 }));

      // Assert
      expect(error.reason).toBe('max_size');
    });

    it('accepts the same object in different branches (a DAG)', () => {
      // Arrange
      const shared = { v: 1 };
      const value = { left: shared, right: [shared, shared] };

      // Act
      const result = sut.serialize(value);

      // Assert
      expect(result).toEqual({ left: { v: 1 }, right: [{ v: 1 }, { v: 1 }] });
    });
  });

  describe('JSON safety', () => {
    it('produces output equal to its own JSON round trip for every supported type', () => {
      // Arrange
      const value = {
        at: AT,
        bad: new Date(Number.NaN),
        big: 2n ** 70n,
        map: new Map([['k', new Float32Array([0.5])]]),
        set: new Set([-0, Number.NaN]),
        bytes: Buffer.from([1, 2, 3]),
        error: new RangeError('r'),
        price: new Decimal('1.10'),
        point: new Point(1, 2),
        id: UUID,
      };

      // Act
      const results = (['api', 'performance'] as const).map((preset) => sut.serialize(value, preset));

      // Assert
      for (const result of results) expect(roundTrip(result)).toStrictEqual(result);
    });

    it('round-trips arbitrary values through JSON (property)', () => {
      // Arrange
      const anything = fc.anything({
        withBigInt: true,
        withBoxedValues: true,
        withDate: true,
        withMap: true,
        withNullPrototype: true,
        withObjectString: true,
        withSet: true,
        withSparseArray: true,
        withTypedArray: true,
      });
      const config: Partial<SerializationConfig> = { max_depth: Infinity, max_size: Infinity };

      // Act / Assert
      fc.assert(
        fc.property(anything, (value) => {
          const result = sut.serialize(value, config);
          expect(roundTrip(result)).toStrictEqual(result);
          expect(sut.stringify(value, config)).toBe(JSON.stringify(result));
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('deserialize', () => {
    it('revives strict ISO-8601 date-times, with Z or an offset', () => {
      // Act
      const result = sut.deserialize({
        z: '2024-01-02T03:04:05.678Z',
        offset: '2024-01-02T08:34:05+05:30',
        nanos: ['2024-01-02T03:04:05.123456789Z'],
      }) as { z: Date; offset: Date; nanos: Date[] };

      // Assert
      expect(result.z).toEqual(AT);
      expect(result.offset.toISOString()).toBe('2024-01-02T03:04:05.000Z');
      expect(result.nanos[0].toISOString()).toBe('2024-01-02T03:04:05.123Z');
    });

    it.each([
      '2024-02-30T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-01-02T24:00:00Z',
      '2024-01-02T03:04:05',
      '2024-01-02',
      '1704164645',
      'on 2024-01-02T03:04:05Z',
    ])('leaves %p as a string', (text) => {
      // Act / Assert
      expect(sut.deserialize(text)).toBe(text);
    });

    it('never turns numbers into dates', () => {
      // Act / Assert
      expect(sut.deserialize({ at: 1704164645678 })).toEqual({ at: 1704164645678 });
    });

    it('leaves UUIDs untouched when parse_uuids is false', () => {
      // Act / Assert
      expect(sut.deserialize(UUID.toUpperCase())).toBe(UUID.toUpperCase());
    });

    it('normalises UUIDs to lower case with parse_uuids and uuid_format string', () => {
      // Act
      const result = sut.deserialize(
        { id: UUID.toUpperCase(), wrapped: { __uuid__: UUID }, other: 'ABC' },
        { parse_uuids: true, uuid_format: 'string' },
      );

      // Assert
      expect(result).toEqual({ id: UUID, wrapped: UUID, other: 'ABC' });
    });

    it('wraps UUIDs with parse_uuids and uuid_format object', () => {
      // Act
      const result = sut.deserialize([UUID.toUpperCase(), { __uuid__: UUID.toUpperCase() }], { parse_uuids: true, uuid_format: 'object' });

      // Assert
      expect(result).toEqual([{ __uuid__: UUID }, { __uuid__: UUID }]);
    });

    it('accepts the nil UUID and rejects a non-RFC variant', () => {
      // Arrange
      const config = { parse_uuids: true, uuid_format: 'object' } as const;

      // Act
      const nil = sut.deserialize('00000000-0000-0000-0000-000000000000', config);
      const badVariant = sut.deserialize('123e4567-e89b-42d3-c456-426614174000', config);

      // Assert
      expect(nil).toEqual({ __uuid__: '00000000-0000-0000-0000-000000000000' });
      expect(badVariant).toBe('123e4567-e89b-42d3-c456-426614174000');
    });

    it('does not mutate its input', () => {
      // Arrange
      const input = { at: '2024-01-02T03:04:05.678Z' };

      // Act
      sut.deserialize(input);

      // Assert
      expect(input.at).toBe('2024-01-02T03:04:05.678Z');
    });

    it('throws max_depth on 100,000-deep parsed JSON', () => {
      // Arrange
      const deep = JSON.parse('['.repeat(5_000) + ']'.repeat(5_000)) as unknown;
      const deeper = nest(100_000);

      // Act / Assert
      expect(captureError(() => sut.deserialize(deep)).reason).toBe('max_depth');
      expect(captureError(() => sut.deserialize(deeper)).reason).toBe('max_depth');
    });

    it('restores dates written by stringify', () => {
      // Arrange
      const text = sut.stringify({ at: AT, scores: new Float32Array([0.5]) });

      // Act
      const result = sut.deserialize(JSON.parse(text));

      // Assert
      expect(result).toEqual({ at: AT, scores: [0.5] });
    });
  });
});
