import { ErrorDetail } from '../../common/errors/app-error';
import { NamedTensors } from './tensor';

/** True when `floats` holds NaN or ±Infinity: one plain loop (v - v is 0 only for a finite v), no callback per element. */
export function hasNonFinite(floats: Float32Array | Float64Array): boolean {
  for (let i = 0; i < floats.length; i += 1) if (floats[i] - floats[i] !== 0) return true;
  return false;
}

/** The float outputs holding NaN or ±Infinity (a model overflowing on extreme inputs). */
export function nonFiniteOutputs(outputs: NamedTensors): string[] {
  return Object.entries(outputs)
    .filter(([, t]) => (t.datatype === 'FP32' || t.datatype === 'FP64') && hasNonFinite(t.data as Float32Array))
    .map(([name]) => name);
}

/** True when a post-processed prediction holds only finite numbers. */
export function isFiniteDeep(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isFiniteDeep);
  if (typeof value === 'object' && value !== null) return Object.values(value).every(isFiniteDeep);
  return true;
}

/** The problem named when a model's answer is not finite for the inputs it was given. */
export const NON_FINITE_DETAIL = {
  field: 'features',
  message: "the model's output is not finite (NaN or Infinity) for these values: they are outside the range the model can compute",
};

/** The first over-long string of each BYTES input, named (MAX_STRING_LENGTH for strings that did not come through JSON). */
export function overlongStrings(inputs: NamedTensors, maxLength: number): ErrorDetail[] {
  return Object.entries(inputs).flatMap(([name, t]) => {
    if (!Array.isArray(t.data)) return [];
    const strings = t.data as string[];
    const i = strings.findIndex((v) => v.length > maxLength);
    return i < 0 ? [] : [{ field: `inputs (${name}).data[${i}]`, message: `string of ${strings[i].length} characters exceeds MAX_STRING_LENGTH (${maxLength})` }];
  });
}
