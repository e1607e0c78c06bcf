import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DEFAULT_IPV6_SUBNET_PREFIX, InjectThrottlerOptions, InjectThrottlerStorage, normalizeIp, ThrottlerGuard } from '@nestjs/throttler';
import type { ThrottlerModuleOptions, ThrottlerOptions, ThrottlerRequest, ThrottlerStorage } from '@nestjs/throttler';

import { AppError } from '../errors/app-error';
import { CounterThrottlerStorage, ThrottlerStorageRecord } from '../throttling/counter-throttler.storage';
import { PREDICTION_ROUTE } from '../decorators/prediction-route.decorator';
import { ErrorCode } from '../errors/error-code';
import { HttpReply } from '../http/http-reply';
import { contextOf } from '../http/request-context';
import { RequestMetrics } from '../observability/request-observers';

/** Route-level throttler metadata (@Throttle, @SkipThrottle and friends), suffixed by the throttler's name. */
const ROUTE_OVERRIDES = ['THROTTLER:SKIP', 'THROTTLER:LIMIT', 'THROTTLER:TTL', 'THROTTLER:BLOCK_DURATION', 'THROTTLER:TRACKER', 'THROTTLER:KEY_GENERATOR'];

type ThrottleStep = Omit<ThrottlerRequest, 'context'> & { skipIf?: ThrottlerOptions['skipIf'] };

/**
 * What a handler needs, resolved once: null = not a prediction route; 'library' = route-level
 * overrides the base class resolves per request; else the limits, and whether they can be counted
 * synchronously (in-process storage and the default tracker: no Promise per request).
 */
type ThrottlePlan = null | 'library' | { steps: ThrottleStep[]; synchronous: boolean };

type ThrottledReply = HttpReply & { getHeader(name: string): unknown };

/** The env variable behind each named throttler, for messages. */
const LIMIT_VARIABLES: Record<string, string> = { minute: 'REQUESTS_PER_MINUTE', hour: 'REQUESTS_PER_HOUR' };

/** Rate-limit key: per client and limit, shared by every prediction route (not per route). */
export const clientThrottleKey = (_context: unknown, tracker: string, throttlerName: string): string =>
  `${throttlerName}:${tracker}`;

/** The client a limit applies to: the accepted API key's name, else the IP (X-Forwarded-For only under TRUST_PROXY). */
export const clientTracker = (req: Record<string, unknown>): Promise<string> => Promise.resolve(clientTrackerNow(req));

/** {@link clientTracker}'s answer without the Promise. */
export const clientTrackerNow = (req: Record<string, unknown>): string => trackerOf(contextOf(req).client, req.ip as string | undefined);

/**
 * The tracker of a caller on any transport (HTTP, gRPC): `key:<name>` for an accepted API key,
 * else `ip:<address>`, an IPv6 address grouped by its /64 as the library does (a client rotating
 * addresses inside its own prefix is one client, and cannot grow the storage record by record).
 */
export const trackerOf = (client: string | undefined, ip: string | undefined): string =>
  client ? `key:${client}` : `ip:${ip ? normalizeIp(ip, DEFAULT_IPV6_SUBNET_PREFIX) : 'unknown'}`;

/** The 429 / RESOURCE_EXHAUSTED error for the named limit (`limit` hits per `ttl` ms), retry after `retryAfterSeconds`. */
export function rateLimited(name: string, limit: number, ttl: number, retryAfterSeconds: number): AppError {
  const per = name === 'hour' ? 'hour' : name === 'minute' ? 'minute' : `${ttl / 1000} s`;
  return new AppError(ErrorCode.RATE_LIMITED, `Rate limit exceeded: ${limit} requests per ${per} (${LIMIT_VARIABLES[name] ?? name})`, [], retryAfterSeconds);
}

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
    private readonly metrics: RequestMetrics,
  ) {
    super(options, storage, reflector);
  }

  private readonly plans = new WeakMap<object, ThrottlePlan>();

  /**
   * Only {@link PredictionRoute}s are throttled. The library resolves every throttler's limit,
   * ttl, block duration, tracker and key generator from route metadata on every request (a dozen
   * reflector lookups); here that is done once per handler, and the base class does it only for
   * handlers with route-level throttler metadata.
   */
  // `any`: the base class declares a Promise; Nest's guard consumers take a boolean as well (await the result, never call `.then` on it).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override canActivate(context: ExecutionContext): any {
    if (context.getType() !== 'http') return true;
    const plan = this.planOf(context);
    if (plan === 'library') return super.canActivate(context);
    if (plan === null) return true;
    const { req, res } = this.getRequestResponse(context) as { req: Record<string, unknown>; res: ThrottledReply };
    if (!plan.synchronous) return this.countAsync(context, plan.steps, req, res);
    const tracker = clientTrackerNow(req);
    const storage = this.storageService as CounterThrottlerStorage;
    for (const step of plan.steps) {
      if (step.skipIf?.(context)) continue;
      const name = step.throttler.name ?? 'default';
      const key = step.generateKey(context, tracker, name);
      this.answer(step, name, storage.incrementNow(key, step.ttl, step.limit, step.blockDuration, name), res);
    }
    return true;
  }

  /** The limits through the storage's Promise API (Redis, or a tracker of the library's kind). */
  private async countAsync(context: ExecutionContext, steps: ThrottleStep[], req: Record<string, unknown>, res: ThrottledReply): Promise<boolean> {
    // One tracker per request for the limits that share a tracker function (the default: all).
    let trackedBy: ThrottlerRequest['getTracker'] | undefined;
    let tracker = '';
    for (const step of steps) {
      if (step.skipIf?.(context)) continue;
      if (step.getTracker !== trackedBy) {
        tracker = await step.getTracker(req, context);
        trackedBy = step.getTracker;
      }
      await this.hit(context, step, tracker, res);
    }
    return true;
  }

  /** For handlers the base class handles ('library' plans): only prediction routes. */
  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    return Promise.resolve(this.reflector.getAllAndOverride<boolean>(PREDICTION_ROUTE, [context.getHandler(), context.getClass()]) !== true);
  }

  private planOf(context: ExecutionContext): ThrottlePlan {
    const handler = context.getHandler();
    let plan = this.plans.get(handler);
    if (plan === undefined) {
      plan = this.buildPlan(context);
      this.plans.set(handler, plan);
    }
    return plan;
  }

  private buildPlan(context: ExecutionContext): ThrottlePlan {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PREDICTION_ROUTE, targets) !== true) return null;
    const steps: ThrottleStep[] = [];
    for (const throttler of this.throttlers) {
      const { limit, ttl, blockDuration } = throttler;
      const overridden = ROUTE_OVERRIDES.some((k) => this.reflector.getAllAndOverride(`${k}${throttler.name}`, targets) !== undefined);
      if (overridden || typeof limit !== 'number' || typeof ttl !== 'number' || (blockDuration !== undefined && typeof blockDuration !== 'number')) return 'library';
      steps.push({
        throttler, limit, ttl, blockDuration: blockDuration ?? ttl,
        skipIf: throttler.skipIf ?? this.commonOptions.skipIf,
        getTracker: throttler.getTracker ?? this.commonOptions.getTracker!,
        generateKey: throttler.generateKey ?? this.commonOptions.generateKey!,
      });
    }
    // The in-process storage as it is (a subclass overriding increment() keeps its own path).
    const storage = this.storageService;
    const inProcess = storage instanceof CounterThrottlerStorage && storage.increment === CounterThrottlerStorage.prototype.increment;
    const synchronous = inProcess && steps.every((step) => step.getTracker === clientTracker);
    return { steps, synchronous };
  }

  /** The library's entry, for 'library' plans (route-level overrides). */
  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { req, res } = this.getRequestResponse(props.context) as { req: Record<string, unknown>; res: ThrottledReply };
    return this.hit(props.context, props, await props.getTracker(req, props.context), res);
  }

  /** Counts one hit of `tracker` against one limit; sets the X-RateLimit headers, or throws the 429. */
  private async hit(context: ExecutionContext, step: Omit<ThrottlerRequest, 'context'>, tracker: string, res: ThrottledReply): Promise<boolean> {
    const { limit, ttl, throttler, blockDuration, generateKey } = step;
    const name = throttler.name ?? 'default';
    const key = generateKey(context, tracker, name);
    return this.answer(step, name, await this.storageService.increment(key, ttl, limit, blockDuration, name), res);
  }

  /** Sets the X-RateLimit headers for the tightest limit so far, or throws the 429 of a blocked one. */
  private answer(step: Omit<ThrottlerRequest, 'context'>, name: string, record: ThrottlerStorageRecord, res: ThrottledReply): boolean {
    const { limit, ttl } = step;
    const { totalHits, timeToExpire, isBlocked, timeToBlockExpire } = record;
    const remaining = Math.max(0, limit - totalHits);
    const current = Number(res.getHeader('X-RateLimit-Remaining') ?? Infinity);
    if (isBlocked || remaining < current) {
      res.header('X-RateLimit-Limit', String(limit));
      res.header('X-RateLimit-Remaining', String(remaining));
      res.header('X-RateLimit-Reset', String(isBlocked ? timeToBlockExpire : timeToExpire));
    }
    if (!isBlocked) return true;
    this.metrics.rateLimit(name);
    throw rateLimited(name, limit, ttl, timeToBlockExpire);
  }
}
