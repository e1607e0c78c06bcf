import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, StreamableFile } from '@nestjs/common';
import { Observable, map } from 'rxjs';

import { SERIALIZATION_OPTIONS } from './serialization-config';
// Type-only: decorated constructor parameters need `import type` under isolatedModules.
import type { SerializationConfig } from './serialization-config';
import { SerializationService } from './serialization.service';

/**
 * Maps every HTTP controller response through `SerializationService.serialize` so handlers
 * can return typed arrays, BigInt, Maps or Dates without caring about JSON.
 *
 * Non-HTTP contexts (gRPC, WebSocket) pass through untouched: their transports encode bytes
 * and numbers natively and base64-encoding a Buffer would corrupt a protobuf `bytes` field.
 * `StreamableFile` and `undefined` (empty 2xx body) also pass through.
 * A `SerializationError` propagates to the global exception filter.
 */
@Injectable()
export class SerializationInterceptor implements NestInterceptor {
  constructor(
    private readonly serialization: SerializationService,
    @Inject(SERIALIZATION_OPTIONS) private readonly config: SerializationConfig,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    return next.handle().pipe(
      map((body: unknown) => {
        if (body === undefined || body instanceof StreamableFile) return body;
        return this.serialization.serialize(body, this.config);
      }),
    );
  }
}
