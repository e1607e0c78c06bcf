/**
 * Mirrors datason's `SerializationConfig` (snake_case kept on purpose so configs can be
 * shared with the Python side of the model pipeline).
 */
export interface SerializationConfig {
  /**
   * `'string'`: UUIDs stay plain strings. `'object'`: UUID strings are emitted as
   * `{ "__uuid__": "<lower-case uuid>" }` so a client can tell them from other strings.
   */
  uuid_format: 'string' | 'object';
  /** deserialize(): recognise RFC 4122 UUID strings and normalise them to lower case. */
  parse_uuids: boolean;
  /** `'iso'`: ISO-8601 UTC string; `'unix'`: float seconds since epoch; `'unix_ms'`: integer ms. */
  date_format: 'iso' | 'unix' | 'unix_ms';
  /** Decimal-like objects (decimal.js, big.js) as exact strings (true) or as numbers (false). */
  preserve_decimals: boolean;
  /** Maximum container nesting; the root object/array is depth 1. */
  max_depth: number;
  /** Upper bound, in bytes, of the JSON output (estimated while encoding, typically within 10%). */
  max_size: number;
  /** Emit object keys in sorted order (stable output for caching/diffing). */
  sort_keys?: boolean;
}

const MIB = 1024 * 1024;

/** Named configurations; `api` is the default everywhere a preset is optional. */
export const SERIALIZATION_PRESETS = {
  /** Responses read by humans and generic clients: readable dates, exact decimals. */
  api: {
    uuid_format: 'string',
    parse_uuids: false,
    date_format: 'iso',
    preserve_decimals: true,
    max_depth: 50,
    max_size: 10 * MIB,
    sort_keys: false,
  },
  /** Large numeric payloads (tensors): cheap numeric dates and decimals, bigger budget. */
  performance: {
    uuid_format: 'string',
    parse_uuids: false,
    date_format: 'unix',
    preserve_decimals: false,
    max_depth: 20,
    max_size: 50 * MIB,
    sort_keys: false,
  },
} as const satisfies Record<string, SerializationConfig>;

export type SerializationPreset = keyof typeof SERIALIZATION_PRESETS;

/** DI token for the `SerializationConfig` used by `SerializationInterceptor`. */
export const SERIALIZATION_OPTIONS = Symbol('SERIALIZATION_OPTIONS');
