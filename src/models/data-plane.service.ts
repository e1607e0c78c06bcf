import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Span } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';

import { AppError } from '../common/errors/app-error';
import { childSpan, endSpan, failSpan } from '../common/observability/trace-spans';
import { AllConfig } from '../config/app-config';
import { cacheKey } from './cache/cache-key';
import { CacheGeneration, CacheRead, PredictionCache } from './cache/prediction-cache';
import { ModelRegistryService, Route, Variant } from './registry/model-registry.service';
import { outputProblems } from './registry/signature-check';
import { RolloutTrafficService } from './rollout/rollout-traffic.service';
import { inferenceFailure, RuntimeInputError } from './runtimes/runtime-errors';
import { NON_FINITE_DETAIL, nonFiniteOutputs } from './tensors/finite';
import { NamedTensors, tensorBytes } from './tensors/tensor';
import { elapsedMs } from './wrapper/elapsed';
import { PredictionMonitor } from './wrapper/prediction-monitor';
import { withTimeout } from './wrapper/with-timeout';

/** One decoded inference request: named tensors for a model, free of any transport. */
export interface InferenceRequest {
  /** Model id; undefined = the registry's default model (MODEL_ID). */
  model?: string;
  /** Pins a version; undefined = routed (the active version, or the canary for its share). */
  version?: number;
  /** Sticky canary routing key (e.g. a user id). */
  routingKey?: string;
  /**
   * The route {@link DataPlane.route} chose, when the codec needed its signature to encode the
   * inputs: the request then runs on the version it was encoded for (`model`, `version` and
   * `routingKey` are not looked at). Without it the plane routes.
   */
  route?: Route;
  /** The model's inputs by name, checked against the version's signature by the codec. */
  inputs: NamedTensors;
  /** false bypasses the prediction cache for this request (default: cached when ENABLE_CACHING). */
  cache?: boolean;
  /**
   * Set when `inputs` are this many client requests stacked on dim 0 (/predict/batch): each is
   * counted in the stats and metrics; the cache and the shadow are skipped; non-finite outputs
   * are not refused here, since one row out of range must not fail the others — the caller
   * reports them per request.
   */
  stackedRequests?: number;
  /**
   * When the request arrived (a `performance.now()` reading), so the recorded latency includes
   * decoding; default: when {@link DataPlane.infer} is called.
   */
  startedAt?: number;
  /** The request id (X-Request-Id, gRPC metadata), for the prediction events' log lines. */
  requestId?: string;
  /** Aborts when the caller gives up (a gRPC deadline): a request still queued for its batch is dropped unrun (504 / DEADLINE_EXCEEDED). */
  signal?: AbortSignal;
  /**
   * The transport's server span (HTTP or gRPC), when tracing is on: the request's `predict` span
   * (and under it `cache.lookup`, `batch.wait`, `inference`) is recorded as its child, and the
   * prediction events carry its trace id. Undefined = untraced, at no cost.
   */
  parentSpan?: Span;
}

/** The answer: which version served it and its output tensors. */
export interface InferenceResult {
  modelId: string;
  version: number;
  variant: Variant;
  /** Every output of the model by name. May be the cache's shared value: read it, never change it. */
  outputs: NamedTensors;
  /** True only when these outputs came from the cache. */
  cached: boolean;
}

/**
 * The one transport-agnostic data plane (MLServer's `handlers/dataplane.py`): route (stable,
 * canary or pinned) → cache → dynamic batcher and runtime, under TIMEOUT_SECONDS → non-finite
 * check → monitoring (version stats, rollout stats, metrics, events) → shadow. `/predict`, V2
 * REST and any other transport are codecs around it that translate to and from named tensors.
 */
@Injectable()
export class DataPlane {
  private readonly timeoutMs: number;
  /** CACHE_MAX_INPUT_KB in bytes (0 = no bound): larger inputs bypass the cache. */
  private readonly cacheMaxInputBytes: number;

  constructor(
    private readonly registry: ModelRegistryService,
    private readonly monitor: PredictionMonitor,
    private readonly cache: PredictionCache,
    private readonly traffic: RolloutTrafficService,
    config: ConfigService<AllConfig, true>,
  ) {
    this.timeoutMs = config.getOrThrow('models.timeoutMs', { infer: true });
    this.cacheMaxInputBytes = config.getOrThrow('cache.maxInputBytes', { infer: true });
  }

  /**
   * Where a request goes, for codecs that need the version's signature to decode it (pass the
   * route on as {@link InferenceRequest.route}). `model` undefined = the default model.
   * Throws AppError: 404 unknown model or version, 503 not ready.
   */
  route(model: string | undefined, version?: number, routingKey?: string): Route {
    return this.registry.route(model ?? this.registry.defaultModel, version, routingKey);
  }

  /**
   * Records a request the codec refused before inference (e.g. invalid features) as a failed
   * prediction of the routed version, `startedAt` (a `performance.now()` reading) to now, with a
   * failed `predict` span under `parentSpan` when traced. Returns `error`, for `throw plane.rejected(...)`.
   */
  rejected(route: Route, error: AppError, startedAt: number, requestId?: string, parentSpan?: Span): AppError {
    const span = parentSpan && predictSpan(parentSpan, route, startedAt, 1);
    this.monitor.failed(route, 1, elapsedMs(startedAt), error, requestId, span ?? parentSpan);
    if (span) {
      failSpan(span, error);
      endSpan(span);
    }
    return error;
  }

  /**
   * Runs one request: from the cache when this exact version already answered these exact
   * tensors, else through the version's batcher and runtime. Throws AppError: 404 unknown model
   * or version, 503 not ready or overloaded, 504 timeout, 422 non-finite outputs (the inputs are
   * beyond what the model computes) or inputs the runtime refused (a shape the model cannot take,
   * with the runtime's public message), 500 INFERENCE_FAILED (a runtime's public message, else
   * nothing: the cause is logged).
   * Traced (`parentSpan`): one `predict` span for the call, failed with the error code when it throws.
   */
  async infer(request: InferenceRequest): Promise<InferenceResult> {
    const startedAt = request.startedAt ?? performance.now();
    const route = request.route ?? this.route(request.model, request.version, request.routingKey);
    if (request.parentSpan === undefined) return this.serve(route, request, startedAt, undefined);
    const span = predictSpan(request.parentSpan, route, startedAt, request.stackedRequests ?? 1);
    // Not sampled: no spans, but the events still carry the (unsampled) trace id of the caller.
    if (span === undefined) return this.serve(route, request, startedAt, request.parentSpan);
    try {
      const result = await this.serve(route, request, startedAt, span);
      span.setAttribute('prediction.cached', result.cached);
      return result;
    } catch (e) {
      failSpan(span, e);
      throw e;
    } finally {
      endSpan(span);
    }
  }

  /**
   * {@link infer} once routed; `span` is the request's `predict` span (or an unsampled caller's
   * span, for the log lines). A stacked /predict/batch group is one request of that many rows in
   * the statistics extension, as a batched V2 request is.
   */
  private async serve(route: Route, request: InferenceRequest, startedAt: number, span: Span | undefined): Promise<InferenceResult> {
    const statsStart = this.monitor.statsStart();
    const single = request.stackedRequests === undefined;
    const useCache = single && request.cache !== false && this.cache.enabled && this.cacheable(request.inputs);
    const key = useCache ? cacheKey(route.entry.name, route.version.version, request.inputs) : undefined;
    const read = key === undefined ? undefined : await this.lookup(route, key, startedAt, statsStart, request.requestId, span);
    if (read?.value) return resultOf(route, read.value.outputs, true);
    const outputs = await this.execute(route, request, startedAt, statsStart, single, span);
    if (single) {
      // At the generation of the lookup: a reload (a clear) meanwhile means this may be the old model's answer.
      if (key !== undefined) await this.store(route, key, outputs, read?.generation);
      this.traffic.shadow(route, request.inputs, outputs, span);
    }
    this.monitor.inferred(route, route.version.batchSizeOf(request.inputs), statsStart);
    return resultOf(route, outputs, false);
  }

  /** Inputs within CACHE_MAX_INPUT_KB (0: any size). */
  private cacheable(inputs: NamedTensors): boolean {
    return this.cacheMaxInputBytes === 0 || tensorBytes(inputs) <= this.cacheMaxInputBytes;
  }

  private async store(route: Route, key: string, outputs: NamedTensors, readAt: CacheGeneration | undefined): Promise<void> {
    const startNs = this.monitor.statsStart();
    await this.cache.set(key, { outputs, model_version: String(route.version.version) }, readAt);
    this.monitor.cacheStored(route, startNs);
  }

  /** A cached answer counts as a served (successful) prediction of that version; `statsStart`: the lookup's start (hashing the key included). */
  private async lookup(route: Route, key: string, startedAt: number, statsStart: number, requestId: string | undefined, span: Span | undefined): Promise<CacheRead> {
    const lookup = span && childSpan(span, 'cache.lookup');
    const read = await this.cache.read(key);
    const hit = read.value !== undefined;
    this.monitor.cacheLookup(route, hit, statsStart);
    if (lookup) {
      lookup.setAttribute('cache.hit', hit);
      endSpan(lookup);
    }
    if (hit) this.monitor.succeeded(route, 1, elapsedMs(startedAt), requestId, span);
    return read;
  }

  /** Runs inference for `requests` requests and records each outcome; failures are recorded, then rethrown as AppError. */
  private async execute(route: Route, request: InferenceRequest, startedAt: number, statsStart: number, checkFinite: boolean, span: Span | undefined): Promise<NamedTensors> {
    const { requestId } = request;
    const requests = request.stackedRequests ?? 1;
    this.monitor.started(route, requests, requestId, span);
    try {
      const outputs = await withTimeout(route.version.run(request.inputs, request.signal, span), this.timeoutMs);
      const broken = route.version.signature ? outputProblems(outputs, route.version.signature) : [];
      if (broken.length) throw new Error(`the runtime's outputs do not match the model's signature: ${broken.join('; ')}`);
      // NaN or Infinity out means the inputs were beyond what the model computes (e.g. 3e38 for a
      // feature): the caller's problem, named, never a 200 with null probabilities.
      if (checkFinite && nonFiniteOutputs(outputs).length) throw AppError.validation([NON_FINITE_DETAIL], 'Invalid features');
      this.monitor.succeeded(route, requests, elapsedMs(startedAt), requestId, span);
      return outputs;
    } catch (e) {
      const failure = inferenceFailure(e, route.entry.name, route.version.version);
      // Inputs the runtime refused are the caller's fault (counted as validation); other causes are logged as they came.
      this.monitor.failed(route, requests, elapsedMs(startedAt), e instanceof RuntimeInputError ? failure : e, requestId, span);
      this.monitor.inferenceFailed(route, statsStart);
      throw failure;
    }
  }
}

/**
 * The `predict` span of one data-plane call under `parent`, from `startedAt` (when the transport
 * took the request): model.id, model.version, model.variant, and prediction.requests (above 1 for
 * a stacked /predict/batch group). Undefined when `parent` is not sampled.
 */
function predictSpan(parent: Span, route: Route, startedAt: number, requests: number): Span | undefined {
  return childSpan(parent, 'predict', {
    startTime: startedAt,
    attributes: { 'model.id': route.entry.name, 'model.version': String(route.version.version), 'model.variant': route.variant, 'prediction.requests': requests },
  });
}

function resultOf(route: Route, outputs: NamedTensors, cached: boolean): InferenceResult {
  return { modelId: route.entry.name, version: route.version.version, variant: route.variant, outputs, cached };
}
