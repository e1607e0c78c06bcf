import { Injectable, Logger, Optional } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Span } from '@opentelemetry/api';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { traceLogFields } from '../../common/observability/trace-spans';
import { AllConfig } from '../../config/app-config';
import { MetricsService, PredictionErrorReason } from '../../metrics/metrics.service';
import { Route } from '../registry/model-registry.service';
import { RolloutTrafficService } from '../rollout/rollout-traffic.service';
import { MonotonicStatsClock, StatsClock } from './stats-clock';

/** The metrics reason of a failed prediction. */
export function reasonOf(error: unknown): PredictionErrorReason {
  if (!(error instanceof AppError)) return 'inference';
  switch (error.code) {
    case ErrorCode.VALIDATION_FAILED: return 'validation';
    case ErrorCode.INFERENCE_TIMEOUT: return 'timeout';
    case ErrorCode.OVERLOADED: return 'overload';
    default: return 'inference';
  }
}

/**
 * The monitoring half of the seed's ProductionModelWrapper: every prediction outcome goes to the
 * version's windowed stats, the rollout's per-variant stats, the Prometheus counters and the structlog-style events
 * (`prediction_started` and `prediction_completed` debug — the request's completion line already
 * says it at info — and `prediction_failed` warn), each with the request id it was given and,
 * when the request is traced, the trace_id/span_id of its `predict` span (`span`). The data
 * plane's half of Triton's statistics extension is recorded here too, on the version's
 * InferenceStats, timed by the {@link StatsClock} (the batcher records the other half).
 */
@Injectable()
export class PredictionMonitor {
  private readonly logger = new Logger('Prediction');
  private readonly clock: StatsClock;
  /** LOG_LEVEL is debug or trace: the debug events are built only then (two objects per request otherwise thrown away). */
  private readonly debugEvents: boolean;

  /** `clock`: the statistics extension's clock (default: the monotonic clock). */
  constructor(
    private readonly metrics: MetricsService,
    private readonly traffic: RolloutTrafficService,
    config: ConfigService<AllConfig, true>,
    @Optional() clock?: StatsClock,
  ) {
    this.clock = clock ?? new MonotonicStatsClock();
    this.debugEvents = ['debug', 'trace'].includes(config.getOrThrow('app.logLevel', { infer: true }));
  }

  /** A reading of the statistics clock: when a request entered the data plane, for the calls below. */
  statsStart(): number {
    return this.clock.nowNs();
  }

  /** Statistics: a request of `rows` rows (its batch size) was answered by inference, `startNs` to now. */
  inferred(route: Route, rows: number, startNs: number): void {
    route.version.inferenceStats.succeeded(rows, this.clock.nowNs() - startNs, this.clock.epochMs());
  }

  /** Statistics: a request that reached inference failed, `startNs` to now. */
  inferenceFailed(route: Route, startNs: number): void {
    route.version.inferenceStats.failed(this.clock.nowNs() - startNs, this.clock.epochMs());
  }

  /** Statistics: a miss's answer went into the cache, `startNs` to now. */
  cacheStored(route: Route, startNs: number): void {
    route.version.inferenceStats.cacheInserted(this.clock.nowNs() - startNs);
  }

  started(route: Route, requests: number, requestId?: string, span?: Span): void {
    if (!this.debugEvents) return;
    this.logger.debug({ event: 'prediction_started', request_id: requestId, ...traceLogFields(span), model_id: route.entry.name, model_version: String(route.version.version), requests });
  }

  /**
   * A cache lookup begun at `startNs` (the key's hashing included) ended now; a hit is also the
   * request's answer, counted as a success from the cache in the statistics.
   */
  cacheLookup(route: Route, hit: boolean, startNs: number): void {
    this.metrics.cacheLookup(route.entry.name, hit);
    const ns = this.clock.nowNs() - startNs;
    const stats = route.version.inferenceStats;
    stats.cacheLookedUp(hit, ns);
    if (hit) stats.answeredFromCache(ns, this.clock.epochMs());
  }

  /** `requests` predictions of one call succeeded after `ms` milliseconds. */
  succeeded(route: Route, requests: number, ms: number, requestId?: string, span?: Span): void {
    const { name } = route.entry;
    const { version } = route.version;
    for (let i = 0; i < requests; i += 1) {
      route.version.stats.record(true, ms);
      this.metrics.observePrediction(name, version, 'success', ms / 1000);
      this.traffic.observe(route, true, ms);
    }
    if (this.debugEvents) this.logger.debug({ event: 'prediction_completed', request_id: requestId, ...traceLogFields(span), model_id: name, model_version: String(version), requests, duration_ms: ms, success: true });
  }

  /** `requests` predictions of one call failed with `error` after `ms` milliseconds. */
  failed(route: Route, requests: number, ms: number, error: unknown, requestId?: string, span?: Span): void {
    const { name } = route.entry;
    const { version } = route.version;
    const reason = reasonOf(error);
    // A caller's bad input says nothing about the version: it must neither mark the version
    // degraded in /health nor abort a healthy canary. It is still counted in the metrics (reason).
    const ours = reason !== 'validation';
    for (let i = 0; i < requests; i += 1) {
      if (ours) route.version.stats.record(false, ms);
      this.metrics.observePrediction(name, version, 'error', ms / 1000);
      this.metrics.predictionError(name, version, reason);
      if (ours) this.traffic.observe(route, false, ms);
    }
    const message = error instanceof Error ? error.message : String(error);
    this.logger.warn({ event: 'prediction_failed', request_id: requestId, ...traceLogFields(span), model_id: name, model_version: String(version), requests, reason, error: message, duration_ms: ms, success: false });
  }
}
