import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, StreamableFile } from '@nestjs/common';
import { map, Observable } from 'rxjs';

import { SERIALIZATION_OPTIONS } from './serialization-config';
// Type-only: decorated constructor parameters need `import type` under isolatedModules.
import type { SerializationConfig } from './serialization-config';
import { SerializationService } from './serialization.service';

/**
 * Passes every answer through the configured serialization preset (compiled once at boot), so
 * handlers can return typed arrays, BigInt, Maps or Dates without caring about JSON. Binary
 * answers (StreamableFile) pass untouched. A `SerializationError` goes to the exception filter,
 * which answers a generic 500.
 */
@Injectable()
export class SerializationInterceptor implements NestInterceptor {
  private readonly encode: (value: unknown) => unknown;

  constructor(serialization: SerializationService, @Inject(SERIALIZATION_OPTIONS) config: SerializationConfig) {
    this.encode = serialization.compile(config);
  }

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((body: unknown) => (body === undefined || body instanceof StreamableFile ? body : this.encode(body))));
  }
}
