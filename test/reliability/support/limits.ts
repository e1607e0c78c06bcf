/**
 * The input limits as README "Security model and limits" states them, computed on the client side
 * so a property can say what the server must answer: keys `__proto__`, `constructor`, `prototype`
 * anywhere, JSON nested deeper than MAX_DEPTH, a string longer than MAX_STRING_LENGTH → 422 (400 on
 * /v2), naming the path.
 */

export const MAX_DEPTH = 20;
export const MAX_STRING_LENGTH = 10_000;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export type LimitProblem = 'forbidden key' | 'MAX_DEPTH' | 'MAX_STRING_LENGTH';

/** Which limits a parsed JSON body breaks (walked without recursion: bodies may nest 20,000 deep). */
export function limitProblems(body: unknown): Set<LimitProblem> {
  const found = new Set<LimitProblem>();
  // `levels`: how many containers enclose the value, itself included (the body object is level 1).
  const stack: { value: unknown; levels: number }[] = [{ value: body, levels: 0 }];
  while (stack.length) {
    const { value, levels } = stack.pop()!;
    if (typeof value === 'string') {
      if (value.length > MAX_STRING_LENGTH) found.add('MAX_STRING_LENGTH');
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (levels + 1 > MAX_DEPTH) {
      found.add('MAX_DEPTH');
      continue;
    }
    if (Array.isArray(value)) {
      for (const v of value) stack.push({ value: v, levels: levels + 1 });
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) found.add('forbidden key');
      else stack.push({ value: (value as Record<string, unknown>)[key], levels: levels + 1 });
    }
  }
  return found;
}

/** The detail messages each problem is named with (src/common/validation/input-limits.ts). */
export const LIMIT_MESSAGE: Record<LimitProblem, RegExp> = {
  'forbidden key': /is a forbidden key/,
  MAX_DEPTH: /exceeds MAX_DEPTH/,
  MAX_STRING_LENGTH: /exceeds MAX_STRING_LENGTH/,
};

/** The body as the server's strict parser reads it (an object or an array; empty is `{}`), or undefined when it is malformed. */
export function strictParse(body: string): { ok: true; value: unknown } | { ok: false } {
  // TextDecoder drops a UTF-8 byte-order mark, as body-parser does.
  const text = body.replace(/^\ufeff/, '');
  if (text.length === 0) return { ok: true, value: {} };
  if (!/^[\x20\x09\x0a\x0d]*[[{]/.test(text)) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
