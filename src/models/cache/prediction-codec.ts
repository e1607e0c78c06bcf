import { endianness } from 'node:os';

import { elementCount, NamedTensors, Tensor, TYPED_ARRAYS } from '../tensors/tensor';
import { CachedPrediction } from './prediction-cache';

/** Format version (first byte); a value written by another format is a miss, never misread. */
const FORMAT = 1;
/** Typed arrays are stored in the writer's byte order (second byte); a reader of the other order treats the value as a miss. */
const BYTE_ORDER = endianness() === 'LE' ? 0 : 1;
/** Format byte, byte-order byte, header length (uint32 LE). */
const PREAMBLE = 6;

/** One output in the header: name, datatype, shape, and the bytes of its data (numeric) or its strings (BYTES). */
type HeaderTensor = [name: string, datatype: Tensor['datatype'], shape: number[], bytes: number] | [name: string, datatype: 'BYTES', shape: number[], strings: string[]];

interface Header {
  /** model_version. */
  v: string;
  o: HeaderTensor[];
}

/**
 * Encodes a cached prediction for Redis, binary-safe and compact: a JSON header (version, each
 * output's name, datatype, shape, byte length; BYTES strings inline, since JSON keeps every UTF-16
 * string exactly) followed by each numeric output's raw bytes — typed arrays (FP16 bits, BigInt64,
 * …) round-trip bit for bit, NaN payloads and -0 included. Pure.
 */
export function encodePrediction(value: CachedPrediction): Buffer {
  const blobs: Uint8Array[] = [];
  const outputs: HeaderTensor[] = Object.entries(value.outputs).map(([name, t]) => {
    if (Array.isArray(t.data)) return [name, 'BYTES', t.shape, t.data];
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    blobs.push(bytes);
    return [name, t.datatype, t.shape, bytes.byteLength];
  });
  const header = Buffer.from(JSON.stringify({ v: value.model_version, o: outputs } satisfies Header), 'utf8');
  const preamble = Buffer.alloc(PREAMBLE);
  preamble.writeUInt8(FORMAT, 0);
  preamble.writeUInt8(BYTE_ORDER, 1);
  preamble.writeUInt32LE(header.length, 2);
  return Buffer.concat([preamble, header, ...blobs]);
}

/**
 * The prediction {@link encodePrediction} encoded, or undefined when `buffer` is not one this
 * process can read (another format or byte order, truncated, inconsistent): the caller treats it
 * as a miss. Typed arrays are fresh copies (aligned, owned), never views of `buffer`. Pure.
 */
export function decodePrediction(buffer: Buffer): CachedPrediction | undefined {
  if (buffer.length < PREAMBLE || buffer.readUInt8(0) !== FORMAT || buffer.readUInt8(1) !== BYTE_ORDER) return undefined;
  const headerEnd = PREAMBLE + buffer.readUInt32LE(2);
  if (headerEnd > buffer.length) return undefined;
  let header: Header;
  try {
    header = JSON.parse(buffer.toString('utf8', PREAMBLE, headerEnd)) as Header;
  } catch {
    return undefined;
  }
  if (typeof header?.v !== 'string' || !Array.isArray(header.o)) return undefined;
  const pairs: [string, Tensor][] = [];
  let offset = headerEnd;
  for (const entry of header.o) {
    const tensor = tensorOf(entry, buffer, offset);
    if (!tensor || typeof entry[0] !== 'string') return undefined;
    pairs.push([entry[0], tensor.tensor]);
    offset = tensor.end;
  }
  // fromEntries defines own properties: an output named __proto__ stays an output.
  const outputs: NamedTensors = Object.fromEntries(pairs);
  return offset === buffer.length ? { outputs, model_version: header.v } : undefined;
}

function tensorOf(entry: HeaderTensor, buffer: Buffer, offset: number): { tensor: Tensor; end: number } | undefined {
  if (!Array.isArray(entry) || entry.length !== 4) return undefined;
  const [, datatype, shape, payload] = entry;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return undefined;
  if (datatype === 'BYTES') {
    const strings = payload as unknown;
    if (!Array.isArray(strings) || !strings.every((s) => typeof s === 'string') || strings.length !== elementCount(shape)) return undefined;
    return { tensor: { datatype, shape, data: strings as string[] }, end: offset };
  }
  const Ctor = (TYPED_ARRAYS as Record<string, (typeof TYPED_ARRAYS)[keyof typeof TYPED_ARRAYS] | undefined>)[datatype];
  const bytes = payload as number;
  if (!Ctor || !Number.isSafeInteger(bytes) || bytes !== elementCount(shape) * Ctor.BYTES_PER_ELEMENT || offset + bytes > buffer.length) return undefined;
  // A copy into its own ArrayBuffer: the reply's bytes may sit at any offset of a pooled buffer, and typed arrays need alignment.
  const owned = new ArrayBuffer(bytes);
  new Uint8Array(owned).set(buffer.subarray(offset, offset + bytes));
  return { tensor: { datatype, shape, data: new Ctor(owned) }, end: offset + bytes };
}
