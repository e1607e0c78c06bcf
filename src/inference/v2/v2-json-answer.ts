import { randomBytes } from 'node:crypto';

import type { V2InferResponse, V2NumericData } from './v2.types';

/** Output values from which a V2 JSON answer is written directly rather than through the serialization interceptor. */
export const DIRECT_JSON_VALUES = 65_536;

/** Values written per JSON.stringify call: a ~80 KB string, below V8's large-object size, dead at once. */
const CHUNK_VALUES = 4096;
/** The longest a number of a numeric tensor takes as JSON ("-2.2250738585072014e-308"), with its comma. */
const MAX_VALUE_BYTES = 25;
const COMMA = 0x2c;

/** True for output data the codec left as a typed array (an output of DIRECT_JSON_VALUES values or more). */
export const isNumericData = (data: unknown): data is V2NumericData => ArrayBuffer.isView(data);

/**
 * A numeric tensor's values as a JSON array, the bytes JSON.stringify would give for the same
 * numbers as a plain array (shortest round-trip digits; null for a non-finite value), written
 * CHUNK_VALUES at a time into one buffer: no array of a million numbers, no string of megabytes,
 * no copy of it into a Buffer (on a 409,600-float map those were ~11 MB on the JS heap per request,
 * promoted before they died, and old-space collections with them).
 */
export function numbersJson(data: V2NumericData): Buffer {
  if (data.length === 0) return Buffer.from('[]');
  const out = Buffer.allocUnsafeSlow(data.length * MAX_VALUE_BYTES + 2);
  const chunk = new Array<number>(Math.min(CHUNK_VALUES, data.length));
  let end = 0;
  for (let start = 0; start < data.length; start += CHUNK_VALUES) {
    const count = Math.min(CHUNK_VALUES, data.length - start);
    if (chunk.length !== count) chunk.length = count;
    for (let j = 0; j < count; j += 1) chunk[j] = data[start + j];
    // Each chunk is "[…]": the next one starts on the previous one's ']', and its '[' becomes a comma.
    const at = start === 0 ? 0 : end - 1;
    end = at + out.write(JSON.stringify(chunk), at, 'latin1');
    if (start > 0) out[at] = COMMA;
  }
  return out.subarray(0, end);
}

/**
 * The bytes of a V2 answer as JSON.stringify(response) with every typed output data written as a
 * plain array's, in parts (nothing concatenated: see answerStream): the response's JSON with a
 * marker for each typed data (a NUL and a nonce, which JSON.stringify escapes and no value can
 * forge), then each marker replaced by {@link numbersJson}.
 */
export function responseJsonParts(response: V2InferResponse): Buffer[] {
  const typed = response.outputs.map((o) => o.data).filter(isNumericData);
  if (typed.length === 0) return [Buffer.from(JSON.stringify(response), 'utf8')];
  const nonce = randomBytes(8).toString('hex');
  let k = 0;
  const skeleton = JSON.stringify({
    ...response,
    outputs: response.outputs.map((o) => (isNumericData(o.data) ? { ...o, data: `\u0000${nonce}:${k++}` } : o)),
  });
  const parts: Buffer[] = [];
  const marker = new RegExp(`"\\\\u0000${nonce}:(\\d+)"`, 'g');
  let at = 0;
  for (let m = marker.exec(skeleton); m !== null; m = marker.exec(skeleton)) {
    parts.push(Buffer.from(skeleton.slice(at, m.index), 'utf8'), numbersJson(typed[Number(m[1])]));
    at = m.index + m[0].length;
  }
  parts.push(Buffer.from(skeleton.slice(at), 'utf8'));
  return parts;
}

/**
 * A V2 JSON answer with at least {@link DIRECT_JSON_VALUES} output values, as the parts of its
 * UTF-8 bytes (undefined for a smaller one, which goes the usual way). Its tree is the codec's own
 * JSON (numbers, booleans, strings; BigInt already numbers; large numeric outputs as typed arrays),
 * written exactly as the serialization presets would write the same values as plain arrays; the
 * interceptor's walk costs ~0.15 µs a value, and its api preset's 10 MiB budget would refuse an
 * image-sized output (a [1, 1, 768, 768] FP32 map is ~11 MB of JSON).
 */
export function largeJsonAnswer(response: V2InferResponse): Buffer[] | undefined {
  let values = 0;
  for (const output of response.outputs) values += output.data?.length ?? 0;
  return values < DIRECT_JSON_VALUES ? undefined : responseJsonParts(response);
}
