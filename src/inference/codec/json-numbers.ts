import { hasNonFinite } from '../../models/tensors/finite';

/**
 * A JSON array of numbers (flat or nested) read by the body parser straight into a typed array,
 * with the nesting's shape (rectangular by construction; `[n]` for a flat array). It stands in for
 * the parsed array of a V2 input's `data`, so a tensor-sized body never becomes a JS array of a
 * million values. The values are private fields: a walk over the parsed body (the input limits)
 * sees an object with one key, `shape`.
 *
 * The parser keeps the values as float32, the datatype of nearly every large tensor: an FP32 input
 * takes them as they are ({@link float32}), with no second array. The exact doubles JSON.parse would
 * give ({@link values}, for the other datatypes) are the float32 ones widened when every value was a
 * float32 exactly (small integers, floats printed from float32), and otherwise read again from the body.
 */
export class JsonNumbers {
  #floats: Float32Array;
  /** Reads the values again as exact doubles; it holds the request body, so it is dropped as soon as it is not needed. */
  #exact: (() => Float64Array) | undefined;
  #exactDropped = false;
  /** The exact doubles, once asked for. */
  #doubles: Float64Array | undefined;
  /** Whether every float32 value is finite, once asked. */
  #finite32: boolean | undefined;

  /**
   * `floats`: each value rounded to float32 as JSON.parse's double rounds; `exact`: given when some
   * value is not exactly its float32, reads the exact doubles again.
   */
  constructor(floats: Float32Array, readonly shape: readonly number[], exact?: () => Float64Array) {
    this.#floats = floats;
    this.#exact = exact;
  }

  /** The values in row-major order, exactly JSON.parse's doubles (read again on first use when some value is not a float32). */
  get values(): Float64Array {
    if (this.#exactDropped) throw new Error('JsonNumbers: the exact values were given up by releaseExact()');
    if (!this.#doubles) {
      this.#doubles = this.#exact ? this.#exact() : Float64Array.from(this.#floats);
      this.#exact = undefined;
    }
    return this.#doubles;
  }

  /** The values for a float32 tensor: each the float32 that JSON.parse's double rounds to (±Infinity past float32's range). */
  get float32(): Float32Array {
    return this.#floats;
  }

  /** True when every {@link float32} value is finite (a JSON value past float32's range is ±Infinity there). Computed once. */
  get float32Finite(): boolean {
    this.#finite32 ??= !hasNonFinite(this.#floats);
    return this.#finite32;
  }

  /** Gives up the exact values (and the body they would be read from again); `values` throws afterwards if they were needed. */
  releaseExact(): void {
    if (this.#exact) {
      this.#exact = undefined;
      this.#exactDropped = true;
    }
  }

  /** True while {@link values} may still read the request body again (some value is not a float32 exactly). */
  get readsBodyAgain(): boolean {
    return this.#exact !== undefined;
  }

  /** How many values (without reading them again). */
  get length(): number {
    return this.#floats.length;
  }

  /** True for a flat array (any length), false for nested arrays. */
  get flat(): boolean {
    return this.shape.length === 1;
  }
}

/**
 * A typed array's values as a plain array (for a JSON answer), in one loop: Array.from over a
 * typed array took 4x as long on a 409,600-float output.
 */
export function plainNumbers(data: ArrayLike<number>): number[] {
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i += 1) out[i] = data[i];
  return out;
}
