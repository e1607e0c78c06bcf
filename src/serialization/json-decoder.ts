import { isUuid, parseIsoDateTime } from './json-formats';
import { SerializationConfig } from './serialization-config';
import { Branch, Classifier } from './tree-walker';

const UUID_KEY = '__uuid__';

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function decodeUuid(text: string, config: SerializationConfig): unknown {
  const normalised = text.toLowerCase();
  return config.uuid_format === 'object' ? { [UUID_KEY]: normalised } : normalised;
}

function decodeString(text: string, config: SerializationConfig): unknown {
  const date = parseIsoDateTime(text);
  if (date) return date;
  return config.parse_uuids && isUuid(text) ? decodeUuid(text, config) : text;
}

/** `{ "__uuid__": "…" }` as written by the encoder with uuid_format 'object'. */
function wrappedUuid(value: Record<string, unknown>): string | null {
  const keys = Object.keys(value);
  const text = value[UUID_KEY];
  return keys.length === 1 && typeof text === 'string' && isUuid(text) ? text : null;
}

function decodeValue(value: unknown, config: SerializationConfig): unknown {
  if (typeof value === 'string') return decodeString(value, config);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return Branch.array(value, value);
  if (!isPlainObject(value)) return value; // already-decoded values (e.g. Date) pass through
  const uuid = config.parse_uuids ? wrappedUuid(value) : null;
  if (uuid !== null) return decodeUuid(uuid, config);
  return Branch.object(value, value, Object.keys(value));
}

/** Classifier that revives dates (and, with parse_uuids, UUIDs) in parsed JSON. */
export function createDecoder(config: SerializationConfig): Classifier {
  return (value) => decodeValue(value, config);
}
