import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import cluster from 'node:cluster';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import { RequestMetrics } from '../common/observability/request-observers';
import { AllConfig } from '../config/app-config';

export type PredictionStatus = 'success' | 'error';
export type PredictionErrorReason = 'validation' | 'inference' | 'timeout' | 'overload';
/** What was being done when a Redis call failed (ml_redis_errors_total's `operation` label). */
export type RedisOperation = 'connect' | 'throttle' | 'cache_get' | 'cache_set' | 'cache_clear' | 'state_load' | 'state_commit' | 'subscribe' | 'ping';
export type RolloutAction = 'promote' | 'rollback' | 'canary_start' | 'canary_end' | 'canary_abort' | 'load' | 'unload' | 'load_failed';

/** One model version's state, as the registry reports it at scrape time. */
export interface ModelStateSample {
  model_id: string;
  model_version: string;
  state: string;
  active: boolean;
}

/** One counter series' increments since prom-client last collected it (see {@link TalliedCounter}). */
interface Tally {
  pending: number;
}

/**
 * A prom-client Counter whose hot series are counted in plain numbers and handed to prom-client
 * when it collects (every scrape, and every cluster aggregation: `collect()` runs before values
 * are read). prom-client hashes and validates the label values on every `inc()`, even through a
 * bound child (`labels()` only remembers them); at one to four increments per request that was
 * about 1% of the main thread. Scraped values are the same as with direct `inc()` calls.
 */
class TalliedCounter<L extends string> {
  readonly counter: Counter<L>;
  private readonly tallies = new Map<string, { labels: Partial<Record<L, string>>; tally: Tally }>();

  constructor(registry: Registry, name: string, help: string, readonly labelNames: L[]) {
    const tallies = this.tallies;
    this.counter = new Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        for (const { labels, tally } of tallies.values()) {
          if (tally.pending === 0) continue;
          this.inc(labels, tally.pending);
          tally.pending = 0;
        }
      },
    });
  }

  /** The tally of one series (label values in `labelNames` order), made once; add to its `pending`. The series is exposed from its first collected increment on, as with inc(). */
  series(...values: string[]): Tally {
    const key = values.join('\u0000');
    let entry = this.tallies.get(key);
    if (!entry) {
      const labels: Partial<Record<L, string>> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]));
      entry = { labels, tally: { pending: 0 } };
      this.tallies.set(key, entry);
    }
    return entry.tally;
  }
}

/** One model version's bound series (see MetricsService.versionChildren). */
interface VersionChildren {
  succeeded: Tally;
  failed: Tally;
  latency: Histogram.Internal<string>;
  batchSize: Histogram.Internal<string>;
  queueWait: Histogram.Internal<string>;
  /** ml_queue_depth's value, read by the gauge when collected; a version the batcher never reported on has no series. */
  queueDepth: { depth: number; reported: boolean };
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The only place that touches prom-client. Each app instance owns its registry (no global
 * state), so several apps in one process (tests) never collide. Labels are bounded: model ids,
 * versions, route templates, reasons — never request ids, users or raw paths.
 */
@Injectable()
export class MetricsService implements RequestMetrics {
  readonly registry = new Registry();
  readonly enabled: boolean;
  /** /metrics is answered on the main port too (METRICS_PORT equals PORT). */
  readonly onMainPort: boolean;
  private modelStates: () => ModelStateSample[] = () => [];
  private readonly perVersion = new Map<string, VersionChildren>();
  private readonly httpChildren = new Map<string, { requests: Tally; duration: Histogram.Internal<string> }>();

  private readonly predictions = new TalliedCounter(this.registry, 'ml_prediction_requests_total', 'Predictions by outcome', ['model_id', 'model_version', 'status']);
  private readonly predictionLatency = new Histogram({
    name: 'ml_prediction_latency_seconds', help: 'Prediction latency, every outcome (validation to answer)',
    labelNames: ['model_id', 'model_version'], buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  private readonly predictionErrors = this.counter('ml_prediction_errors_total', 'Failed predictions by reason', ['model_id', 'model_version', 'reason']);
  private readonly httpRequests = new TalliedCounter(this.registry, 'http_requests_total', 'HTTP requests by route template', ['method', 'route', 'status_code']);
  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds', help: 'HTTP request duration to response headers',
    labelNames: ['method', 'route'], buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  private readonly rpcHandled = this.counter('grpc_server_handled_total', 'gRPC calls by method and status code', ['grpc_service', 'grpc_method', 'grpc_code']);
  private readonly rpcSeconds = new Histogram({
    name: 'grpc_server_handling_seconds', help: 'gRPC call duration, every status', labelNames: ['grpc_service', 'grpc_method'],
    buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'ml_batch_size', help: 'Requests merged into one inference call', labelNames: ['model_id', 'model_version'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [this.registry],
  });
  private readonly queueWait = new Histogram({
    name: 'ml_queue_wait_seconds', help: 'Time a request waited for its batch', labelNames: ['model_id', 'model_version'],
    buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  private readonly queueDepth = this.depthGauge();
  private readonly cacheHits = new TalliedCounter(this.registry, 'ml_cache_hits_total', 'Prediction cache hits', ['model_id']);
  private readonly cacheMisses = new TalliedCounter(this.registry, 'ml_cache_misses_total', 'Prediction cache misses', ['model_id']);
  private readonly memoryShedding = new Counter({ name: 'ml_memory_shed_requests_total', help: 'Predictions refused while RSS was above MAX_MEMORY_MB', registers: [this.registry] });
  private readonly admissionRefusals = new Counter({
    name: 'ml_admission_refused_requests_total', help: 'Requests refused before their body was read: bodies in flight would pass MAX_INFLIGHT_MB',
    registers: [this.registry],
  });
  private inflightBodyBytes: () => number = () => 0;
  private readonly rateLimited = this.counter('ml_rate_limited_requests_total', 'Requests refused by a rate limit', ['limit']);
  private readonly routed = new TalliedCounter(this.registry, 'ml_routed_requests_total', 'Requests by routed variant', ['model_id', 'model_version', 'variant']);
  private readonly shadowAgreement = this.counter('ml_shadow_agreement_total', 'Shadow answers agreeing with stable', ['model_id', 'agree']);
  private readonly rolloutEvents = this.counter('ml_rollout_events_total', 'Registry lifecycle and rollout events', ['model_id', 'action']);
  private readonly adminActions = this.counter('ml_admin_actions_total', 'Admin actions by outcome (ok, refused, failed): the audit trail', ['action', 'outcome']);
  private readonly redisErrors = this.counter('ml_redis_errors_total', 'Failed Redis calls (REDIS_URL) by operation; each was answered by a local fallback', ['operation']);

  constructor(config: ConfigService<AllConfig, true>) {
    this.enabled = config.getOrThrow('metrics.enabled', { infer: true });
    this.onMainPort = this.enabled && config.getOrThrow('metrics.port', { infer: true }) === config.getOrThrow('app.port', { infer: true });
    // ENABLE_METRICS=false collects nothing: no process metrics, and every method below returns at once.
    if (!this.enabled) return;
    collectDefaultMetrics({ register: this.registry });
    // A node:cluster worker (WORKERS > 1) answers the primary's AggregatorRegistry with this registry.
    // (prom-client adds the worker's answering listener only when an AggregatorRegistry is built.)
    if (cluster.isWorker) {
      void new AggregatorRegistry();
      AggregatorRegistry.setRegistries([this.registry]);
    }
    const states = this.modelStatesNow.bind(this);
    const inflight = (): number => this.inflightBodyBytes();
    new Gauge({
      name: 'ml_inflight_body_bytes', help: 'Bytes of request bodies admitted and not answered yet (what MAX_INFLIGHT_MB caps)', registers: [this.registry],
      collect() { this.set(inflight()); },
    });
    new Gauge({
      name: 'ml_active_models', help: 'Models whose active version is READY', registers: [this.registry],
      collect() { this.set(states().filter((s) => s.active && s.state === 'READY').length); },
    });
    new Gauge({
      name: 'ml_model_info', help: 'Each model version (value 1) with its state', labelNames: ['model_id', 'model_version', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of states()) this.set({ model_id: s.model_id, model_version: s.model_version, state: s.state }, 1);
      },
    });
  }

  /** The registry calls this once so model gauges are read at scrape time. */
  setModelStateSource(source: () => ModelStateSample[]): void {
    this.modelStates = source;
  }

  observePrediction(modelId: string, version: number, status: PredictionStatus, seconds: number): void {
    if (!this.enabled) return;
    const children = this.versionChildren(modelId, version);
    (status === 'success' ? children.succeeded : children.failed).pending += 1;
    children.latency.observe(seconds);
  }

  predictionError(modelId: string, version: number, reason: PredictionErrorReason): void {
    if (!this.enabled) return;
    this.predictionErrors.inc({ model_id: modelId, model_version: String(version), reason });
  }

  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    if (!this.enabled) return;
    const key = `${method} ${route} ${statusCode}`;
    let children = this.httpChildren.get(key);
    if (!children) {
      children = { requests: this.httpRequests.series(method, route, String(statusCode)), duration: this.httpDuration.labels(method, route) };
      this.httpChildren.set(key, children);
    }
    children.requests.pending += 1;
    children.duration.observe(seconds);
  }

  observeRpc(service: string, method: string, code: string, seconds: number): void {
    if (!this.enabled) return;
    this.rpcHandled.inc({ grpc_service: service, grpc_method: method, grpc_code: code });
    this.rpcSeconds.observe({ grpc_service: service, grpc_method: method }, seconds);
  }

  observeBatch(modelId: string, version: number, requests: number): void {
    if (!this.enabled) return;
    this.versionChildren(modelId, version).batchSize.observe(requests);
  }

  observeQueueWait(modelId: string, version: number, seconds: number): void {
    if (!this.enabled) return;
    this.versionChildren(modelId, version).queueWait.observe(seconds);
  }

  setQueueDepth(modelId: string, version: number, depth: number): void {
    if (!this.enabled) return;
    const { queueDepth } = this.versionChildren(modelId, version);
    queueDepth.depth = depth;
    queueDepth.reported = true;
  }

  cacheLookup(modelId: string, hit: boolean): void {
    if (!this.enabled) return;
    (hit ? this.cacheHits : this.cacheMisses).series(modelId).pending += 1;
  }

  /**
   * The per-version series, bound once: prom-client validates and hashes a label object on every
   * call (about 3% of CPU under load), a child does neither. Model ids and versions are bounded.
   */
  private versionChildren(modelId: string, version: number): VersionChildren {
    const key = `${modelId}\u0000${version}`;
    let children = this.perVersion.get(key);
    if (!children) {
      const v = String(version);
      children = {
        succeeded: this.predictions.series(modelId, v, 'success'),
        failed: this.predictions.series(modelId, v, 'error'),
        latency: this.predictionLatency.labels(modelId, v),
        batchSize: this.batchSize.labels(modelId, v),
        queueWait: this.queueWait.labels(modelId, v),
        queueDepth: { depth: 0, reported: false },
      };
      this.perVersion.set(key, children);
    }
    return children;
  }

  rateLimit(limit: string): void {
    if (!this.enabled) return;
    this.rateLimited.inc({ limit });
  }

  /** A prediction refused because RSS is above MAX_MEMORY_MB. */
  memoryShed(): void {
    if (!this.enabled) return;
    this.memoryShedding.inc();
  }

  admissionRefused(): void {
    if (!this.enabled) return;
    this.admissionRefusals.inc();
  }

  watchInflightBodies(bytes: () => number): void {
    this.inflightBodyBytes = bytes;
  }

  routedRequest(modelId: string, version: number, variant: string): void {
    if (!this.enabled) return;
    this.routed.series(modelId, String(version), variant).pending += 1;
  }

  shadowCompared(modelId: string, agree: boolean): void {
    if (!this.enabled) return;
    this.shadowAgreement.inc({ model_id: modelId, agree: String(agree) });
  }

  rolloutEvent(modelId: string, action: RolloutAction): void {
    if (!this.enabled) return;
    this.rolloutEvents.inc({ model_id: modelId, action });
  }

  adminAction(action: string, outcome: 'ok' | 'refused' | 'failed'): void {
    if (!this.enabled) return;
    this.adminActions.inc({ action, outcome });
  }

  /** A Redis call that failed or timed out (connection attempts count as `connect`). */
  redisError(operation: RedisOperation): void {
    if (!this.enabled) return;
    this.redisErrors.inc({ operation });
  }

  /** Prometheus text exposition of everything above plus default process metrics. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private modelStatesNow(): ModelStateSample[] {
    return this.modelStates();
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** ml_queue_depth, set from each version's last reported depth when collected (the batcher reports it on every enqueue and settle). */
  private depthGauge(): Gauge<'model_id' | 'model_version'> {
    const perVersion = this.perVersion;
    return new Gauge({
      name: 'ml_queue_depth', help: 'Requests queued or in flight per model version', labelNames: ['model_id', 'model_version'], registers: [this.registry],
      collect() {
        for (const [key, children] of perVersion) {
          if (!children.queueDepth.reported) continue;
          const at = key.lastIndexOf('\u0000');
          this.set({ model_id: key.slice(0, at), model_version: key.slice(at + 1) }, children.queueDepth.depth);
        }
      },
    });
  }
}
