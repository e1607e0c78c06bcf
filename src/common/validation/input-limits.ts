import { ErrorDetail } from '../errors/app-error';

export interface InputLimits {
  maxDepth: number;
  maxStringLength: number;
}

/** Keys that could reach an object's prototype if some code ever merged the body into an object. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DETAILS = 20;

/**
 * Walks a parsed JSON body without recursion: nesting deeper than maxDepth, strings longer than
 * maxStringLength and prototype-reaching keys are each named (up to 20 problems).
 */
export function inputLimitProblems(body: unknown, limits: InputLimits): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  // Paths are built only for values that break a limit: building one per element of every
  // feature array would cost more than the walk itself on tensor-sized bodies.
  const stack: Frame[] = [{ value: body, parent: undefined, key: 'body', depth: 0 }];
  while (stack.length && problems.length < MAX_DETAILS) {
    const frame = stack.pop()!;
    const { value, depth } = frame;
    if (typeof value === 'string' && value.length > limits.maxStringLength) {
      problems.push({ field: pathOf(frame), message: `string of ${value.length} characters exceeds MAX_STRING_LENGTH (${limits.maxStringLength})` });
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth + 1 > limits.maxDepth) {
      problems.push({ field: pathOf(frame), message: `nesting exceeds MAX_DEPTH (${limits.maxDepth})` });
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i += 1) {
        const child = value[i];
        if ((typeof child === 'object' && child !== null) || typeof child === 'string') stack.push({ value: child, parent: frame, key: i, depth: depth + 1 });
      }
      continue;
    }
    for (const key of Object.keys(value)) {
      const child = { value: (value as Record<string, unknown>)[key], parent: frame, key, depth: depth + 1 };
      if (FORBIDDEN_KEYS.has(key)) problems.push({ field: pathOf(child), message: 'is a forbidden key' });
      else stack.push(child);
    }
  }
  return problems;
}

interface Frame {
  value: unknown;
  parent: Frame | undefined;
  key: string | number;
  depth: number;
}

function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | undefined = frame; f; f = f.parent) parts.push(typeof f.key === 'number' ? `[${f.key}]` : f.parent ? `.${f.key}` : f.key);
  return parts.reverse().join('');
}

/** A path or URL under /v2 (case-insensitive, as Express routes). */
export const isV2Path = (url: string): boolean => /^\/v2(\/|$|\?)/i.test(url);
