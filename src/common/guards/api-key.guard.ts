import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';

import { AllConfig } from '../../config/app-config';
import { contextOf } from '../http/request-context';
import { ACCESS_LEVEL, AccessLevel } from '../decorators/access.decorator';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';
import { ApiKeyEntry, matchApiKey, parseApiKeys } from '../security/api-keys';

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(req: { headers: Record<string, string | string[] | undefined> }): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+\S+$/i.test(auth)) return auth.replace(/^Bearer\s+/i, '');
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header : undefined;
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
  private readonly clients: ApiKeyEntry[];
  private readonly admins: ApiKeyEntry[];

  constructor(private readonly reflector: Reflector, config: ConfigService<AllConfig, true>) {
    const security = config.getOrThrow('security', { infer: true });
    this.clients = parseApiKeys(security.apiKeys, 'client');
    this.admins = parseApiKeys(security.adminApiKeys, 'admin');
    if (this.clients.length === 0) new Logger('Security').warn('API_KEYS is empty: prediction routes are open to any caller');
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const level = this.levelOf(context);
    if (level === 'public') return true;
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    const ctx = contextOf(req);
    const key = presentedKey(req);
    const admin = key === undefined ? undefined : matchApiKey(key, this.admins);
    if (level === 'admin') {
      if (this.admins.length === 0) throw new AppError(ErrorCode.FORBIDDEN, 'Admin routes are disabled: set ADMIN_API_KEYS to enable them');
      if (!admin && key !== undefined && matchApiKey(key, this.clients)) {
        throw new AppError(ErrorCode.FORBIDDEN, 'This route needs an admin key (ADMIN_API_KEYS); a client key is not enough');
      }
      if (!admin) throw new AppError(ErrorCode.UNAUTHORIZED, key === undefined ? 'An admin API key is required' : 'Invalid admin API key');
      ctx.client = admin;
      return true;
    }
    const client = admin ?? (key === undefined ? undefined : matchApiKey(key, this.clients));
    if (client) ctx.client = client;
    if (this.clients.length === 0 || client) return true;
    throw new AppError(ErrorCode.UNAUTHORIZED, key === undefined ? 'An API key is required (Authorization: Bearer <key> or X-API-Key)' : 'Invalid API key');
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
