/**
 * A JSON array of numbers (flat or nested) read by the body parser straight into a Float64Array
 * of the same doubles JSON.parse would give, with the nesting's shape (rectangular by
 * construction; `[n]` for a flat array). It stands in for the parsed array of a V2 input's `data`,
 * so a tensor-sized body never becomes a JS array of a million values. The values are a private
 * field: a walk over the parsed body (the input limits) sees an object with one key, `shape`.
 */
export class JsonNumbers {
  #values: Float64Array;
  /** Reads the values again exactly; it holds the request body, so it is dropped as soon as it is not needed. */
  #exact: (() => Float64Array) | undefined;
  #exactDropped = false;

  /**
   * `exact`: given when the reader approximated long numbers (`values` are then float32-exact:
   * each rounds to the float32 JSON.parse's double rounds to); it reads them again exactly.
   */
  constructor(values: Float64Array, readonly shape: readonly number[], exact?: () => Float64Array) {
    this.#values = values;
    this.#exact = exact;
  }

  /** The values in row-major order, exactly JSON.parse's doubles (read again on first use when approximated). */
  get values(): Float64Array {
    if (this.#exactDropped) throw new Error('JsonNumbers: the exact values were given up by takeFloat32Values()');
    if (this.#exact) {
      this.#values = this.#exact();
      this.#exact = undefined;
    }
    return this.#values;
  }

  /**
   * The values for a float32 tensor (each rounds to the float32 that JSON.parse's double rounds
   * to, approximated or not), giving up the exact ones: the body they would be read from again
   * is no longer held. `values` throws afterwards if they were approximated.
   */
  takeFloat32Values(): Float64Array {
    if (this.#exact) {
      this.#exact = undefined;
      this.#exactDropped = true;
    }
    return this.#values;
  }

  /** How many values (without reading them again). */
  get length(): number {
    return this.#values.length;
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
