import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Observable, tap } from 'rxjs';

import { ADMIN_ACTION } from '../../common/decorators/access.decorator';
import { mapError } from '../../common/errors/error-mapper';
import { contextOf } from '../../common/http/request-context';
import { traceLogFields } from '../../common/observability/trace-spans';
import { AuditTrail } from './audit-trail.service';

type Params = Record<string, string | undefined>;

/**
 * Records every allowed call of an `@AdminAction` route (refusals are recorded by the API-key
 * guard): who, what, the model and version, the model's state before and after, the request id and
 * the outcome — `failed` with the error's status and code when the action (or its body's
 * validation) answered an error. Other routes pass through untouched.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector, private readonly trail: AuditTrail) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const action = context.getType() === 'http' ? this.reflector.get<string | undefined>(ADMIN_ACTION, context.getHandler()) : undefined;
    if (!action) return next.handle();
    const req = context.switchToHttp().getRequest<{ params?: Params }>();
    const params = req.params ?? {};
    const model = params.id ?? params.name ?? null;
    const version = params.v ?? null;
    const ctx = contextOf(req);
    const before = this.trail.stateOf(model);
    const record = (outcome: 'ok' | 'failed', status: number, code?: string) => this.trail.record({
      action, actor: ctx.client ?? null, model, version, outcome, status, error_code: code, before, after: this.trail.stateOf(model), request_id: ctx.id, ...traceLogFields(ctx.span),
    });
    return next.handle().pipe(tap({
      next: () => record('ok', 200),
      error: (e: unknown) => {
        const { status, code } = mapError(e);
        record('failed', status, code);
      },
    }));
  }
}
