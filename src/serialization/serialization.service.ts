import { Injectable } from '@nestjs/common';

import { createDecoder } from './json-decoder';
import { createEncoder } from './json-encoder';
import { JsonValue } from './json-value';
import { SERIALIZATION_PRESETS, SerializationConfig, SerializationPreset } from './serialization-config';
import { walkTree } from './tree-walker';

/** A preset name, or overrides merged over the `api` preset. */
export type SerializationConfigInput = SerializationPreset | Partial<SerializationConfig>;

const UUID_FORMATS: readonly string[] = ['string', 'object'];
const DATE_FORMATS: readonly string[] = ['iso', 'unix', 'unix_ms'];

function assertValidConfig(config: SerializationConfig): void {
  const problems: string[] = [];
  if (!UUID_FORMATS.includes(config.uuid_format)) problems.push(`uuid_format "${config.uuid_format}"`);
  if (!DATE_FORMATS.includes(config.date_format)) problems.push(`date_format "${config.date_format}"`);
  // `!(x >= 0)` also rejects NaN; Infinity is allowed and means "no limit".
  if (!(config.max_depth >= 0)) problems.push(`max_depth ${config.max_depth}`);
  if (!(config.max_size >= 0)) problems.push(`max_size ${config.max_size}`);
  if (problems.length > 0) throw new TypeError(`Invalid SerializationConfig: ${problems.join(', ')}`);
}

/**
 * JSON-safe conversion of model outputs and API responses (the datason role): typed arrays,
 * BigInt, Map/Set, Buffers, dates, decimals and UUIDs become plain JSON, with hard limits on
 * depth and output size so a hostile or runaway value cannot exhaust the stack or memory.
 * Pure and stateless: safe to construct with `new` outside Nest.
 */
@Injectable()
export class SerializationService {
  /**
   * Converts `value` into a tree of null/boolean/number/string/arrays/plain objects.
   *
   * - Date → per `date_format` (invalid Date → null); NaN/±Infinity → null; -0 → 0.
   * - BigInt (and BigInt64Array items) → number when safe, else decimal string.
   * - Typed arrays → number arrays; Buffer, ArrayBuffer, DataView → base64 string.
   * - Map → object when keys are distinct strings/numbers, else `[key, value]` pairs; Set → array.
   * - Error → `{ name, message }` (never the stack).
   * - Decimal-like (decimal.js, big.js) → string when `preserve_decimals`, else number.
   * - UUID strings → unchanged, or `{ "__uuid__": "<lower-case>" }` when `uuid_format` is 'object'.
   * - Other objects → `toJSON()` result if present, else own enumerable properties;
   *   undefined/function/symbol values are dropped (null inside arrays), like JSON.stringify.
   *
   * The walk is iterative, so input nesting never grows the native stack.
   *
   * @throws SerializationError `circular` if an object contains itself (shared sub-objects
   *   are fine), `max_depth` if containers nest deeper than `max_depth` (root = 1),
   *   `max_size` as soon as the approximate UTF-8 JSON size passes `max_size` bytes,
   *   `unsupported` for Promise/WeakMap/WeakSet (a forgotten `await`).
   * @throws TypeError for an unknown preset or an invalid config.
   */
  serialize(value: unknown, config: SerializationConfigInput = 'api'): JsonValue {
    return this.compile(config)(value);
  }

  /** `serialize` with the config resolved and the encoder built once, for a hot path; same errors. */
  compile(config: SerializationConfigInput = 'api'): (value: unknown) => JsonValue {
    const resolved = this.resolve(config);
    const encoder = createEncoder(resolved);
    const limits = { maxDepth: resolved.max_depth, maxSize: resolved.max_size };
    return (value) => walkTree(value, encoder, limits) as JsonValue;
  }

  /** `JSON.stringify(serialize(value, config))`; same errors as `serialize`. */
  stringify(value: unknown, config: SerializationConfigInput = 'api'): string {
    return JSON.stringify(this.serialize(value, config));
  }

  /**
   * Revives parsed JSON: strict ISO-8601 date-time strings with an explicit zone become
   * `Date` (numbers never do). With `parse_uuids`, UUID strings are normalised to lower case,
   * and returned as `{ "__uuid__" }` when `uuid_format` is 'object'; an incoming
   * `{ "__uuid__" }` wrapper is unwrapped to a string when `uuid_format` is 'string'.
   * Returns a new tree; the input is not mutated.
   *
   * @throws SerializationError `max_depth` / `circular` as in `serialize` (no size limit).
   */
  deserialize(value: unknown, config: SerializationConfigInput = 'api'): unknown {
    const resolved = this.resolve(config);
    return walkTree(value, createDecoder(resolved), { maxDepth: resolved.max_depth, maxSize: Infinity });
  }

  /**
   * A complete, validated config: a copy of the named preset, or `overrides` merged over
   * `api` (keys set to `undefined` are ignored).
   *
   * @throws TypeError for an unknown preset name or invalid values.
   */
  resolve(presetOrConfig: SerializationConfigInput = 'api'): SerializationConfig {
    if (typeof presetOrConfig === 'string') {
      if (!Object.hasOwn(SERIALIZATION_PRESETS, presetOrConfig)) {
        throw new TypeError(`Unknown serialization preset "${presetOrConfig}"`);
      }
      return { ...SERIALIZATION_PRESETS[presetOrConfig] };
    }
    const overrides = Object.fromEntries(Object.entries(presetOrConfig).filter(([, v]) => v !== undefined));
    const resolved: SerializationConfig = { ...SERIALIZATION_PRESETS.api, ...overrides };
    assertValidConfig(resolved);
    return resolved;
  }
}
