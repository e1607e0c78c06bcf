import fc from 'fast-check';
import { createHash } from 'node:crypto';

import { must } from './invariants';
import type { Reply, Sent } from './wire';

/**
 * API keys of the suite's main app and every way a caller may present (or botch) one. `level` is
 * what the server must make of it under README "Security model and limits": Authorization
 * `Bearer <key>` (any case, one token) wins over X-API-Key; a malformed Authorization falls back to
 * X-API-Key; an empty X-API-Key is no key. `any` marks presentations whose outcome depends on the
 * HTTP layer (whitespace trimming, duplicate-header folding): only the universal rules apply.
 */

export const CLIENT_KEY = 'client-key-7f3a9c';
export const HASHED_CLIENT_KEY = 'hashed-key-91c2e4';
export const ADMIN_KEY = 'admin-key-2d8e51';
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** API_KEYS / ADMIN_API_KEYS of the main app: a plain client key, a hashed one, an admin key. */
export const KEY_ENV = { API_KEYS: `svc:${CLIENT_KEY},hashed:sha256:${sha256(HASHED_CLIENT_KEY)}`, ADMIN_API_KEYS: `ops:${ADMIN_KEY}` };

export type Level = 'none' | 'bad' | 'client' | 'admin' | 'any';
export type Access = 'public' | 'client' | 'admin';

export interface Auth {
  label: string;
  headers: Record<string, string | string[]>;
  level: Level;
}

export const AUTHS: Auth[] = [
  { label: 'client X-API-Key', headers: { 'x-api-key': CLIENT_KEY }, level: 'client' },
  { label: 'client Bearer', headers: { authorization: `Bearer ${CLIENT_KEY}` }, level: 'client' },
  { label: 'hashed client key, lower-case bearer, spaces', headers: { authorization: `bearer   ${HASHED_CLIENT_KEY}` }, level: 'client' },
  { label: 'admin X-API-Key', headers: { 'x-api-key': ADMIN_KEY }, level: 'admin' },
  { label: 'admin Bearer', headers: { authorization: `Bearer ${ADMIN_KEY}` }, level: 'admin' },
  { label: 'no key', headers: {}, level: 'none' },
  { label: 'wrong X-API-Key', headers: { 'x-api-key': 'not-a-key' }, level: 'bad' },
  { label: 'wrong Bearer', headers: { authorization: 'Bearer not-a-key' }, level: 'bad' },
  { label: 'Bearer without a key', headers: { authorization: 'Bearer' }, level: 'none' },
  { label: 'Bearer with two tokens', headers: { authorization: `Bearer ${CLIENT_KEY} extra` }, level: 'none' },
  { label: 'Basic credentials', headers: { authorization: `Basic ${Buffer.from(`svc:${CLIENT_KEY}`).toString('base64')}` }, level: 'none' },
  { label: 'empty X-API-Key', headers: { 'x-api-key': '' }, level: 'none' },
  { label: 'key minus its last character', headers: { 'x-api-key': CLIENT_KEY.slice(0, -1) }, level: 'bad' },
  { label: 'key plus a character', headers: { 'x-api-key': `${CLIENT_KEY}x` }, level: 'bad' },
  { label: 'upper-cased key', headers: { 'x-api-key': CLIENT_KEY.toUpperCase() }, level: 'bad' },
  { label: 'the configured digest as the key', headers: { 'x-api-key': sha256(HASHED_CLIENT_KEY) }, level: 'bad' },
  { label: 'sha256:<digest> as the key', headers: { 'x-api-key': `sha256:${sha256(HASHED_CLIENT_KEY)}` }, level: 'bad' },
  { label: 'the key name', headers: { 'x-api-key': 'svc' }, level: 'bad' },
  { label: 'name:key', headers: { 'x-api-key': `svc:${CLIENT_KEY}` }, level: 'bad' },
  { label: 'admin name:key', headers: { 'x-api-key': `ops:${ADMIN_KEY}` }, level: 'bad' },
  { label: '8,000-character key', headers: { 'x-api-key': 'k'.repeat(8_000) }, level: 'bad' },
  { label: 'latin-1 key', headers: { 'x-api-key': 'cl\u00e9-\u00ff\u00a0' }, level: 'bad' },
  { label: 'two X-API-Key headers (folded into one value)', headers: { 'x-api-key': [CLIENT_KEY, CLIENT_KEY] }, level: 'bad' },
  { label: 'wrong Bearer beats a good X-API-Key', headers: { authorization: 'Bearer nope', 'x-api-key': ADMIN_KEY }, level: 'bad' },
  { label: 'Basic falls back to the admin X-API-Key', headers: { authorization: 'Basic eA==', 'x-api-key': ADMIN_KEY }, level: 'admin' },
  { label: 'client Bearer beats an admin X-API-Key', headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-api-key': ADMIN_KEY }, level: 'client' },
  { label: 'key padded with spaces', headers: { 'x-api-key': ` ${CLIENT_KEY} ` }, level: 'any' },
  { label: 'two Authorization headers', headers: { authorization: [`Bearer ${ADMIN_KEY}`, 'Bearer x'] }, level: 'any' },
];

const byLevel = (...levels: Level[]) => AUTHS.filter((a) => levels.includes(a.level));

/** Mostly a key good enough for a client route, sometimes anything. */
export const clientAuth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...byLevel('client', 'admin')) },
  { weight: 2, arbitrary: fc.constantFrom(...AUTHS) },
);
/** Anything, weighted evenly between sufficient and insufficient. */
export const anyAuth: fc.Arbitrary<Auth> = fc.constantFrom(...AUTHS);
/** Only presentations that are not an admin key (for admin calls on models the suite must not change). */
export const nonAdminAuth: fc.Arbitrary<Auth> = fc.constantFrom(...byLevel('none', 'bad', 'client'));
/** Only presentations that never reach past a client route's guard with rights (none, wrong). */
export const noAuth: fc.Arbitrary<Auth> = fc.constantFrom(...byLevel('none', 'bad'));

/** 400 (unreadable body, bad URL), 404 (no such route), 413, 414, 415: answered before any guard runs, so they may beat a 401/403. */
const PRE_GUARD_STATUSES = new Set([400, 404, 413, 414, 415]);

/**
 * The access rule: an insufficient key gets exactly its 401 (none, wrong) or 403 (a client key on
 * an admin route) — or an error raised before the guards (body parsing, routing); a sufficient
 * key is never refused.
 */
export function checkAuth(sent: Sent, r: Reply, access: Access, level: Level): void {
  if (access === 'public' || level === 'any') return;
  const sufficient = level === 'admin' || (level === 'client' && access === 'client');
  if (sufficient) {
    must(r.status !== 401 && r.status !== 403, `a ${level} key on a ${access} route is not refused`, sent, r);
    return;
  }
  const refusal = access === 'admin' && level === 'client' ? 403 : 401;
  if (r.status === refusal) return;
  must(PRE_GUARD_STATUSES.has(r.status), `a ${level} key on a ${access} route gets ${refusal} (or an error raised before the guards), never past the guard`, sent, r);
  const error = (r.json as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') {
    // Under /v2 only the message tells: the router's "Cannot …" 404, not a model lookup; a body or URL 400, not validation.
    if (r.status === 404) must(/^Cannot /.test(error), 'a V2 404 past the guard: the key should have been refused first', sent, r);
    if (r.status === 400) must(!/^(Request validation failed|Invalid inference request|Load overrides)/.test(error), 'a V2 validation 400 is raised after the guard: the key should have been refused first', sent, r);
    return;
  }
  const code = (error as { code?: string } | undefined)?.code;
  // Outside /v2 the envelope's code tells which layer answered: a 400 must be the body's, a 404 the router's.
  if (code !== undefined) must(['MALFORMED_JSON', 'BAD_REQUEST', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'].includes(code), `${code} is raised after the guard: the key should have been refused first`, sent, r);
}
