import type { NextFunction, Request, Response } from 'express';

import { PREDICTION_LOG_FIELDS, PredictionLogFields } from './request-log';

/** `model_id` on /predict, `model_name` on the V2 protocol. */
const modelOf = (body: Record<string, unknown>): string | undefined =>
  typeof body.model_id === 'string' ? body.model_id : typeof body.model_name === 'string' ? body.model_name : undefined;

const pick = (body: Record<string, unknown>): PredictionLogFields => ({
  model_id: modelOf(body),
  model_version: typeof body.model_version === 'string' ? body.model_version : undefined,
  variant: typeof body.variant === 'string' ? body.variant : undefined,
  cached: typeof body.cached === 'boolean' ? body.cached : undefined,
});

/**
 * Stashes a prediction response's model, version, variant and cached flag for the request's
 * completion log line, by wrapping `res.json` (which Nest's Express adapter answers with).
 * A middleware rather than an interceptor: each Nest interceptor costs an AsyncResource.bind per
 * request, which on Node 20 showed up as ~3% of CPU under load.
 */
export function predictionLogMiddleware(_req: Request, res: Response, next: NextFunction): void {
  const json = res.json.bind(res);
  res.json = (body: unknown) => {
    notePrediction(res, body);
    return json(body);
  };
  next();
}

/** Stashes the prediction facts of a response body for the completion line (also for answers not sent with res.json). */
export function notePrediction(res: Response, body: unknown): void {
  if (typeof body === 'object' && body !== null && ('model_id' in body || 'model_name' in body)) res.locals[PREDICTION_LOG_FIELDS] = pick(body as Record<string, unknown>);
}
