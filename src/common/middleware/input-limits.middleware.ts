import type { NextFunction, Request, Response } from 'express';

import { AppError, ErrorDetail } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';

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
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: body, path: 'body', depth: 0 }];
  while (stack.length && problems.length < MAX_DETAILS) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string' && value.length > limits.maxStringLength) {
      problems.push({ field: path, message: `string of ${value.length} characters exceeds MAX_STRING_LENGTH (${limits.maxStringLength})` });
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth + 1 > limits.maxDepth) {
      problems.push({ field: path, message: `nesting exceeds MAX_DEPTH (${limits.maxDepth})` });
      continue;
    }
    const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v]) : Object.entries(value);
    for (const [key, child] of entries) {
      const childPath = key.startsWith('[') ? `${path}${key}` : `${path}.${key}`;
      if (!Array.isArray(value) && FORBIDDEN_KEYS.has(key)) problems.push({ field: childPath, message: 'is a forbidden key' });
      else stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return problems;
}

/** Runs after the JSON parser: a body over the limits is a 422 before any controller sees it. */
export function inputLimitsMiddleware(limits: InputLimits) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const problems = req.body === undefined ? [] : inputLimitProblems(req.body, limits);
    next(problems.length ? AppError.validation(problems, 'Request exceeds input limits') : undefined);
  };
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Requests that carry a body must say it is JSON (415 otherwise); body-less POSTs (admin actions) pass. */
export function jsonContentTypeMiddleware(req: Request, _res: Response, next: NextFunction): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!BODY_METHODS.has(req.method) || !hasBody || req.is('application/json') || req.is('application/*+json')) return next();
  const type = req.headers['content-type'] ?? 'none';
  next(new AppError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Content-Type '${type}' is not supported; send application/json`));
}
