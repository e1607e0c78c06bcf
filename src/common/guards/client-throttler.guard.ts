import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerOptions, InjectThrottlerStorage, ThrottlerGuard } from '@nestjs/throttler';
import type { ThrottlerModuleOptions, ThrottlerRequest, ThrottlerStorage } from '@nestjs/throttler';
import type { Request, Response } from 'express';

import { CLIENT_NAME } from '../../logging/request-log';
import { MetricsService } from '../../metrics/metrics.service';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';

/** The env variable behind each named throttler, for messages. */
const LIMIT_VARIABLES: Record<string, string> = { minute: 'REQUESTS_PER_MINUTE', hour: 'REQUESTS_PER_HOUR' };

/** Rate-limit key: per client and limit, shared by every prediction route (not per route). */
export const clientThrottleKey = (_context: ExecutionContext, tracker: string, throttlerName: string): string =>
  `${throttlerName}:${tracker}`;

/** The client a limit applies to: the accepted API key's name, else the IP (X-Forwarded-For only under TRUST_PROXY). */
export const clientTracker = (req: Record<string, unknown>): Promise<string> => {
  const r = req as unknown as Request & { [CLIENT_NAME]?: string };
  return Promise.resolve(r[CLIENT_NAME] ? `key:${r[CLIENT_NAME]}` : `ip:${r.ip ?? r.socket?.remoteAddress ?? 'unknown'}`);
};

/**
 * @nestjs/throttler with the seed's two limits (`minute`, `hour`), both enforced per client
 * across all prediction routes. Sets `X-RateLimit-Limit/Remaining/Reset` for the tightest limit,
 * and answers 429 with `Retry-After` naming the limit that was hit.
 */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly metrics: MetricsService,
  ) {
    super(options, storage, reflector);
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = props;
    const { req, res } = this.getRequestResponse(context) as { req: Record<string, unknown>; res: Response };
    const name = throttler.name ?? 'default';
    const key = generateKey(context, await getTracker(req, context), name);
    const { totalHits, timeToExpire, isBlocked, timeToBlockExpire } = await this.storageService.increment(key, ttl, limit, blockDuration, name);
    const remaining = Math.max(0, limit - totalHits);
    const current = Number(res.getHeader('X-RateLimit-Remaining') ?? Infinity);
    if (isBlocked || remaining < current) {
      res.setHeader('X-RateLimit-Limit', limit);
      res.setHeader('X-RateLimit-Remaining', remaining);
      res.setHeader('X-RateLimit-Reset', isBlocked ? timeToBlockExpire : timeToExpire);
    }
    if (!isBlocked) return true;
    this.metrics.rateLimit(name);
    const per = name === 'hour' ? 'hour' : name === 'minute' ? 'minute' : `${ttl / 1000} s`;
    throw new AppError(ErrorCode.RATE_LIMITED, `Rate limit exceeded: ${limit} requests per ${per} (${LIMIT_VARIABLES[name] ?? name})`, [], timeToBlockExpire);
  }
}
