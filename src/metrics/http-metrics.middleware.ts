import type { NextFunction, Request, Response } from 'express';
import onHeaders from 'on-headers';

import { MetricsService } from './metrics.service';

/**
 * The route template Express matched (e.g. `/models/:id`), never the raw path; `unmatched` for
 * requests no controller route took (including Nest's catch-all 404 route `/{*path}`).
 */
export function routeTemplate(req: Request): string {
  const path = (req.route as { path?: string } | undefined)?.path;
  if (typeof path !== 'string' || path.includes('*')) return 'unmatched';
  return `${req.baseUrl}${path}` || '/';
}

/**
 * Sets X-Response-Time (ms to headers) and records the HTTP counter and histogram with the
 * route template. Runs for every response, including errors raised before Nest's router.
 */
export function httpMetricsMiddleware(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    onHeaders(res, () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      res.setHeader('X-Response-Time', `${(seconds * 1000).toFixed(3)}ms`);
      metrics.observeHttp(req.method, routeTemplate(req), res.statusCode, seconds);
    });
    next();
  };
}
