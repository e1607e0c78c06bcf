import { Readable } from 'node:stream';

import { TensorDatatype } from '../../models/repository/model-manifest';
import { markMovable } from '../../models/tensors/movable-memory';
import { Tensor, TensorData, TYPED_ARRAYS } from '../../models/tensors/tensor';

/**
 * Triton's binary tensor data extension: tensor data as raw little-endian bytes after the JSON
 * header of a request or response (`Inference-Header-Content-Length` gives the JSON's length).
 * BOOL is one byte per element, BYTES a 4-byte little-endian length before each element.
 */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

const ITEM_BYTES: Record<Exclude<TensorDatatype, 'BYTES'>, number> = {
  BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8,
};

/** This server reads and writes typed arrays in the machine's byte order, which must be the protocol's. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The header length from `Inference-Header-Content-Length`, or why it is unusable for a body of `bodyLength` bytes. */
export function headerLength(value: string | string[] | undefined, bodyLength: number): number | string {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\d{1,10}$/.test(text.trim())) return 'Inference-Header-Content-Length must be a non-negative integer';
  const n = Number(text);
  if (n > bodyLength) return `Inference-Header-Content-Length ${n} exceeds the body's ${bodyLength} bytes`;
  return n;
}

type NumericData = Exclude<TensorData, string[]>;

/**
 * Reads `count` elements of `datatype` from `bytes`, each checked (BOOL 0/1, floats finite); a
 * string says what is wrong. Without copying when the bytes sit at an offset the datatype can be
 * read at (a typed array over the request body's memory, which nothing writes to afterwards); a
 * copy only when they do not (after a JSON header of any length they often do not: a Float32Array
 * needs an offset that is a multiple of 4).
 */
export function tensorDataFromBytes(bytes: Uint8Array, datatype: TensorDatatype, count: number): TensorData | string {
  if (!LITTLE_ENDIAN) return 'binary tensor data needs a little-endian server';
  if (datatype === 'BYTES') return bytesElements(bytes, count);
  const size = ITEM_BYTES[datatype];
  if (bytes.length !== count * size) return `has ${bytes.length} bytes, ${count} ${datatype} elements need ${count * size}`;
  const data = typedView(bytes, datatype, count);
  const bad = firstInvalid(data, datatype);
  if (bad >= 0) return datatype === 'BOOL' ? 'BOOL elements must be bytes 0 or 1' : `element ${bad} is not a finite number`;
  return data;
}

/** `count` elements of `datatype` over `bytes`: a view when aligned, else over an aligned copy. */
function typedView(bytes: Uint8Array, datatype: Exclude<TensorDatatype, 'BYTES'>, count: number): NumericData {
  const Ctor = TYPED_ARRAYS[datatype] as unknown as new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => NumericData;
  if (bytes.byteOffset % ITEM_BYTES[datatype] === 0) return new Ctor(bytes.buffer, bytes.byteOffset, count);
  return new Ctor(markMovable(new Uint8Array(bytes)).buffer, 0, count);
}

/** The first element that is not a value of `datatype` (BOOL not 0/1; a float NaN or ±Infinity), or -1. One plain loop. */
function firstInvalid(data: NumericData, datatype: TensorDatatype): number {
  if (datatype === 'BOOL') {
    const bools = data as Uint8Array;
    for (let i = 0; i < bools.length; i += 1) if (bools[i] > 1) return i;
  } else if (datatype === 'FP32' || datatype === 'FP64') {
    const floats = data as Float32Array | Float64Array;
    // v - v is 0 for a finite v, NaN for NaN and ±Infinity.
    for (let i = 0; i < floats.length; i += 1) if (floats[i] - floats[i] !== 0) return i;
  } else if (datatype === 'FP16') {
    // Exponent bits all ones: ±Infinity or NaN.
    const halves = data as Uint16Array;
    for (let i = 0; i < halves.length; i += 1) if ((halves[i] & 0x7c00) === 0x7c00) return i;
  }
  return -1;
}

function bytesElements(bytes: Uint8Array, count: number): string[] | string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let offset = 0;
  for (let i = 0; i < count; i += 1) {
    if (offset + 4 > bytes.length) return `ends inside the length of BYTES element ${i}`;
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.length) return `ends inside BYTES element ${i}`;
    out.push(Buffer.from(bytes.buffer, bytes.byteOffset + offset, length).toString('utf8'));
    offset += length;
  }
  if (offset !== bytes.length) return `has ${bytes.length - offset} bytes after its ${count} BYTES elements`;
  return out;
}

/** A tensor's data as the extension's raw bytes. */
export function tensorBytes(t: Tensor): Buffer {
  if (Array.isArray(t.data)) {
    const parts = (t.data as string[]).flatMap((s) => {
      const body = Buffer.from(s, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(body.length, 0);
      return [length, body];
    });
    return Buffer.concat(parts);
  }
  const data = t.data as Exclude<TensorData, string[]>;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A binary-extension answer's parts (the JSON header, then each output's bytes: views over the
 * output tensors' memory) as one byte stream and its length, nothing copied: Buffer.concat would
 * copy every output once more before the socket does.
 */
export function answerStream(parts: Buffer[]): { stream: Readable; length: number } {
  const stream = new Readable({ read: () => undefined });
  for (const part of parts) stream.push(part);
  stream.push(null);
  return { stream, length: parts.reduce((n, part) => n + part.length, 0) };
}
