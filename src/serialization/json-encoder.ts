import { types } from 'node:util';

import { isUuid } from './json-formats';
import { SerializationConfig } from './serialization-config';
import { SerializationError } from './serialization.error';
import { Branch, Classifier, OMIT, Where } from './tree-walker';

type ToJson = { toJSON(key: string): unknown };
/** Marks "not one of the built-in types handled by encodeBuiltIn". */
const NOT_BUILT_IN: unique symbol = Symbol('NOT_BUILT_IN');

function encodeNumber(value: number): number | null {
  if (!Number.isFinite(value)) return null;
  return value === 0 ? 0 : value; // -0 would not survive a JSON round trip as -0
}

function encodeBigInt(value: bigint): number | string {
  const safe = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
  return safe ? Number(value) : value.toString();
}

function encodeString(value: string, config: SerializationConfig): unknown {
  if (config.uuid_format === 'object' && isUuid(value)) return { __uuid__: value.toLowerCase() };
  return value;
}

function encodeDate(value: Date, config: SerializationConfig): string | number | null {
  const epochMs = value.getTime();
  if (Number.isNaN(epochMs)) return null;
  if (config.date_format === 'iso') return value.toISOString();
  return config.date_format === 'unix' ? epochMs / 1000 : epochMs;
}

/** decimal.js / big.js and look-alikes, detected by shape so neither is a dependency. */
function isDecimalLike(value: object): boolean {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (name === 'Decimal' || name === 'Big') return true;
  const candidate = value as { toFixed?: unknown; isFinite?: unknown };
  return typeof candidate.toFixed === 'function' && typeof candidate.isFinite === 'function';
}

function encodeDecimal(value: object, config: SerializationConfig): string | number | null {
  const text = String(value);
  return config.preserve_decimals ? text : encodeNumber(Number(text));
}

function objectKeys(value: object, config: SerializationConfig): string[] {
  const keys = Object.keys(value);
  return config.sort_keys ? keys.sort() : keys;
}

/** Object when every key maps to a distinct string; otherwise `[key, value]` pairs (lossless). */
function encodeMap(value: Map<unknown, unknown>, config: SerializationConfig): Branch {
  const record: Record<string, unknown> = Object.create(null);
  for (const [key, entry] of value) {
    if ((typeof key !== 'string' && typeof key !== 'number') || String(key) in record) {
      return Branch.array(value, Array.from(value, ([k, v]) => [k, v]));
    }
    record[String(key)] = entry;
  }
  return Branch.object(value, record, objectKeys(record, config));
}

function bytesToBase64(view: ArrayBufferView | ArrayBufferLike): string {
  if (ArrayBuffer.isView(view)) return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
  return Buffer.from(view).toString('base64');
}

/** Built-in types with a fixed encoding, checked before `toJSON` (Date and Decimal define one). */
function encodeBuiltIn(value: object, config: SerializationConfig, where: Where): unknown {
  if (types.isDate(value)) return encodeDate(value, config);
  // Buffer is a Uint8Array subclass: bytes, not a tensor, so it must be tested first.
  if (Buffer.isBuffer(value) || types.isDataView(value) || types.isAnyArrayBuffer(value)) return bytesToBase64(value);
  if (types.isTypedArray(value) || Array.isArray(value)) return Branch.array(value, value);
  if (types.isMap(value)) return encodeMap(value, config);
  if (types.isSet(value)) return Branch.array(value, Array.from(value));
  if (types.isNativeError(value) || value instanceof Error) {
    return { name: String(value.name), message: String(value.message) }; // never the stack
  }
  if (isDecimalLike(value)) return encodeDecimal(value, config);
  if (types.isBoxedPrimitive(value)) return encodePrimitive(value.valueOf(), config);
  if (types.isPromise(value) || types.isWeakMap(value) || types.isWeakSet(value)) {
    // Almost always a forgotten `await`; `{}` would hide the bug from the client.
    throw new SerializationError('unsupported', where(), `cannot serialize ${Object.prototype.toString.call(value)}`);
  }
  return NOT_BUILT_IN;
}

function encodePrimitive(value: unknown, config: SerializationConfig): unknown {
  switch (typeof value) {
    case 'string':
      return encodeString(value, config);
    case 'number':
      return encodeNumber(value);
    case 'bigint':
      return encodeBigInt(value);
    case 'boolean':
      return value;
    default:
      return value === null ? null : OMIT; // undefined, function, symbol
  }
}

function encodeValue(value: unknown, key: string | number, where: Where, config: SerializationConfig, allowToJson: boolean): unknown {
  if (value === null || typeof value !== 'object') return encodePrimitive(value, config);
  const builtIn = encodeBuiltIn(value, config, where);
  if (builtIn !== NOT_BUILT_IN) return builtIn;
  if (allowToJson && typeof (value as Partial<ToJson>).toJSON === 'function') {
    // Called once, as JSON.stringify does; its result is encoded without calling toJSON again.
    return encodeValue((value as ToJson).toJSON(String(key)), key, where, config, false);
  }
  return Branch.object(value, value as Record<string, unknown>, objectKeys(value, config));
}

/** Classifier that turns any value into JSON-safe leaves and containers under `config`. */
export function createEncoder(config: SerializationConfig): Classifier {
  return (value, key, where) => encodeValue(value, key, where, config, true);
}
