import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted recursively (array order kept) and -0 written as 0, so two
 * requests with the same features in any key order give the same text. Otherwise it follows
 * JSON.stringify: `toJSON` is honoured, undefined/function members are dropped from objects and
 * become null in arrays, NaN and ±Infinity become null. Pure.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
    case 'object':
      if (value === null) return 'null';
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        return canonicalJson((value as { toJSON(): unknown }).toJSON());
      }
      return Array.isArray(value) ? canonicalArray(value) : canonicalObject(value as Record<string, unknown>);
    default:
      // undefined, functions and symbols have no JSON form.
      return 'null';
  }
}

function canonicalArray(items: unknown[]): string {
  return `[${items.map(canonicalJson).join(',')}]`;
}

function canonicalObject(record: Record<string, unknown>): string {
  const members = Object.keys(record)
    .sort()
    .filter((k) => !['undefined', 'function', 'symbol'].includes(typeof record[k]))
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
  return `{${members.join(',')}}`;
}

/**
 * The prediction cache key: `${modelId}:${version}:${sha256 hex of canonicalJson(features)}`.
 * The version is part of the key so a promotion or a pinned version never gets another
 * version's answer; hashing keeps keys short and free of raw request data. Pure.
 */
export function cacheKey(modelId: string, version: number, features: unknown): string {
  const digest = createHash('sha256').update(canonicalJson(features)).digest('hex');
  return `${modelId}:${version}:${digest}`;
}

/** The model id of a key made by {@link cacheKey} (ids may themselves contain ':'). */
export function modelIdOfKey(key: string): string {
  const hashAt = key.lastIndexOf(':');
  const versionAt = hashAt > 0 ? key.lastIndexOf(':', hashAt - 1) : -1;
  return versionAt >= 0 ? key.slice(0, versionAt) : key;
}
