import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';

import { AllConfig } from '../../config/app-config';
import { contextOf } from '../http/request-context';
import { ACCESS_LEVEL, AccessLevel } from '../decorators/access.decorator';
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

  constructor(private readonly reflector: Reflector, config: ConfigService<AllConfig, true>) {
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
    const client = this.policy.authorize(level, presentedKey(req));
    if (client) contextOf(req).client = client;
    return true;
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
