import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { Observable, tap } from 'rxjs';

import { PREDICTION_LOG_FIELDS, PredictionLogFields } from '../../logging/request-log';

const pick = (body: Record<string, unknown>): PredictionLogFields => ({
  model_id: typeof body.model_id === 'string' ? body.model_id : undefined,
  model_version: typeof body.model_version === 'string' ? body.model_version : undefined,
  variant: typeof body.variant === 'string' ? body.variant : undefined,
  cached: typeof body.cached === 'boolean' ? body.cached : undefined,
});

/** Stashes a prediction response's model, version, variant and cached flag for the request's completion log line. */
@Injectable()
export class PredictionLogInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(tap((body: unknown) => {
      if (context.getType() !== 'http' || typeof body !== 'object' || body === null || !('model_id' in body)) return;
      const res = context.switchToHttp().getResponse<Response>();
      res.locals[PREDICTION_LOG_FIELDS] = pick(body as Record<string, unknown>);
    }));
  }
}
