import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Honours a sane incoming X-Request-Id, else generates a UUID v4. */
export function resolveRequestId(incoming: unknown): string {
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** The request id of a request that passed {@link requestIdMiddleware}. */
export function requestIdOf(req: Request): string {
  return (req as Request & { id?: string }).id ?? 'unknown';
}

/**
 * First middleware of the stack (before the body parser), so even a malformed body's error
 * envelope carries the id. Sets `req.id` (pino-http reads the same field) and echoes the header.
 */
export function requestIdMiddleware(req: Request, res: Response, next: NextFunction): void {
  const id = resolveRequestId(req.headers[REQUEST_ID_HEADER]);
  (req as Request & { id: string }).id = id;
  res.setHeader('X-Request-Id', id);
  next();
}
