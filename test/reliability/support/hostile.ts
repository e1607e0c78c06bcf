import fc from 'fast-check';

/**
 * Generators of hostile values, shared by the properties of the hostile-input suite: strings
 * (unicode, control characters, lone surrogates, long), numbers (huge, tiny, NaN/Infinity
 * spellings as raw JSON literals), keys (prototype-pollution keys, long, empty), JSON values of
 * any shape and depth, and JSON text that is not quite JSON.
 */

// ---------------------------------------------------------------------------------------------
// Raw JSON text. JSON.stringify cannot write 1e999, -0, NaN, a 400-digit number or 20,000 levels of
// nesting; a marker string (the text in base64, so it survives JSON.stringify unescaped) is put in
// the value and replaced by the text itself (the idea of test/e2e/fuzz.e2e-spec.ts), so bodies carry
// numbers that parse to ±Infinity, nesting deeper than any recursive serializer, or invalid JSON.
// ---------------------------------------------------------------------------------------------

export const raw = (text: string): string => `\u0000RAW:${Buffer.from(text, 'utf8').toString('base64')}\u0000`;
const RAW_IN_TEXT = /"\\u0000RAW:([A-Za-z0-9+/=]*)\\u0000"/g;
/** JSON text of `value`, with the raw markers replaced by their text. */
export const jsonText = (value: unknown): string =>
  (JSON.stringify(value) ?? 'null').replace(RAW_IN_TEXT, (_, b64: string) => Buffer.from(b64, 'base64').toString('utf8'));

/** Literals that parse to odd numbers (±Infinity, -0, denormals, 2^53+1, long digit runs). */
export const ODD_NUMBER_LITERALS = [
  '1e999', '-1e999', '1e39', '-1e39', '3.4028236e38', '1e-400', '-0', '-0.0', '5e-324', '1.7976931348623157e308',
  '9007199254740993', '-9007199254740993', '123456789012345678901234567890', '1E+2', '0.0000000', '1e+9999999999', '0e0',
  `1${'0'.repeat(400)}`, `0.${'0'.repeat(400)}1`,
];
/** Spellings that are not JSON at all (a strict parser must refuse the whole body: 400). */
export const NOT_JSON_LITERALS = ['NaN', '-NaN', 'Infinity', '-Infinity', '+Infinity', 'inf', 'nan', '0x10', '01', '.5', '1.', '+1', '1e', '--1', 'undefined', '1_000', "'1'", '∞'];

/** A number: usual, huge, tiny, integer edges, or a float bit pattern (NaN/±Infinity become null in JSON). */
export const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.double({ noNaN: true }),
  fc.float(),
  fc.integer(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 64, 1e21, -1e-7, 0),
  fc.constantFrom(...ODD_NUMBER_LITERALS).map(raw),
);

/** Characters that break naive code: controls, NUL, BOM, bidi overrides, zero-widths, lone surrogates, astral emoji, combining marks. */
const NASTY_CHARS = ['\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u00a0', '\u2028', '\u2029', '\ufeff', '\u202e', '\u200b', '\u200d', '\ud800', '\udfff', '\ud83d\ude00', '\u0301', '\uffff', '\\', '"', "'", '`', '%', '/', '..', '<', '>', '&', '{', '}', '$', '\u00e9', '\u4e2d', '\u0627'];
/** Strings attackers try: injections, traversal, format strings, templates, numbers-as-text. */
const NASTY_STRINGS = [
  '', ' ', '  ', 'null', 'undefined', 'true', 'NaN', 'Infinity', '-0', '0x1F', '1e999', '[]', '{}', '__proto__', 'constructor', 'prototype',
  '../../../../etc/passwd', '..\\..\\windows\\win.ini', '%2e%2e%2f', '%00', '%s%s%s%n', '${7*7}', '{{7*7}}', '#{7*7}', '<script>alert(1)</script>',
  "' OR '1'='1", '"; DROP TABLE models; --', '$(id)', '`id`', 'file:///etc/passwd', 'http://169.254.169.254/latest/meta-data/', '\u0000admin', 'iris\u0000', 'IRIS', ' iris', 'iris ',
];

/** A hostile string: random unicode (lone surrogates included), control characters, known nasties, or long. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...NASTY_CHARS), { minLength: 1, maxLength: 8 }).map((a) => a.join('')) },
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  // Around MAX_STRING_LENGTH (10,000): under, at, just over, far over (still under BODY_LIMIT).
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(64, 65, 1_000, 9_999, 10_000, 10_001, 60_000), fc.constantFrom('a', 'é', '\u0000', '𝔘')).map(([n, c]) => c.repeat(c.length === 2 ? Math.ceil(n / 2) : n)) },
);

/** Keys an object may carry: prototype-pollution keys, Object.prototype names, empty, long, unicode. */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  { weight: 2, arbitrary: fc.constantFrom('__defineGetter__', '__lookupSetter__', 'hasOwnProperty', 'toString', 'valueOf', 'isPrototypeOf', 'then', 'toJSON', 'length', '0', '-1', '', ' ', '$where', 'features.0') },
  { weight: 2, arbitrary: hostileString.filter((s) => s.length < 200) },
  { weight: 1, arbitrary: fc.constantFrom(300, 10_001, 20_000).map((n) => 'k'.repeat(n)) },
);

/**
 * An object with the given entries, built so a `__proto__` entry is an own property (as JSON.parse
 * makes it) rather than a prototype assignment.
 */
export function objectOf(entries: [string, unknown][]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/** Nesting `depth` levels of arrays or objects around `leaf` (MAX_DEPTH is 20; far deeper must not blow a stack). */
export function nest(depth: number, leaf: unknown, kind: 'array' | 'object' | 'mixed'): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i += 1) v = kind === 'array' || (kind === 'mixed' && i % 2 === 0) ? [v] : { a: v };
  return v;
}

/** The segment as the router hands it to the app (decoded once), or as it is when it does not decode. */
export function decodedSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Deep nesting as text directly (JSON.stringify itself would overflow its stack on the deepest). */
export function deepText(depth: number, kind: 'array' | 'object', leaf = '1'): string {
  return kind === 'array' ? `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}
export const DEPTHS = [19, 20, 21, 22, 64, 1_000, 20_000];

/** Any JSON-ish value with hostile leaves and keys (bounded, so bodies stay small); `strings` are its string leaves. */
const hostileValueOf = (strings: fc.Arbitrary<string>): fc.Arbitrary<unknown> => fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: fc.oneof(hostileNumber, strings, fc.boolean(), fc.constant(null)) },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(fc.tuple(hostileKey.filter((k) => k.length < 300), tie('value')), { maxLength: 3 }).map(objectOf) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...DEPTHS.filter((d) => d <= 64)), fc.constantFrom<'array' | 'object' | 'mixed'>('array', 'object', 'mixed')).map(([d, k]) => nest(d, 1, k)) },
  ),
})).value;
/** Any JSON-ish value with hostile leaves and keys, strings up to 60,000 characters. */
export const hostileValue: fc.Arbitrary<unknown> = hostileValueOf(hostileString);
/** The same with short strings only: for values repeated in every cell of a row (a 256-wide row of 60,000-character strings would be 15 MB). */
export const smallHostileValue: fc.Arbitrary<unknown> = hostileValueOf(hostileString.filter((s) => s.length <= 64));

/**
 * Text that is (mostly) not valid JSON: truncated, with trailing garbage, comments, single
 * quotes, trailing commas, duplicate keys, BOMs, NULs, unbalanced brackets, other encodings.
 */
export function brokenJson(valid: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat({ max: Math.max(0, valid.length - 1) }).map((n) => valid.slice(0, n)),
    fc.constantFrom(',', '}', ']', ' garbage', '\u0000', '{}', '//c', '/* c */', '\n\n{"x":1}').map((g) => valid + g),
    fc.constantFrom('\ufeff', '\u0000', ')]}\',\n', 'while(1);', 'x').map((p) => p + valid),
    fc.constant(valid.replace(/"/g, "'")),
    fc.constant(valid.replace(/}$/, ',}')),
    fc.constant(valid.replace(/^\{/, '{"features":1,"features":2,')),
    fc.constantFrom(...NOT_JSON_LITERALS).map((l) => valid.replace(/\d+(\.\d+)?/, l)),
    fc.constantFrom('', ' ', 'null', 'true', '1', '"x"', '[', '{', '{"', '{"a"', '{"a":', '{"a":1', '[1,', '[1 2]', '{a:1}', '{"a":1}}', '[[[', '{"a":"\\u12"}', '{"a":"\\x41"}', '{"a":"\u0001"}'),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
  );
}

/** A percent-encoding of every byte of `s` (UTF-8). */
const encodeAll = (s: string): string => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');

/**
 * How a hostile string may be written into a path segment: URI-encoded, every byte encoded, double
 * encoded, raw (only when it survives node:http's path check), with an overlong UTF-8 dot.
 */
export function pathSegment(s: string): fc.Arbitrary<string> {
  // Raw only when it is printable ASCII: node:http would send latin-1 bytes, which the server's parser refuses before the app (see the raw-socket property).
  const rawOk = /^[\u0021-\u007e]*$/.test(s) && !/[?#%]/.test(s);
  const options: fc.Arbitrary<string>[] = [
    fc.constant(encodeURIComponent(safeForEncode(s))),
    fc.constant(encodeAll(safeForEncode(s))),
    fc.constant(encodeURIComponent(encodeURIComponent(safeForEncode(s)))),
  ];
  if (rawOk) options.push(fc.constant(s));
  return fc.oneof(...options);
}

/** encodeURIComponent throws on lone surrogates: those are replaced by U+FFFD first. */
const safeForEncode = (s: string): string => s.replace(/[\ud800-\udfff]/g, (c, i: number) => {
  const code = c.charCodeAt(0);
  const next = s.charCodeAt(i + 1);
  const prev = s.charCodeAt(i - 1);
  if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) return c;
  if (code >= 0xdc00 && prev >= 0xd800 && prev <= 0xdbff) return c;
  return '\ufffd';
});

/** A hostile path segment for a model name or version (the name is decoded by the router, then validated). */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<string>('nope', 'IRIS', 'Iris', '..', '.', '...', '%2e%2e', '%2E', '%252e%252e', '%2f', '%5c', '%00', '%ZZ', '%', '%e9', '%C0%AE%C0%AE', '%u002e', 'iris%00', 'iris%20', '%20iris', 'iris;x=1', 'ir%69s', 'a'.repeat(64), 'a'.repeat(65), 'a'.repeat(1_001), '-1', '0', '00', '1.0', '1e3', '0x1', '999999999', '1000000000', '99999999999999999999', '+1', ' 1', '1%20', 'NaN', 'Infinity', 'null', 'undefined', '__proto__', 'constructor', 'prototype', '%5F%5Fproto%5F%5F', 'iris.json', '-', '_', 'CON', 'aux', '~', '*', '@', '$')
    // node:http sends a path as given but refuses spaces and non-ASCII: those are percent-encoded.
    .map((s) => (/^[\u0021-\u007e]*$/.test(s) ? s : encodeURIComponent(s))) },
  { weight: 2, arbitrary: hostileString.filter((s) => s.length > 0 && s.length < 300).chain(pathSegment) },
);

/** Query strings that should change nothing (or be refused by name), never crash. */
export const hostileQuery: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?', '??', '?&', '?=', '?a', '?a=', '?=a', '?a=1&a=2', '?a[b]=1', '?a[]=1&a[]=2', '?__proto__[x]=1', '?constructor[prototype][x]=1', '?%ZZ=1', '?a=%ZZ', '?a=%00', '?a=' + 'x'.repeat(8_000), '?' + 'a=1&'.repeat(1_500), '?;', '?a=1;b=2', '?url=javascript:alert(1)', '?model_id=iris&model_id=penguins', '?model_version=0', '?ready=true', '?pretty', '?format=yaml'),
  fc.array(fc.tuple(hostileKey.filter((k) => k.length < 100), hostileString.filter((s) => s.length < 200)), { minLength: 1, maxLength: 4 })
    .map((pairs) => `?${pairs.map(([k, v]) => `${encodeURIComponent(safeForEncode(k))}=${encodeURIComponent(safeForEncode(v))}`).join('&')}`),
);
