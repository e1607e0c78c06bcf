import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';

import { routeTemplate } from '../metrics/http-metrics.middleware';

/** Prediction facts the controller's response carried, stashed for the completion log line. */
export interface PredictionLogFields {
  model_id?: string;
  model_version?: string;
  variant?: string;
  cached?: boolean;
}

export const PREDICTION_LOG_FIELDS = 'predictionLog';
export const CLIENT_NAME = 'clientName';

/** Who called: the API-key name when a key was accepted, else the client IP. */
export function clientOf(req: Request): string {
  return (req as Request & { [CLIENT_NAME]?: string })[CLIENT_NAME] ?? req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** The one line each request logs on completion (pino-http's success/error object). */
export function completionFields(rawReq: IncomingMessage, rawRes: ServerResponse, responseTime: number): Record<string, unknown> {
  const req = rawReq as Request;
  const res = rawRes as Response;
  const prediction = (res.locals?.[PREDICTION_LOG_FIELDS] ?? {}) as PredictionLogFields;
  // request_id is already bound to the request's logger (pino-http's child binding).
  return {
    method: req.method,
    route: routeTemplate(req),
    status: res.statusCode,
    duration_ms: responseTime,
    client: clientOf(req),
    ...prediction,
  };
}
