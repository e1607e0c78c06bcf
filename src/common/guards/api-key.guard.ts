import { CanActivate, ExecutionContext, Injectable, Logger, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';

import { AllConfig } from '../../config/app-config';
import { contextOf } from '../http/request-context';
import { ACCESS_LEVEL, ADMIN_ACTION, AccessLevel } from '../decorators/access.decorator';
import { mapError } from '../errors/error-mapper';
import { AdminAudit } from '../observability/admin-audit';
import { traceLogFields } from '../observability/trace-spans';
import { ApiKeyPolicy, presentedKeyOf, refuseKeyInUrl } from '../security/api-key-policy';

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(req: { headers: Record<string, string | string[] | undefined> }): string | undefined {
  return presentedKeyOf(req.headers.authorization, req.headers['x-api-key']);
}

/**
 * Global access control. Routes are `client` (prediction and read routes) unless marked @Public
 * or @Admin. With API_KEYS empty, client routes are open; admin routes always need an admin key
 * and answer 403 naming ADMIN_API_KEYS when none is configured. An admin key works everywhere.
 * The accepted key's name becomes the request's client name (logs, rate limits).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly levels = new WeakMap<object, AccessLevel>();
  private readonly policy: ApiKeyPolicy;

  constructor(private readonly reflector: Reflector, config: ConfigService<AllConfig, true>, @Optional() private readonly audit?: AdminAudit) {
    const security = config.getOrThrow('security', { infer: true });
    this.policy = new ApiKeyPolicy(security.apiKeys, security.adminApiKeys);
    if (this.policy.open) new Logger('Security').warn('API_KEYS is empty: prediction routes are open to any caller');
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined>; url?: string }>();
    refuseKeyInUrl(req.url);
    const level = this.levelOf(context);
    if (level === 'public') return true;
    let client: string | undefined;
    try {
      client = this.policy.authorize(level, presentedKey(req));
    } catch (e) {
      if (level === 'admin') this.auditRefusal(context, req, e);
      throw e;
    }
    if (client) contextOf(req).client = client;
    return true;
  }

  /** A refused admin call is one audit event too (who tried what), before its 401/403 goes out. */
  private auditRefusal(context: ExecutionContext, req: object, error: unknown): void {
    const action = this.reflector.get<string | undefined>(ADMIN_ACTION, context.getHandler());
    if (!this.audit || !action) return;
    const params = (req as { params?: Record<string, string | undefined> }).params ?? {};
    const { status, code } = mapError(error);
    this.audit.record({
      action, actor: null, model: params.id ?? params.name ?? null, version: params.v ?? null,
      outcome: 'refused', status, error_code: code, request_id: contextOf(req).id, ...traceLogFields(contextOf(req).span),
    });
  }

  /** The route's access level, read from its metadata once per handler. */
  private levelOf(context: ExecutionContext): AccessLevel {
    const handler = context.getHandler();
    let level = this.levels.get(handler);
    if (level === undefined) {
      level = this.reflector.getAllAndOverride<AccessLevel>(ACCESS_LEVEL, [handler, context.getClass()]) ?? 'client';
      this.levels.set(handler, level);
    }
    return level;
  }
}
