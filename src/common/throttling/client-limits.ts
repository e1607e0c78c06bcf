/** One per-client rate limit (the seed's REQUESTS_PER_MINUTE and REQUESTS_PER_HOUR). */
export interface ClientLimit {
  name: 'minute' | 'hour';
  /** Window, ms. */
  ttl: number;
  /** Requests allowed per window (at least 1: the throttler needs a positive limit). */
  limit: number;
  /** false when the variable is 0 (the limit is off). */
  enabled: boolean;
}

/**
 * The per-client limits every transport enforces (the HTTP throttler guard, the gRPC handlers),
 * against one shared storage, so a client has one budget whichever transport it uses.
 */
export function clientLimits({ requestsPerMinute, requestsPerHour }: { requestsPerMinute: number; requestsPerHour: number }): ClientLimit[] {
  return [
    { name: 'minute', ttl: 60_000, limit: Math.max(1, requestsPerMinute), enabled: requestsPerMinute > 0 },
    { name: 'hour', ttl: 3_600_000, limit: Math.max(1, requestsPerHour), enabled: requestsPerHour > 0 },
  ];
}
