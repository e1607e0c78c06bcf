import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, StreamableFile } from '@nestjs/common';
import { map, Observable } from 'rxjs';

import { contextOf } from '../common/http/request-context';
import { childSpan, endSpan, failSpan, tracingActive } from '../common/observability/trace-spans';
import { SERIALIZATION_OPTIONS } from './serialization-config';
// Type-only: decorated constructor parameters need `import type` under isolatedModules.
import type { SerializationConfig } from './serialization-config';
import { SerializationService } from './serialization.service';

/**
 * Passes every answer through the configured serialization preset (compiled once at boot), so
 * handlers can return typed arrays, BigInt, Maps or Dates without caring about JSON. Binary
 * answers (StreamableFile) pass untouched. A `SerializationError` goes to the exception filter,
 * which answers a generic 500. Traced requests get a `serialize` span (child of the server span)
 * around the encoding.
 */
@Injectable()
export class SerializationInterceptor implements NestInterceptor {
  private readonly encode: (value: unknown) => unknown;

  constructor(serialization: SerializationService, @Inject(SERIALIZATION_OPTIONS) config: SerializationConfig) {
    this.encode = serialization.compile(config);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (tracingActive() && context.getType() === 'http') return this.traced(context, next);
    return next.handle().pipe(map((body: unknown) => (body === undefined || body instanceof StreamableFile ? body : this.encode(body))));
  }

  private traced(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const { span } = contextOf(context.switchToHttp().getRequest<object>());
    return next.handle().pipe(map((body: unknown) => {
      if (body === undefined || body instanceof StreamableFile) return body;
      const serialize = childSpan(span, 'serialize');
      if (serialize === undefined) return this.encode(body);
      try {
        return this.encode(body);
      } catch (e) {
        failSpan(serialize, e);
        throw e;
      } finally {
        endSpan(serialize);
      }
    }));
  }
}
