import { TensorSpec } from '../../models/repository/model-manifest';
import { Tensor, TensorData, TYPED_ARRAYS } from '../../models/tensors/tensor';

/** Shape read along the first item of each level; {@link fillFrom} then checks it is rectangular. */
function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

/** Inclusive value range of each integer datatype (BOOL as 0/1); values outside are refused, not wrapped. */
const INTEGER_RANGES: Partial<Record<TensorSpec['datatype'], [number, number]>> = {
  BOOL: [0, 1], UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295], UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** The magnitude from which a float datatype rounds to infinity (the largest finite value plus half an ulp). */
const FLOAT_LIMITS: Partial<Record<TensorSpec['datatype'], number>> = {
  FP16: 65520,
  FP32: 3.4028235677973366e38,
};

/** Why `n` cannot be held by a float datatype (it would become ±Infinity), or undefined. */
export function floatRangeProblem(n: number, datatype: TensorSpec['datatype']): string | undefined {
  const limit = FLOAT_LIMITS[datatype];
  return limit !== undefined && Math.abs(n) >= limit ? `value ${n} is out of range for ${datatype} (it would round to infinity)` : undefined;
}

/** Round half to even, as IEEE 754 does by default. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest !== 0.5) return rest < 0.5 ? floor : floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** IEEE 754 half-precision bits of a number, rounded once from the double (to nearest, ties to even). */
export function toHalfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const abs = Math.abs(value);
  if (abs < 2 ** -14) return sign | roundHalfEven(abs / 2 ** -24); // subnormal (1024 → the smallest normal)
  let exp = Math.floor(Math.log2(abs));
  if (2 ** exp > abs) exp -= 1;
  else if (2 ** (exp + 1) <= abs) exp += 1;
  let mant = roundHalfEven((abs / 2 ** exp - 1) * 1024);
  if (mant === 1024) {
    mant = 0;
    exp += 1;
  }
  if (exp > 15) return sign | 0x7c00;
  return sign | ((exp + 15) << 10) | mant;
}

/** The number that IEEE 754 half-precision `bits` encode, for FP16 outputs. */
export function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * How values are read. `booleans: 'any'` (the default, /predict's features): true/false stand for
 * 1/0 in any numeric datatype. `'bool-only'` (the V2 protocol, strict): only a BOOL tensor holds
 * true/false (or 1/0); a boolean anywhere else is refused like any other non-number.
 */
export interface ValueRules {
  booleans: 'any' | 'bool-only';
}

const LENIENT: ValueRules = { booleans: 'any' };

/** Why `v` cannot be an element of `spec`'s numeric datatype, or the number it stands for. */
function checkNumber(v: unknown, spec: TensorSpec, range: [number, number] | undefined, rules: ValueRules): number | string {
  const n = typeof v === 'boolean' && (rules.booleans === 'any' || spec.datatype === 'BOOL') ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) return `must hold finite numbers (${spec.datatype})`;
  const overflow = floatRangeProblem(n, spec.datatype);
  if (overflow) return overflow;
  if (range && !Number.isInteger(n)) return `must hold integers (${spec.datatype})`;
  if (range && (n < range[0] || n > range[1])) return `value ${n} is out of range for ${spec.datatype} [${range[0]}, ${range[1]}]`;
  return n;
}

/** Checked values written one by one into a fresh array of a datatype: the array, and the writer (a string says what is wrong). */
interface ValueWriter {
  data: TensorData;
  write(v: unknown): string | undefined;
}

const same = (n: number): number => n;

/**
 * A writer of `count` values of `spec`'s datatype, each checked under `rules` as it comes: one
 * pass, no intermediate array. FP32 and FP64 take a finite number in range at once (the common
 * case of a tensor-sized body); anything else goes through {@link checkNumber} for its message.
 */
function writerFor(spec: TensorSpec, count: number, rules: ValueRules): ValueWriter {
  let i = 0;
  if (spec.datatype === 'BYTES') {
    const strings = new Array<string>(count);
    return { data: strings, write: (v) => (typeof v === 'string' ? ((strings[i++] = v), undefined) : 'must hold strings (BYTES)') };
  }
  const range = INTEGER_RANGES[spec.datatype];
  if (spec.datatype === 'FP32' || spec.datatype === 'FP64') {
    const floats = spec.datatype === 'FP32' ? new Float32Array(count) : new Float64Array(count);
    const limit = FLOAT_LIMITS[spec.datatype] ?? Number.POSITIVE_INFINITY;
    return {
      data: floats,
      write: (v) => {
        // v - v is 0 only for a finite number.
        if (typeof v === 'number' && v - v === 0 && v < limit && v > -limit) {
          floats[i++] = v;
          return undefined;
        }
        const n = checkNumber(v, spec, range, rules);
        if (typeof n === 'string') return n;
        floats[i++] = n;
        return undefined;
      },
    };
  }
  const Ctor = TYPED_ARRAYS[spec.datatype];
  const big = Ctor === BigInt64Array || Ctor === BigUint64Array;
  const out = new (Ctor as unknown as new (n: number) => { [index: number]: number | bigint })(count);
  const convert: (n: number) => number | bigint = spec.datatype === 'FP16' ? toHalfBits : big ? BigInt : same;
  return {
    data: out as unknown as TensorData,
    write: (v) => {
      const n = checkNumber(v, spec, range, rules);
      if (typeof n === 'string') return n;
      out[i++] = convert(n);
      return undefined;
    },
  };
}

/**
 * Flat values (a JSON array, or the doubles the body parser read: see JsonNumbers) → the typed
 * data of `spec`'s datatype, each value checked under `rules`; a string says what is wrong.
 */
export function typedData(values: ArrayLike<unknown>, spec: TensorSpec, rules: ValueRules = LENIENT): TensorData | string {
  if (spec.datatype === 'BYTES') {
    if (values.length === 0) return [];
    return Array.isArray(values) && values.every((v) => typeof v === 'string') ? (values as string[]) : 'must hold strings (BYTES)';
  }
  const writer = writerFor(spec, values.length, rules);
  for (let i = 0; i < values.length; i += 1) {
    const problem = writer.write(values[i]);
    if (problem !== undefined) return problem;
  }
  return writer.data;
}

/**
 * Writes nested `value` (which must nest exactly as `shape`: rectangular, no deeper) into
 * `writer` in row-major order, in the same walk that checks the nesting; the first problem found.
 */
function fillFrom(value: unknown, shape: number[], depth: number, writer: ValueWriter): string | undefined {
  if (depth === shape.length) return Array.isArray(value) ? `is nested deeper than its shape [${shape.join(', ')}]` : writer.write(value);
  if (!Array.isArray(value) || value.length !== shape[depth]) return `is not rectangular: expected ${shape[depth]} items at depth ${depth}`;
  const innermost = depth === shape.length - 1;
  for (let i = 0; i < value.length; i += 1) {
    const item: unknown = value[i];
    const problem = innermost && !Array.isArray(item) ? writer.write(item) : fillFrom(item, shape, depth + 1, writer);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * A nested JSON array → a tensor of the declared datatype (values read under `rules`), in one
 * walk straight into the typed array (no flat copy of the values); a string says what is wrong.
 */
export function tensorFromNested(value: unknown, spec: TensorSpec, rules: ValueRules = LENIENT): Tensor | string {
  const shape = shapeOf(value);
  if (shape.length !== spec.shape.length) {
    return `must have rank ${spec.shape.length} (shape [${spec.shape.join(', ')}], -1 = any), got rank ${shape.length}`;
  }
  const mismatch = spec.shape.findIndex((d, i) => d !== -1 && d !== shape[i]);
  if (mismatch >= 0) return `dimension ${mismatch} must be ${spec.shape[mismatch]}, got ${shape[mismatch]}`;
  const writer = writerFor(spec, shape.reduce((n, d) => n * d, 1), rules);
  const problem = fillFrom(value, shape, 0, writer);
  return problem !== undefined ? problem : { datatype: spec.datatype, shape, data: writer.data };
}
