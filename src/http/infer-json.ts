import { randomBytes } from 'node:crypto';

import { JsonNumbers } from '../inference/codec/json-numbers';

/**
 * A fast path for V2 inference JSON bodies, where nearly every byte is tensor data: the
 * `inputs[i].data` arrays that hold only numbers (flat or nested, rectangular) are read straight
 * from the bytes into typed arrays ({@link JsonNumbers}), and only the rest (names, shapes,
 * datatypes, parameters) goes through JSON.parse. Measured on a [1, 3, 640, 640] FP32 body
 * (24 MB), decoding it to a string, JSON.parse and the input-limits walk over 1.2 M values took
 * most of a JSON request's time. Any other body, and any data array that is not plainly numbers
 * (strings, booleans, ragged, an escaped or repeated key), takes the ordinary path unchanged, so
 * its errors are the ordinary ones.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
/** Deepest nesting read here; deeper data takes the ordinary path (and its MAX_DEPTH check). */
const MAX_NESTING = 32;
/** Mantissas below this take one more digit and stay exact integers (< 2^53). */
const EXACT_MANTISSA = 9e14;
/** 10^0 … 10^22: exact doubles, so m · 10^e and m / 10^e round once (Clinger's fast path). */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;

/** A data array read from the bytes: where it is and what it holds. */
interface Span {
  start: number;
  end: number;
  numbers: JsonNumbers;
}

/**
 * Growable storage of the values read. Starts small; the first growth jumps to `guess` (how many
 * values the rest of the body could hold), later ones double: an image-sized array grows once
 * instead of ~11 times (~15 ms of copies on 1.2 M values), and the many small arrays of a body
 * never allocate the guess.
 */
abstract class Store<A extends Float32Array | Float64Array> {
  length = 0;
  /** True once a value was approximated (see readNumber) or is not exactly what the storage holds: the exact doubles must be read again. */
  lossy = false;

  constructor(protected buffer: A, private readonly guess: () => number) {}

  protected grow(): void {
    const bigger = this.allocate(Math.max(this.buffer.length * 2, this.buffer.length === 1024 ? this.guess() : 0));
    bigger.set(this.buffer);
    this.buffer = bigger;
  }

  protected abstract allocate(length: number): A;

  /** The values; copied out when they fill less than half the buffer (a small array in a large body must not keep the guess alive). */
  done(): A {
    return (this.length < this.buffer.length >> 1 ? this.buffer.slice(0, this.length) : this.buffer.subarray(0, this.length)) as A;
  }
}

/** The values as float32 (what a tensor-sized input nearly always is), `lossy` when one is not exactly its float32. */
class Floats extends Store<Float32Array> {
  constructor(guess: () => number) {
    super(new Float32Array(1024), guess);
  }

  push(v: number): void {
    if (this.length === this.buffer.length) this.grow();
    const { buffer } = this;
    buffer[this.length] = v;
    if (buffer[this.length] !== v) this.lossy = true;
    this.length += 1;
  }

  protected allocate(length: number): Float32Array {
    return new Float32Array(length);
  }
}

/** The values as exact doubles (read again for a datatype other than FP32, see JsonNumbers). */
class Doubles extends Store<Float64Array> {
  constructor(guess: () => number) {
    super(new Float64Array(1024), guess);
  }

  push(v: number): void {
    if (this.length === this.buffer.length) this.grow();
    this.buffer[this.length++] = v;
  }

  protected allocate(length: number): Float64Array {
    return new Float64Array(length);
  }
}

/** A mantissa below this takes four more digits as four single steps would (each step then starts below EXACT_MANTISSA). */
const EXACT_MANTISSA_BEFORE_FOUR = EXACT_MANTISSA / 1000;

/**
 * The value of four ASCII digits read as one little-endian uint32 (the first digit in the low
 * byte), or -1 when any of the four bytes is not a digit: the usual SWAR test and sum.
 */
function fourDigits(word: number): number {
  const d = (word - 0x30303030) | 0;
  // Each byte is a digit when its high nibble is 3 and adding 6 does not carry into it.
  if ((word & 0xf0f0f0f0) !== 0x30303030 || ((word + 0x06060606) & 0xf0f0f0f0) !== 0x30303030) return -1;
  const pairs = (Math.imul(d, 10) + (d >>> 8)) & 0x00ff00ff;
  return (pairs & 0xffff) * 100 + (pairs >>> 16);
}

/** Digits read past a full mantissa into a second integer (so up to ~19 significant digits are used). */
const EXTRA_DIGITS = 4;
/** 10^0 … 10^EXTRA_DIGITS. */
const SHIFT = [1, 10, 100, 1000, 10000];
/**
 * Relative error bound of a long number's approximation (mantissa · 10^k, + extra, then one
 * scaling: three roundings of at most 2^-53 each, and digits past the 19th dropped, < 10^-18),
 * with a margin of 8x or more; together with the half ulp of JSON.parse's own rounding. An
 * approximated number has 16+ significant digits and a power of ten of -22 or more, so it is
 * at least ~9e-8: never near float32's subnormals.
 */
const APPROXIMATION_ERROR = 2 ** -48;
/** Above this, float32 is infinity: no approximation there. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Reads one JSON number at `at` as JSON.parse does (strict grammar), into `out`; the index after
 * it, or -1 when the bytes there are not a JSON number. Up to 15 significant digits and a power
 * of ten within ±22 give exactly JSON.parse's double (Clinger's fast path). A longer number (a
 * float32 printed as a double has 16-17 digits: what tritonclient sends) when `exact` is false is
 * approximated from its first ~19 digits, and kept only when every double within the
 * approximation's error rounds to the same float32: then it rounds to the float32 that
 * JSON.parse's double does, and `out` is marked lossy (the exact doubles must be read again). Any
 * other number is read by Number() on its text, exactly.
 */
function readNumber(b: Buffer, view: DataView, at: number, out: Floats | Doubles, exact: boolean): number {
  let i = at;
  const negative = b[i] === MINUS;
  if (negative) i += 1;
  let mantissa = 0;
  let extra = 0;
  let extraDigits = 0;
  let dropped = false;
  let scale = 0;
  // Digits go into the mantissa while it stays exact, then up to EXTRA_DIGITS into `extra`, then
  // are dropped (one loop per phase: no per-digit test of the phase).
  if (b[i] === ZERO) {
    i += 1;
  } else if (isDigit(b[i])) {
    for (; isDigit(b[i]) && mantissa < EXACT_MANTISSA; i += 1) mantissa = mantissa * 10 + (b[i] - ZERO);
    for (; isDigit(b[i]) && extraDigits < EXTRA_DIGITS; i += 1, extraDigits += 1) extra = extra * 10 + (b[i] - ZERO);
    for (; isDigit(b[i]); i += 1, scale += 1) dropped = true;
  } else {
    return -1;
  }
  if (b[i] === DOT) {
    i += 1;
    if (!isDigit(b[i])) return -1;
    // Four digits at a time while the mantissa would take all four one by one (see fourDigits).
    const last = view.byteLength - 4;
    if (extraDigits === 0) {
      for (let four: number; mantissa < EXACT_MANTISSA_BEFORE_FOUR && i <= last && (four = fourDigits(view.getUint32(i, true))) >= 0; i += 4, scale -= 4) mantissa = mantissa * 10000 + four;
    }
    for (; isDigit(b[i]) && mantissa < EXACT_MANTISSA; i += 1, scale -= 1) mantissa = mantissa * 10 + (b[i] - ZERO);
    if (extraDigits === 0 && i <= last) {
      const four = fourDigits(view.getUint32(i, true));
      if (four >= 0) {
        extra = four;
        extraDigits = 4;
        i += 4;
        scale -= 4;
      }
    }
    for (; isDigit(b[i]) && extraDigits < EXTRA_DIGITS; i += 1, extraDigits += 1, scale -= 1) extra = extra * 10 + (b[i] - ZERO);
    for (; isDigit(b[i]); i += 1) dropped = true;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i += 1;
    let sign = 1;
    if (b[i] === PLUS || b[i] === MINUS) sign = b[i++] === MINUS ? -1 : 1;
    if (!isDigit(b[i])) return -1;
    let exponent = 0;
    for (; isDigit(b[i]); i += 1) exponent = Math.min(exponent * 10 + (b[i] - ZERO), 100_000);
    scale += sign * exponent;
  }
  let value: number | undefined;
  if (scale >= -22 && scale <= 22) {
    if (extraDigits === 0 && !dropped) {
      value = scale < 0 ? mantissa / POWERS_OF_TEN[-scale] : mantissa * POWERS_OF_TEN[scale];
    } else if (!exact) {
      const whole = mantissa * SHIFT[extraDigits] + extra;
      const approximate = scale < 0 ? whole / POWERS_OF_TEN[-scale] : whole * POWERS_OF_TEN[scale];
      if (approximate <= FLOAT32_MAX
        && Math.fround(approximate * (1 - APPROXIMATION_ERROR)) === Math.fround(approximate * (1 + APPROXIMATION_ERROR))) {
        value = approximate;
        out.lossy = true;
      }
    }
  }
  if (value === undefined) value = Number(b.toString('latin1', negative ? at + 1 : at, i));
  out.push(negative ? -value : value);
  return i;
}

/** How far a resumable read came: stopped before an item that starts past its limit, to the end, or refused. */
const PAUSED = 0;
const DONE = 1;
const FAILED = 2;
type Progress = typeof PAUSED | typeof DONE | typeof FAILED;

/**
 * Reads the array at `at` (a `[`) when it holds only numbers, nested rectangularly ({@link result});
 * FAILED otherwise (the ordinary path then reads it). Resumable: {@link read} stops at the first
 * item that starts at or past its limit and goes on from there when called again, so a body can be
 * read as it arrives.
 */
class NumbersReader {
  /** Where the next item starts. */
  i: number;
  result: { end: number; values: Float32Array | Float64Array; shape: number[]; lossy: boolean } | undefined;
  private readonly view: DataView;
  private readonly out: Floats | Doubles;
  private readonly shape: number[] = [];
  private readonly counts: number[] = [];
  /** Per depth: whether its items are arrays (true), numbers (false), or not seen yet. */
  private readonly nested: (boolean | undefined)[] = [];
  private depth = -1;

  /** `exact`: every value read exactly (no approximation) into doubles; otherwise into float32 (see JsonNumbers). */
  constructor(private readonly b: Buffer, readonly at: number, private readonly exact = false) {
    this.i = at;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    // A float printed in full takes ~16-20 bytes with its comma: the rest of the body / 16 values rarely grows again.
    const guess = (): number => Math.min((b.length - at) >> 4, 1 << 26);
    this.out = exact ? new Doubles(guess) : new Floats(guess);
  }

  /** Reads the items that start before `limit` (Infinity: to the end). */
  read(limit: number): Progress {
    const { b, view, out, shape, counts, nested, exact } = this;
    let { i, depth } = this;
    for (;;) {
      if (i >= limit) {
        this.i = i;
        this.depth = depth;
        return PAUSED;
      }
      if (b[i] === OPEN_BRACKET) {
        if (depth >= 0) {
          if (nested[depth] === false) return FAILED;
          nested[depth] = true;
          counts[depth] += 1;
        }
        depth += 1;
        if (depth >= MAX_NESTING) return FAILED;
        counts[depth] = 0;
        i += 1;
        while (isSpace(b[i])) i += 1;
        // Not empty: its first item comes next; empty: it closes below.
        if (b[i] !== CLOSE_BRACKET) continue;
      } else {
        if (depth < 0 || nested[depth] === true) return FAILED;
        nested[depth] = false;
        // A run of numbers between bare commas (as JSON.stringify and tritonclient write them) in one
        // loop; anything else (spaces, the array's end, the limit) goes the general way below.
        let run = 0;
        for (;;) {
          i = readNumber(b, view, i, out, exact);
          if (i < 0) return FAILED;
          run += 1;
          const next = b[i + 1];
          if (b[i] !== COMMA || i + 1 >= limit || !(isDigit(next) || next === MINUS)) break;
          i += 1;
        }
        counts[depth] += run;
      }
      // After an item: ',' then the next one, or ']' closing arrays (each must match its depth's length).
      for (;;) {
        while (isSpace(b[i])) i += 1;
        if (b[i] === COMMA) {
          i += 1;
          while (isSpace(b[i])) i += 1;
          if (b[i] === CLOSE_BRACKET) return FAILED;
          break;
        }
        if (b[i] !== CLOSE_BRACKET) return FAILED;
        if (shape[depth] === undefined) shape[depth] = counts[depth];
        else if (shape[depth] !== counts[depth]) return FAILED;
        i += 1;
        depth -= 1;
        if (depth < 0) {
          this.i = i;
          const values = out.done();
          // Every leaf array holds numbers and the arrays are rectangular: values = product of the shape.
          if (values.length !== shape.reduce((n, d) => n * d, 1)) return FAILED;
          this.result = { end: i, values, shape, lossy: out.lossy };
          return DONE;
        }
      }
    }
  }
}

/** The array at `at` (one {@link NumbersReader} has read) as JsonNumbers: its float32 values, read again exactly when needed. */
function numbersOf(b: Buffer, at: number, read: NonNullable<NumbersReader['result']>): JsonNumbers {
  const exact = (): Float64Array => {
    const again = new NumbersReader(b, at, true);
    again.read(Infinity);
    return again.result!.values as Float64Array;
  };
  return new JsonNumbers(read.values as Float32Array, read.shape, read.lossy ? exact : undefined);
}

/** The index after the string that starts at `at` (a `"`), escapes skipped; -1 when it never ends. */
function skipString(b: Buffer, at: number): number {
  for (let i = at + 1; i < b.length; i += 1) {
    if (b[i] === BACKSLASH) i += 1;
    else if (b[i] === QUOTE) return i + 1;
  }
  return -1;
}

/** True when the bytes between the quotes at `start` and `end` (exclusive) are exactly `word`. */
const isKey = (b: Buffer, start: number, end: number, word: string): boolean =>
  end - start - 2 === word.length && b.toString('latin1', start + 1, end - 1) === word;

interface Frame {
  object: boolean;
  /** For an object: the key whose value comes next (`inputs`, `data`, or '' for any other). */
  key?: string;
  /** Where it is: the root object, the root's `inputs` array, or one of its items (an input). */
  role?: 'root' | 'inputs' | 'input';
}

/** The role of a container opened inside `top` (see {@link Frame.role}). */
function roleOf(object: boolean, top: Frame | undefined): Frame['role'] {
  if (object && top === undefined) return 'root';
  if (!object && top?.role === 'root' && top.key === 'inputs') return 'inputs';
  return object && top?.role === 'inputs' ? 'input' : undefined;
}

/**
 * A walk stops this far short of the bytes that have arrived, so a token it starts (a number, a
 * short string, a run of spaces) ends before them; one that does not (a 4 KB string across a
 * chunk's end) makes the walk start again once the whole body is in.
 */
const MARGIN = 4096;

/**
 * The numeric data arrays of `inputs[i].data` in a JSON body, found by a walk over its structure
 * (strings skipped with their escapes, keys compared unescaped); none when there is none or the
 * walk cannot follow the bytes. Everything outside the spans is left to JSON.parse.
 *
 * The walk can go on as the body arrives ({@link advance} with the bytes in so far, a body
 * buffer of its final size), so that reading an image-sized tensor overlaps its transfer; what it
 * finds is the same as walking the whole body at once ({@link finish} alone). While the body is
 * incomplete, anything the walk cannot take (a refused array, a token running past the bytes in)
 * may be bytes that have not arrived: it then gives up and {@link finish} walks the whole body again.
 */
export class InferJsonScanner {
  private i = 0;
  private readonly spans: Span[] = [];
  private readonly stack: Frame[] = [];
  private reading: NumbersReader | undefined;
  private lost = false;

  /**
   * `b`: the body, or the buffer it is arriving into (its final length); `margin`: how far short
   * of the arrived bytes a walk stops (MARGIN; the tests take it small to stop inside tokens).
   */
  constructor(readonly body: Buffer, private readonly margin = MARGIN) {}

  /** Walks the bytes [0, available) that have arrived (up to the margin short of them). */
  advance(available: number): void {
    if (this.lost || available - this.margin <= this.i) return;
    const progress = this.walk(available - this.margin);
    if (progress === FAILED || (progress === PAUSED && Math.max(this.i, this.reading?.i ?? 0) >= available)) this.lost = true;
  }

  /** Once the whole body is in: its numeric data arrays, undefined when there is none or the walk cannot follow the bytes. */
  finish(): Span[] | undefined {
    if (this.lost) return new InferJsonScanner(this.body, this.margin).finish();
    return this.walk(Infinity) === DONE && this.spans.length > 0 ? this.spans : undefined;
  }

  private walk(limit: number): Progress {
    const { body: b, spans, stack } = this;
    let { i } = this;
    for (;;) {
      const reading = this.reading;
      if (reading) {
        const progress = reading.read(limit);
        if (progress === PAUSED) {
          this.i = i;
          return PAUSED;
        }
        this.reading = undefined;
        if (progress === DONE) {
          spans.push({ start: reading.at, end: reading.result!.end, numbers: numbersOf(b, reading.at, reading.result!) });
          stack[stack.length - 1].key = undefined;
          i = reading.result!.end;
          continue;
        }
        // Not plainly numbers: the array is walked as any other (the ordinary path reads it); refused before the end, the walk starts again.
        if (limit !== Infinity) return FAILED;
        stack.push({ object: false, role: roleOf(false, stack[stack.length - 1]) });
        i += 1;
        continue;
      }
      if (i >= b.length) {
        this.i = i;
        return DONE;
      }
      if (i >= limit) {
        this.i = i;
        return PAUSED;
      }
      const c = b[i];
      const top = stack[stack.length - 1];
      if (c === QUOTE) {
        const end = skipString(b, i);
        if (end < 0) return FAILED;
        let next = end;
        while (isSpace(b[next])) next += 1;
        // A key: the string before a colon in an object.
        if (top?.object && b[next] === COLON) {
          top.key = isKey(b, i, end, 'inputs') ? 'inputs' : isKey(b, i, end, 'data') ? 'data' : '';
          next += 1;
        } else {
          next = end;
        }
        i = next;
        continue;
      }
      if (c === OPEN_BRACKET && top?.role === 'input' && top.key === 'data') {
        this.reading = new NumbersReader(b, i);
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        stack.push({ object: c === OPEN_BRACE, role: roleOf(c === OPEN_BRACE, top) });
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (stack.pop() === undefined) return FAILED;
        const parent = stack[stack.length - 1];
        if (parent?.object) parent.key = undefined;
      } else if (c === COMMA && top?.object) {
        top.key = undefined;
      }
      i += 1;
    }
  }
}

/** Strings starting with `prefix` anywhere in a parsed value (an iterative walk: the skeleton is small). */
function countMarked(root: unknown, prefix: string): number {
  let count = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') count += v.startsWith(prefix) ? 1 : 0;
    else if (typeof v === 'object' && v !== null && !(v instanceof JsonNumbers)) {
      const items = Array.isArray(v) ? v : Object.values(v);
      for (let i = 0; i < items.length; i += 1) stack.push(items[i]);
    }
  }
  return count;
}

/**
 * True when nothing in a value {@link parseInferJson} returned will read its body again, so the
 * body's memory may be used for another. Only an input's {@link JsonNumbers} could: its exact
 * doubles are read again from the body when some value was not a float32 exactly. An FP32 input
 * whose float32 values are all finite never needs them (the V2 codec takes the float32 values as
 * they are, and a datatype other than the model's is refused without reading any), so they are
 * given up here (JsonNumbers.releaseExact: a later read throws instead of reading another body).
 * Everything else in the value is JSON.parse's own.
 */
export function doneWithBody(value: unknown): boolean {
  const inputs = (value as { inputs?: unknown } | null)?.inputs;
  if (!Array.isArray(inputs)) return true;
  let done = true;
  for (const input of inputs) {
    const { data, datatype } = (input ?? {}) as { data?: unknown; datatype?: unknown };
    if (!(data instanceof JsonNumbers) || !data.readsBodyAgain) continue;
    if (datatype === 'FP32' && data.float32Finite) data.releaseExact();
    else done = false;
  }
  return done;
}

/**
 * A V2 inference JSON body (UTF-8) → its value, with each `inputs[i].data` array of plain numbers
 * a {@link JsonNumbers}; `parse` (the ordinary strict JSON.parse) reads the rest, where each data
 * array stands as a marker string no client can send (a NUL and a per-request nonce). Undefined
 * when the body takes the ordinary path: no such array, or a marker that did not come back as an
 * input's data (the body was not the shape the walk took it for).
 */
export function parseInferJson(body: Buffer, parse: (text: string) => unknown, scanner = new InferJsonScanner(body)): unknown {
  const spans = scanner.finish();
  if (!spans) return undefined;
  const prefix = `\u0000${randomBytes(8).toString('hex')}:`;
  const pieces: string[] = [];
  let at = 0;
  spans.forEach((span, k) => {
    pieces.push(body.toString('utf8', at, span.start), `"\\u0000${prefix.slice(1)}${k}"`);
    at = span.end;
  });
  pieces.push(body.toString('utf8', at));
  const value = parse(pieces.join('')) as { inputs?: unknown };
  const inputs = Array.isArray(value?.inputs) ? (value.inputs as unknown[]) : [];
  for (const input of inputs) {
    const data = (input as { data?: unknown } | null)?.data;
    if (typeof data === 'string' && data.startsWith(prefix)) (input as { data: unknown }).data = spans[Number(data.slice(prefix.length))].numbers;
  }
  return countMarked(value, prefix) === 0 ? value : undefined;
}
