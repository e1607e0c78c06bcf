import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface';

/** TRUST_PROXY → the adapters' trust-proxy setting: empty = off (X-Forwarded-For ignored), true/false, a hop count, or addresses/subnets. */
export function trustProxySetting(value: string): boolean | number | string {
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** CORS only for the listed origins; `*` is allowed but never together with credentials. */
export function corsOptions(origins: string[]): CorsOptions {
  const any = origins.includes('*');
  // The methods stated: @fastify/cors would allow only GET, HEAD and POST (Express's cors allows all six).
  return { origin: any ? '*' : origins, credentials: !any, methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'], exposedHeaders: ['X-Request-Id', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'] };
}

/**
 * helmet's defaults (the same middleware on both adapters), without upgrade-insecure-requests:
 * internal callers reach the service over plain HTTP by service name, and Swagger UI's scripts
 * would be "upgraded" to an https that is not there.
 */
export const helmetOptions = () => ({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
