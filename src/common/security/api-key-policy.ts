import { AccessLevel } from '../decorators/access.decorator';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';
import { ApiKeyEntry, matchApiKey, parseApiKeys } from './api-keys';

/**
 * Who may call what, for every transport (the HTTP guard, the gRPC handlers): with API_KEYS
 * empty, client calls are open; admin calls always need an admin key, and are refused naming
 * ADMIN_API_KEYS when none is configured. An admin key works everywhere.
 */
export class ApiKeyPolicy {
  private readonly clients: ApiKeyEntry[];
  private readonly admins: ApiKeyEntry[];

  /** `apiKeys` / `adminApiKeys`: API_KEYS and ADMIN_API_KEYS as configured. Throws on a bad list (see parseApiKeys). */
  constructor(apiKeys: string, adminApiKeys: string) {
    this.clients = parseApiKeys(apiKeys, 'client');
    this.admins = parseApiKeys(adminApiKeys, 'admin');
  }

  /** True when API_KEYS is empty: client calls need no key. */
  get open(): boolean {
    return this.clients.length === 0;
  }

  /**
   * The name of the accepted key for a call at `level` presenting `key` (undefined: an open
   * client call without a recognised key). Throws AppError UNAUTHORIZED (no or a wrong key) or
   * FORBIDDEN (admin calls disabled, or a client key on an admin call).
   */
  authorize(level: AccessLevel, key: string | undefined): string | undefined {
    if (level === 'public') return undefined;
    const admin = key === undefined ? undefined : matchApiKey(key, this.admins);
    if (level === 'admin') {
      if (this.admins.length === 0) throw new AppError(ErrorCode.FORBIDDEN, 'Admin routes are disabled: set ADMIN_API_KEYS to enable them');
      if (!admin && key !== undefined && matchApiKey(key, this.clients)) {
        throw new AppError(ErrorCode.FORBIDDEN, 'This route needs an admin key (ADMIN_API_KEYS); a client key is not enough');
      }
      if (!admin) throw new AppError(ErrorCode.UNAUTHORIZED, key === undefined ? 'An admin API key is required' : 'Invalid admin API key');
      return admin;
    }
    const client = admin ?? (key === undefined ? undefined : matchApiKey(key, this.clients));
    if (this.open || client) return client;
    throw new AppError(ErrorCode.UNAUTHORIZED, key === undefined ? 'An API key is required (Authorization: Bearer <key> or X-API-Key)' : 'Invalid API key');
  }
}

/** Query parameters that carry a key: a key in a URL ends up in access logs, proxies and browser history. */
const KEY_IN_QUERY = /[?&](?:api[_-]?key|x-api-key|access[_-]?token|token|key)=/i;

/**
 * Refuses a request whose URL carries something named like an API key (400, saying where keys
 * go). The URL itself is never logged with its query string.
 */
export function refuseKeyInUrl(url: string | undefined): void {
  if (url !== undefined && url.includes('?') && KEY_IN_QUERY.test(url)) {
    throw new AppError(ErrorCode.BAD_REQUEST, 'API keys are accepted in headers only (Authorization: Bearer <key> or X-API-Key), never in the URL');
  }
}

/** The key from `authorization: Bearer <key>` or `x-api-key: <key>` (HTTP headers or gRPC metadata, lower-cased names). */
export function presentedKeyOf(authorization: unknown, apiKey: unknown): string | undefined {
  if (typeof authorization === 'string' && /^Bearer\s+\S+$/i.test(authorization)) return authorization.replace(/^Bearer\s+/i, '');
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey : undefined;
}
