import { CanActivate, ExecutionContext, Injectable, OnModuleDestroy } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';

import { AllConfig } from '../../config/app-config';
import { AppError } from '../errors/app-error';
import { PREDICTION_ROUTE } from '../decorators/prediction-route.decorator';
import { ErrorCode } from '../errors/error-code';
import { RequestMetrics } from '../observability/request-observers';

/**
 * Load shedding on memory: while the process RSS is above MAX_MEMORY_MB, new predictions ({@link PredictionRoute}) get 503
 * with Retry-After (readiness fails too, see the health module) until it falls back under.
 */
@Injectable()
export class MemoryGuard implements CanActivate, OnModuleDestroy {
  private readonly maxBytes: number;
  private rss = process.memoryUsage.rss();
  // Reading RSS costs a /proc read (~4% of CPU when done per request); a 250 ms sample is plenty.
  private readonly sampler = setInterval(() => { this.rss = process.memoryUsage.rss(); }, 250).unref();

  constructor(config: ConfigService<AllConfig, true>, private readonly metrics: RequestMetrics, private readonly reflector: Reflector) {
    this.maxBytes = config.getOrThrow('limits.maxMemoryMb', { infer: true }) * 1024 * 1024;
  }

  onModuleDestroy(): void {
    clearInterval(this.sampler);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.rss < this.maxBytes) return true;
    if (this.reflector.getAllAndOverride<boolean>(PREDICTION_ROUTE, [context.getHandler(), context.getClass()]) !== true) return true;
    return this.shed();
  }

  /** For transports Nest's guards do not run on (gRPC): throws the 503 OVERLOADED while RSS is above MAX_MEMORY_MB. */
  admitPrediction(): void {
    if (this.rss >= this.maxBytes) this.shed();
  }

  private shed(): never {
    this.metrics.memoryShed();
    throw new AppError(ErrorCode.OVERLOADED, `Server memory (${Math.round(this.rss / 1048576)} MB RSS) is above MAX_MEMORY_MB; retry later`, [], 5);
  }
}
