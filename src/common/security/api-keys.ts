import { createHash, timingSafeEqual } from 'node:crypto';

/** One configured key: its name (used for logs and rate limits) and the SHA-256 digest of the key. */
export interface ApiKeyEntry {
  name: string;
  digest: Buffer;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();
const HEX64 = /^[0-9a-f]{64}$/i;

/**
 * Parses API_KEYS / ADMIN_API_KEYS: comma-separated `name:key`, `name:sha256:<64 hex>` (so plain
 * keys need not sit in the environment) or a bare `key` (named `<prefix>-<n>`). Throws on an
 * empty name or key, a bad digest, or a duplicate name.
 */
export function parseApiKeys(csv: string, prefix: string): ApiKeyEntry[] {
  const entries = csv.split(',').map((s) => s.trim()).filter(Boolean).map((item, i): ApiKeyEntry => {
    const first = item.indexOf(':');
    if (first < 0) return { name: `${prefix}-${i + 1}`, digest: sha256(item) };
    const name = item.slice(0, first);
    const rest = item.slice(first + 1);
    if (!name || !rest) throw new Error(`API key entry #${i + 1} must be name:key, name:sha256:<hex> or key`);
    if (rest.startsWith('sha256:')) {
      const hex = rest.slice('sha256:'.length);
      if (!HEX64.test(hex)) throw new Error(`API key '${name}': sha256 digest must be 64 hex characters`);
      return { name, digest: Buffer.from(hex, 'hex') };
    }
    return { name, digest: sha256(rest) };
  });
  const names = entries.map((e) => e.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`API key name '${duplicate}' is used twice`);
  return entries;
}

/**
 * The name of the key matching `presented`, or undefined. The presented key is hashed and
 * compared with every entry's digest in constant time (equal-length buffers, no early exit), so
 * timing reveals neither which key nor how much of it matched.
 */
export function matchApiKey(presented: string, entries: ApiKeyEntry[]): string | undefined {
  const digest = sha256(presented);
  let match: string | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(digest, entry.digest) && match === undefined) match = entry.name;
  }
  return match;
}
