import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';

import { contextOf, notePrediction } from '../http/request-context';
import { RequestCompletion } from '../observability/request-completion';

/**
 * One completion line per answered request: request id, method, route template, status,
 * duration, client, and the prediction's model/version/variant/cached taken from the answer.
 * Errors are completed by the exception filter (it sees them all, also those before any handler).
 */
@Injectable()
export class LoggingInterceptor implements NestInterceptor {
  constructor(private readonly completion: RequestCompletion) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<object>();
    const res = http.getResponse<{ statusCode: number }>();
    return next.handle().pipe(tap((body: unknown) => {
      const ctx = contextOf(req);
      notePrediction(ctx, body);
      this.completion.logged(req, res.statusCode, ctx);
    }));
  }
}
