import type { V2InferResponse } from './v2.types';

/** Output values from which a V2 JSON answer is written directly rather than through the serialization interceptor. */
export const DIRECT_JSON_VALUES = 65_536;

/**
 * A V2 JSON answer with at least {@link DIRECT_JSON_VALUES} output values, as its UTF-8 bytes
 * (undefined for a smaller one, which goes the usual way). Its tree is the codec's own JSON
 * (numbers, booleans, strings; BigInt already numbers), which JSON.stringify writes exactly as the
 * serialization presets would; the interceptor's walk costs ~0.15 µs a value, and its api preset's
 * 10 MiB budget would refuse an image-sized output (a [1, 1, 768, 768] FP32 map is ~11 MB of JSON).
 */
export function largeJsonAnswer(response: V2InferResponse): Buffer | undefined {
  let values = 0;
  for (const output of response.outputs) values += output.data?.length ?? 0;
  return values < DIRECT_JSON_VALUES ? undefined : Buffer.from(JSON.stringify(response), 'utf8');
}
