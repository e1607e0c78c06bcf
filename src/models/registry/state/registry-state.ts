import { CanaryPolicy, ShadowPolicy } from '../../routing/routing-policy';

/** One model's rollout settings as persisted: stages, and the canary and shadow in force. */
export interface ModelRoutingState {
  active?: number;
  staging?: number;
  /** The active version before the last promote, the target of a rollback. */
  previous_active?: number;
  canary?: CanaryPolicy;
  shadow?: ShadowPolicy;
}

/** The registry state document (REGISTRY_STATE_FILE, or the Redis key of the scale-out store). */
export interface RegistryState {
  version: 1;
  /** ISO 8601 time of the change that produced this state. */
  updated_at: string;
  /** By model name; models absent here use their model.json defaults. */
  models: Record<string, ModelRoutingState>;
}

/** Model names as the repository allows them (see manifest-validation). */
const MODEL_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const ROOT_KEYS = ['version', 'updated_at', 'models'];
const MODEL_KEYS = ['active', 'staging', 'previous_active', 'canary', 'shadow'];
const CANARY_KEYS = ['version', 'percentage', 'sticky', 'auto_abort'];
const AUTO_ABORT_KEYS = ['max_error_rate', 'min_requests'];
const SHADOW_KEYS = ['version', 'percentage'];

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isVersion = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isPercentage = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100;
const shown = (v: unknown): string => (v === undefined ? 'missing' : JSON.stringify(v) ?? String(v));

function unknownKeys(obj: Fields, allowed: string[], path: string): string[] {
  return Object.keys(obj).filter((k) => !allowed.includes(k)).map((k) => `${path}.${k} is not a known field`);
}

/** A check of one field: `required` reports a missing value, otherwise an absent field is fine. */
function check(obj: Fields, key: string, path: string, ok: (v: unknown) => boolean, expected: string, required = false): string[] {
  const value = obj[key];
  if (value === undefined && !required) return [];
  return ok(value) ? [] : [`${path}.${key} must be ${expected} (got ${shown(value)})`];
}

function autoAbortProblems(raw: unknown, path: string): string[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) return [`${path} must be an object`];
  const rate = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  return [
    ...check(raw, 'max_error_rate', path, rate, 'a number between 0 and 1', true),
    ...check(raw, 'min_requests', path, count, 'a non-negative integer', true),
    ...unknownKeys(raw, AUTO_ABORT_KEYS, path),
  ];
}

function canaryProblems(raw: unknown, path: string): string[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) return [`${path} must be an object`];
  return [
    ...check(raw, 'version', path, isVersion, 'a positive integer', true),
    ...check(raw, 'percentage', path, isPercentage, 'a number between 0 and 100', true),
    ...check(raw, 'sticky', path, (v) => typeof v === 'boolean', 'a boolean', true),
    ...autoAbortProblems(raw.auto_abort, `${path}.auto_abort`),
    ...unknownKeys(raw, CANARY_KEYS, path),
  ];
}

function shadowProblems(raw: unknown, path: string): string[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) return [`${path} must be an object`];
  return [
    ...check(raw, 'version', path, isVersion, 'a positive integer', true),
    ...check(raw, 'percentage', path, isPercentage, 'a number between 0 and 100', true),
    ...unknownKeys(raw, SHADOW_KEYS, path),
  ];
}

function modelProblems(name: string, raw: unknown): string[] {
  const path = `models.${name}`;
  const problems = MODEL_NAME.test(name) ? [] : [`${path}: '${name}' is not a valid model name`];
  if (!isObject(raw)) return [...problems, `${path} must be an object`];
  return [
    ...problems,
    ...['active', 'staging', 'previous_active'].flatMap((k) => check(raw, k, path, isVersion, 'a positive integer')),
    ...canaryProblems(raw.canary, `${path}.canary`),
    ...shadowProblems(raw.shadow, `${path}.shadow`),
    ...unknownKeys(raw, MODEL_KEYS, path),
  ];
}

function documentProblems(raw: Fields): string[] {
  const timestamp = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
  const models = raw.models;
  return [
    ...check(raw, 'version', 'state', (v) => v === 1, '1', true),
    ...check(raw, 'updated_at', 'state', timestamp, 'an ISO 8601 timestamp', true),
    ...(isObject(models) ? Object.entries(models).flatMap(([name, m]) => modelProblems(name, m)) : ['state.models must be an object']),
    ...unknownKeys(raw, ROOT_KEYS, 'state'),
  ];
}

/**
 * Checks a parsed state document strictly: versions are positive integers, percentages 0..100,
 * `sticky` a boolean, error rates 0..1, model names as the repository allows, and every unknown
 * key is reported (a typo must not silently drop a setting). All or nothing: `state` is set only
 * when `problems` is empty, since half a state could pair a canary with the wrong active version.
 * Never throws.
 */
export function validateRegistryState(raw: unknown): { state?: RegistryState; problems: string[] } {
  if (!isObject(raw)) return { problems: ['state must be a JSON object'] };
  const problems = documentProblems(raw);
  return problems.length === 0 ? { state: raw as unknown as RegistryState, problems } : { problems };
}
