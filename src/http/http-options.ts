import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as zlibConstants } from 'node:zlib';

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

/** The response headers helmet's middleware sets (in order) and removes: its options make them the same for every request. */
export interface HelmetHeaders {
  set: [name: string, value: string | number | readonly string[]][];
  removed: string[];
}

/**
 * Runs helmet's middleware (built from {@link helmetOptions}) once against a recording response
 * and answers what it set and removed. Helmet's headers depend on its options only (no nonces are
 * configured), so a Fastify hook can add them to the reply's own headers in one pass, instead of
 * 12 `setHeader` calls on Node's response that `writeHead` then merges with the reply's headers
 * header by header (Node's slow path when both are given). Whether helmet's headers add to what
 * each scavenge promotes is unsettled: ~2 KB per request under a loaded machine, within noise on
 * a quiet one (README, "Where the p99 goes").
 * @throws Error if helmet's middleware does not finish synchronously or reports an error.
 */
export function recordHelmetHeaders(): HelmetHeaders {
  const out: HelmetHeaders = { set: [], removed: [] };
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => void out.set.push([name, value]),
    removeHeader: (name: string) => void out.removed.push(name),
    getHeader: () => undefined,
  };
  let finished = false;
  helmet(helmetOptions())({ headers: {} } as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    finished = true;
  });
  if (!finished) throw new Error('helmet did not finish synchronously: its headers cannot be recorded once');
  return out;
}

/**
 * Response compression, the same on both adapters (@fastify/compress, compression): only when
 * the client's Accept-Encoding asks (tritonclient asks for gzip or deflate), only bodies of at
 * least 1 KiB (a prediction answer stays as it is), JSON and the V2 binary tensor data
 * (application/octet-stream) alike. Fast levels: on 9 MB of float JSON, gzip level 6 took 2.8x the
 * CPU of level 1 for 5 % less, brotli quality 4 (the libraries' default) 4.7x.
 */
export const COMPRESSION = {
  thresholdBytes: 1024,
  zlib: { level: zlibConstants.Z_BEST_SPEED },
  brotli: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } },
} as const;
