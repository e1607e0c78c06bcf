import { Metadata, ServerUnaryCall, handleUnaryCall, status as GrpcStatus } from '@grpc/grpc-js';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Span } from '@opentelemetry/api';

import { AccessLevel } from '../../common/decorators/access.decorator';
import { routingKeyOf } from '../../common/decorators/routing-key.decorator';
import { statusOf } from '../../common/errors/error-code';
import { clientThrottleKey, rateLimited, trackerOf } from '../../common/guards/client-throttler.guard';
import { MemoryGuard } from '../../common/guards/memory.guard';
import { PredictionLogFields, REQUEST_ID_HEADER, resolveRequestId } from '../../common/http/request-context';
import { RequestLog, RequestMetrics } from '../../common/observability/request-observers';
import { traceLogFields, traceparentOf, tracingActive } from '../../common/observability/trace-spans';
import { ApiKeyPolicy, presentedKeyOf } from '../../common/security/api-key-policy';
import { ClientLimit, clientLimits } from '../../common/throttling/client-limits';
import { AllConfig } from '../../config/app-config';
import { GrpcFailure, grpcFailureOf, grpcStatusName } from './grpc-status';
import { endGrpcSpan, startGrpcSpan } from './grpc-tracing';

/** What a gRPC handler knows about its call, filled in by the gate. */
export interface GrpcCallContext {
  /** `x-request-id` metadata when sane, else a UUID v4; returned in the trailing metadata. */
  requestId: string;
  /** The accepted API key's name. */
  client: string | undefined;
  /** The sticky routing key: `x-routing-key` metadata, else the API-key name. */
  routingKey: string | undefined;
  /** Set by prediction handlers for the completion line. */
  prediction?: PredictionLogFields;
  call: ServerUnaryCall<unknown, unknown>;
  /** The call's server span when tracing is on (continuing `traceparent` metadata); `traceparent` is returned in the trailing metadata. */
  span?: Span;
}

/** A method's access level (as @Public / @Admin on REST) and whether it is a prediction (rate-limited, as @PredictionRoute). */
export interface GrpcMethodPolicy {
  access: AccessLevel;
  prediction?: boolean;
}

const first = (metadata: Metadata, key: string): string | undefined => {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
};

/** The address of a peer `127.0.0.1:5000`, `[::1]:5000` or `ipv4:…`: what `req.ip` is for the same caller on REST. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[(.+)\]:\d+$/.exec(bare);
  if (v6) return v6[1];
  return bare.replace(/:\d+$/, '');
}

/**
 * What guards, interceptors and the filter do for REST, for each gRPC call (Nest's enhancers do
 * not run on a grpc-js server): the request id, API keys (the same policy as ApiKeyGuard),
 * memory shedding and per-client rate limits on predictions (the same limits and storage as
 * MemoryGuard and ClientThrottlerGuard:
 * one budget per client across REST and gRPC), AppError → gRPC status with REST's message,
 * one completion line per call, and (tracing on) the call's server span.
 */
@Injectable()
export class GrpcCallGate {
  private readonly logger = new Logger('GrpcCall');
  private readonly policy: ApiKeyPolicy;
  private readonly limits: ClientLimit[];

  constructor(
    config: ConfigService<AllConfig, true>,
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    private readonly log: RequestLog,
    private readonly metrics: RequestMetrics,
    private readonly memory: MemoryGuard,
  ) {
    const security = config.getOrThrow('security', { infer: true });
    this.policy = new ApiKeyPolicy(security.apiKeys, security.adminApiKeys);
    this.limits = clientLimits(config.getOrThrow('limits', { infer: true })).filter((l) => l.enabled);
  }

  /** A grpc-js unary handler running `handler` behind the gate; `path` is the full method (`/inference.GRPCInferenceService/ModelInfer`). */
  unary<Req, Res>(path: string, policy: GrpcMethodPolicy, handler: (request: Req, ctx: GrpcCallContext) => Promise<Res> | Res): handleUnaryCall<Req, Res> {
    const method = path.slice(path.lastIndexOf('/') + 1);
    return (call, callback) => {
      const startedAt = process.hrtime.bigint();
      const requestId = resolveRequestId(first(call.metadata, REQUEST_ID_HEADER));
      const ctx: GrpcCallContext = {
        requestId,
        client: undefined,
        routingKey: undefined,
        call: call as ServerUnaryCall<unknown, unknown>,
        span: tracingActive() ? startGrpcSpan(path, call.metadata, peerAddress(call.getPeer()), requestId) : undefined,
      };
      const trailer = new Metadata();
      trailer.set(REQUEST_ID_HEADER, ctx.requestId);
      if (ctx.span) trailer.set('traceparent', traceparentOf(ctx.span));
      const done = (code: GrpcStatus, httpStatus: number, failure?: GrpcFailure): void => this.completed(ctx, method, path, code, httpStatus, startedAt, failure);
      void this.admit(call.metadata, policy, ctx, call.getPeer())
        .then(() => handler(call.request, ctx))
        .then(
          (response) => {
            callback(null, response, trailer);
            done(GrpcStatus.OK, 200);
          },
          (error: unknown) => {
            const failure = grpcFailureOf(error);
            if (failure.unexpected) this.logger.error({ err: error, request_id: ctx.requestId, ...traceLogFields(ctx.span) }, `${method} failed unexpectedly`);
            if (failure.retryAfterSeconds !== undefined) trailer.set('retry-after', String(failure.retryAfterSeconds));
            callback({ code: failure.code, details: failure.message, metadata: trailer });
            done(failure.code, statusOf(failure.errorCode), failure);
          },
        );
    };
  }

  /** API key, then (predictions) the rate limits. Throws AppError UNAUTHORIZED, FORBIDDEN or RATE_LIMITED. */
  private async admit(metadata: Metadata, policy: GrpcMethodPolicy, ctx: GrpcCallContext, peer: string): Promise<void> {
    ctx.client = this.policy.authorize(policy.access, presentedKeyOf(first(metadata, 'authorization'), first(metadata, 'x-api-key')));
    ctx.routingKey = routingKeyOf(first(metadata, 'x-routing-key'), ctx.client);
    if (!policy.prediction) return;
    this.memory.admitPrediction();
    const tracker = trackerOf(ctx.client, peerAddress(peer));
    for (const { name, ttl, limit } of this.limits) {
      // The guard's block duration (the window) and key: the same record counts REST and gRPC hits.
      const hit = await this.storage.increment(clientThrottleKey(undefined, tracker, name), ttl, limit, ttl, name);
      if (hit.isBlocked) {
        this.metrics.rateLimit(name);
        throw rateLimited(name, limit, ttl, hit.timeToBlockExpire);
      }
    }
  }

  private completed(ctx: GrpcCallContext, method: string, path: string, code: GrpcStatus, httpStatus: number, startedAt: bigint, failure?: GrpcFailure): void {
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    if (ctx.span) endGrpcSpan(ctx.span, code, failure);
    this.metrics.observeRpc(path.slice(1, path.lastIndexOf('/')), method, grpcStatusName(code), seconds);
    this.log.completed({
      requestId: ctx.requestId,
      method,
      route: path,
      status: httpStatus,
      grpcStatus: grpcStatusName(code),
      durationMs: seconds * 1000,
      client: ctx.client ?? peerAddress(ctx.call.getPeer()),
      prediction: ctx.prediction,
      trace: traceLogFields(ctx.span),
    });
  }
}
