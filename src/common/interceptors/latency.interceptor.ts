import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';

import { HttpReply } from '../http/http-reply';
import { RequestCompletion } from '../observability/request-completion';

/**
 * Latency of every answered request, measured from its arrival: the HTTP histogram and counter
 * (route template labels), `X-Response-Time`, and the answer's `processing_time_ms` when it has
 * one. Errors are measured by the exception filter.
 */
@Injectable()
export class LatencyInterceptor implements NestInterceptor {
  constructor(private readonly completion: RequestCompletion) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<object>();
    const res = http.getResponse<HttpReply & { statusCode: number }>();
    return next.handle().pipe(tap((body: unknown) => {
      const ms = this.completion.measured(req, res.statusCode);
      res.header('X-Response-Time', `${ms.toFixed(3)}ms`);
      if (typeof body === 'object' && body !== null && 'processing_time_ms' in body) (body as { processing_time_ms: number }).processing_time_ms = ms;
    }));
  }
}
