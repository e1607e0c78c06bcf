import { createHash } from 'node:crypto';

/**
 * A canary rollout: `percentage` (0..100, may be fractional) of unpinned requests go to
 * `version` instead of the active one. With `sticky`, a request carrying a routing key is
 * assigned by a hash of that key, so the same key always lands on the same variant.
 */
export interface CanaryPolicy {
  version: number;
  percentage: number;
  sticky: boolean;
  /** Ends the canary once it has served `min_requests` and its error rate exceeds `max_error_rate` (0..1). */
  auto_abort?: { max_error_rate: number; min_requests: number };
}

/** Shadow traffic: `percentage` (0..100) of requests are also sent to `version`, off the caller's path. */
export interface ShadowPolicy {
  version: number;
  percentage: number;
}

export type RoutedVariant = 'stable' | 'canary';

/** 2^48: the first 6 bytes of a SHA-256 digest read as an integer are uniform on [0, 2^48). */
const TWO_POW_48 = 2 ** 48;

/**
 * The deterministic draw in [0, 1) for a routing key under one canary version. The version is
 * part of the hashed material so that starting a new canary reshuffles who gets it, rather than
 * always exposing the same unlucky users first.
 */
export function stickyDraw(routingKey: string, canaryVersion: number): number {
  const digest = createHash('sha256').update(`${canaryVersion}:${routingKey}`).digest();
  return digest.readUIntBE(0, 6) / TWO_POW_48;
}

/**
 * Whether a draw in [0, 1) falls inside `percentage`. 0 and 100 are decided without the draw so
 * that they are exact whatever the source returns (a custom source might return 1, or a float
 * rounding might land on the boundary).
 */
function within(percentage: number, draw: () => number): boolean {
  if (!(percentage > 0)) return false;
  if (percentage >= 100) return true;
  return draw() < percentage / 100;
}

/**
 * Picks the variant for one unpinned request.
 *
 * - no canary, or 0% → `stable`; 100% → `canary` (exact, the draw is not consulted);
 * - otherwise `canary` iff the draw < percentage / 100, where the draw is `stickyDraw(routingKey,
 *   canary.version)` when the canary is sticky and a non-empty routing key is given, else `random()`.
 *
 * An empty key counts as no key: otherwise every client sending a blank header would share one bucket.
 * Because the sticky draw is fixed per key, raising the percentage only moves keys from stable to
 * canary, never back.
 */
export function chooseVariant(
  canary: CanaryPolicy | undefined,
  routingKey: string | undefined,
  random: () => number = Math.random,
): RoutedVariant {
  if (!canary) return 'stable';
  const key = canary.sticky && routingKey ? routingKey : undefined;
  const draw = key !== undefined ? () => stickyDraw(key, canary.version) : random;
  return within(canary.percentage, draw) ? 'canary' : 'stable';
}

/** Whether this request should also be sent to the shadow version; 0% and 100% are exact. */
export function shouldShadow(shadow: ShadowPolicy | undefined, random: () => number = Math.random): boolean {
  return shadow !== undefined && within(shadow.percentage, random);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** |a-b| / max(|a|, |b|, 1e-12) ≤ tolerance; identical values (incl. NaN, ±Infinity) agree. */
function numbersAgree(a: number, b: number, tolerance: number): boolean {
  if (Object.is(a, b)) return true;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12) <= tolerance;
}

/** Structural comparison: numbers by relative difference, other leaves strictly, same shape and keys. */
function deepAgree(a: unknown, b: unknown, tolerance: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return numbersAgree(a, b, tolerance);
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepAgree(item, b[i], tolerance));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepAgree(a[k], b[k], tolerance));
  }
  if (Array.isArray(a) || Array.isArray(b) || isPlainObject(a) || isPlainObject(b)) return false;
  return Object.is(a, b);
}

/**
 * Whether the shadow's prediction agrees with the stable one.
 *
 * - classifier predictions (`{class, ...}`): same class; confidences may differ;
 * - regressor (`{value: number | number[]}`) and raw outputs (objects of nested numeric arrays):
 *   every number within the relative `tolerance`, same shape and keys.
 *
 * Any shape or type mismatch (a classifier answer against a regressor one, different lengths,
 * different output names) is a disagreement.
 */
export function agrees(stable: unknown, shadow: unknown, tolerance = 1e-3): boolean {
  const stableIsClass = isPlainObject(stable) && 'class' in stable;
  const shadowIsClass = isPlainObject(shadow) && 'class' in shadow;
  if (stableIsClass || shadowIsClass) return stableIsClass && shadowIsClass && Object.is(stable.class, shadow.class);
  return deepAgree(stable, shadow, tolerance);
}

/**
 * Whether a canary should be ended automatically: only once it has served at least `min_requests`
 * (so a single early failure cannot abort it) and its error rate is strictly above `max_error_rate`.
 */
export function shouldAbortCanary(
  stats: { requests: number; errors: number },
  autoAbort: CanaryPolicy['auto_abort'],
): boolean {
  if (!autoAbort || stats.requests <= 0) return false;
  return stats.requests >= autoAbort.min_requests && stats.errors / stats.requests > autoAbort.max_error_rate;
}
