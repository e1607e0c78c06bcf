import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { mapError } from '../common/errors/error-mapper';
import { AllConfig } from '../config/app-config';
import { cacheKey } from './cache/cache-key';
import { PredictionCache } from './cache/prediction-cache';
import { Encoded, encodeNamedTensors, encodeTabular } from './features/feature-encoder';
import { BatchItemResult, BatchResult, PredictInput, PredictionResult } from './prediction.types';
import { ModelRegistryService, Route } from './registry/model-registry.service';
import { RolloutTrafficService } from './rollout/rollout-traffic.service';
import { isFiniteDeep, NON_FINITE_DETAIL, nonFiniteOutputs, overlongStrings } from './tensors/finite';
import { canStack, rowsOf, stack, unstack } from './tensors/tensor-batching';
import { NamedTensors } from './tensors/tensor';
import { Prediction, postprocess } from './wrapper/postprocess';
import { PredictionMonitor } from './wrapper/prediction-monitor';
import { withTimeout } from './wrapper/with-timeout';
import { decodeInferRequest, encodeInferResponse, V2InferResult } from './v2/v2-codec';

const NON_FINITE_ERROR = { code: ErrorCode.VALIDATION_FAILED, message: `Invalid features: ${NON_FINITE_DETAIL.field} ${NON_FINITE_DETAIL.message}` };

const elapsedMs = (start: number): number => Math.round((performance.now() - start) * 1000) / 1000;

/** A batch item is either the seed's `{ features: ... }` request or the bare features. */
const featuresOfItem = (item: unknown): unknown =>
  typeof item === 'object' && item !== null && !Array.isArray(item) && 'features' in item ? (item as { features: unknown }).features : item;

/**
 * Orchestrates a prediction (the seed's ProductionModelWrapper.predict): route → validate and
 * encode → infer with a timeout → post-process, recording each outcome in the version's stats.
 */
@Injectable()
export class PredictionService {
  private readonly timeoutMs: number;
  private readonly maxBatchItems: number;
  private readonly maxFeatures: number;
  private readonly maxStringLength: number;

  constructor(
    private readonly registry: ModelRegistryService,
    private readonly monitor: PredictionMonitor,
    private readonly cache: PredictionCache,
    private readonly traffic: RolloutTrafficService,
    config: ConfigService<AllConfig, true>,
  ) {
    this.timeoutMs = config.getOrThrow('models.timeoutMs', { infer: true });
    this.maxBatchItems = config.getOrThrow('models.maxBatchItems', { infer: true });
    this.maxFeatures = config.getOrThrow('limits.maxFeatures', { infer: true });
    this.maxStringLength = config.getOrThrow('limits.maxStringLength', { infer: true });
  }

  /**
   * One prediction: from the cache when this exact version already answered these features,
   * else inference. Throws AppError: 404 unknown model/version, 422 bad features, 503 not ready
   * or overloaded, 504 timeout.
   */
  async predict(input: PredictInput, requestId: string, routingKey?: string): Promise<PredictionResult> {
    const start = performance.now();
    const modelId = input.model_id ?? this.registry.defaultModel;
    const route = this.registry.route(modelId, input.model_version, routingKey);
    const encoded = this.encode(route, input.features);
    if (!encoded.ok) {
      const error = AppError.validation(encoded.details, 'Invalid features');
      this.monitor.failed(route, 1, elapsedMs(start), error);
      throw error;
    }
    const useCache = this.cache.enabled && input.options?.cache !== false;
    const key = useCache ? cacheKey(modelId, route.version.version, encoded.inputs) : undefined;
    const hit = key === undefined ? undefined : await this.lookup(route, key, start);
    const prediction = hit ?? postprocess(route.entry.outputKind, await this.execute(route, encoded.inputs, start, 1), route.entry.manifest?.labels)[0];
    if (hit === undefined) {
      if (key !== undefined) await this.cache.set(key, { prediction, model_version: String(route.version.version) });
      this.traffic.shadow(route, encoded.inputs, prediction);
    }
    return {
      request_id: requestId,
      model_id: modelId,
      model_version: String(route.version.version),
      prediction,
      timestamp: new Date().toISOString(),
      processing_time_ms: elapsedMs(start),
      cached: hit !== undefined,
      variant: route.variant,
    };
  }

  /** A cached prediction counts as a served (successful) prediction of that version. */
  private async lookup(route: Route, key: string, start: number): Promise<Prediction | undefined> {
    const cached = await this.cache.get(key);
    this.monitor.cacheLookup(route, cached !== undefined);
    if (cached === undefined) return undefined;
    this.monitor.succeeded(route, 1, elapsedMs(start));
    return cached.prediction as Prediction;
  }

  /**
   * Many predictions for one model: each item is validated on its own (a bad item gets an error
   * in its slot), and the valid ones run as ONE inference call when their tensors stack.
   */
  async predictBatch(items: unknown[], modelId: string | undefined, version?: number, routingKey?: string): Promise<BatchResult> {
    const start = performance.now();
    if (items.length > this.maxBatchItems) {
      throw new AppError(ErrorCode.BATCH_TOO_LARGE, `Batch of ${items.length} items exceeds the limit of ${this.maxBatchItems} (MAX_BATCH_ITEMS)`);
    }
    const id = modelId ?? this.registry.defaultModel;
    const route = this.registry.route(id, version, routingKey);
    const encoded = items.map((item) => this.encode(route, featuresOfItem(item)));
    const results: BatchItemResult[] = new Array(items.length);
    const valid: { index: number; inputs: NamedTensors }[] = [];
    encoded.forEach((e, index) => {
      if (e.ok) valid.push({ index, inputs: e.inputs });
      else {
        const error = AppError.validation(e.details, 'Invalid features');
        this.monitor.failed(route, 1, elapsedMs(start), error);
        results[index] = { index, status: 'error', error: { code: error.code, message: error.message, details: e.details } };
      }
    });
    await this.inferBatch(route, valid, results, start);
    const failed = results.filter((r) => r.status === 'error').length;
    return {
      batch_id: randomUUID(),
      model_id: id,
      model_version: String(route.version.version),
      variant: route.variant,
      results,
      batch_size: items.length,
      succeeded: items.length - failed,
      failed,
      timestamp: new Date().toISOString(),
      processing_time_ms: elapsedMs(start),
    };
  }

  /**
   * A KServe V2 inference request: the tensors are checked against the version's signature and
   * run through the same batcher, timeout and monitoring as /predict. Without a version in the
   * path the request is routed like /predict (stable or canary); the response names the version.
   */
  async infer(modelId: string, version: number | undefined, body: unknown, requestId: string, routingKey?: string, binary?: Uint8Array): Promise<V2InferResult> {
    const start = performance.now();
    const route = this.registry.route(modelId, version, routingKey);
    const decoded = decodeInferRequest(body, route.version.signature!, binary);
    // Strings of a JSON body were held to MAX_STRING_LENGTH by the input limits; binary BYTES are held here.
    const tooLong = decoded.ok ? overlongStrings(decoded.inputs, this.maxStringLength) : [];
    if (!decoded.ok || tooLong.length) {
      const error = AppError.validation(decoded.ok ? tooLong : decoded.details, 'Invalid inference request');
      this.monitor.failed(route, 1, elapsedMs(start), error);
      throw error;
    }
    const outputs = await this.execute(route, decoded.inputs, start, 1);
    if (rowsOf(decoded.inputs) === 1) this.traffic.shadow(route, decoded.inputs, postprocess(route.entry.outputKind, outputs, route.entry.manifest?.labels)[0]);
    return encodeInferResponse(modelId, route.version.version, decoded.id ?? requestId, outputs, decoded.outputs, decoded.binaryOutputs);
  }

  private encode(route: Route, features: unknown): Encoded {
    const count = typeof features === 'object' && features !== null ? Object.keys(features).length : 0;
    if (count > this.maxFeatures) {
      return { ok: false, details: [{ field: 'features', message: `has ${count} entries, more than MAX_FEATURES (${this.maxFeatures})` }] };
    }
    const inputs = route.version.signature!.inputs;
    const names = route.entry.features;
    return names ? encodeTabular(features, names, inputs[0]) : encodeNamedTensors(features, inputs);
  }

  /** Runs inference for `requests` requests and records each outcome; failures are recorded, then rethrown as AppError. */
  private async execute(route: Route, inputs: NamedTensors, start: number, requests: number, checkFinite = true): Promise<NamedTensors> {
    this.monitor.started(route, requests);
    try {
      const outputs = await withTimeout(route.version.run(inputs), this.timeoutMs);
      // NaN or Infinity out means the inputs were beyond what the model computes (e.g. 3e38 for a
      // feature): the caller's problem, named, never a 200 with null probabilities.
      if (checkFinite && nonFiniteOutputs(outputs).length) throw AppError.validation([NON_FINITE_DETAIL], 'Invalid features');
      this.monitor.succeeded(route, requests, elapsedMs(start));
      return outputs;
    } catch (e) {
      this.monitor.failed(route, requests, elapsedMs(start), e);
      if (e instanceof AppError) throw e;
      throw new AppError(ErrorCode.INFERENCE_FAILED, `Inference failed for model '${route.entry.name}' version ${route.version.version}`);
    }
  }

  private async inferBatch(route: Route, valid: { index: number; inputs: NamedTensors }[], results: BatchItemResult[], start: number): Promise<void> {
    if (valid.length === 0) return;
    const tabular = route.entry.features !== undefined;
    const groups = tabular || canStack(valid.map((v) => v.inputs)) ? [valid] : valid.map((v) => [v]);
    await Promise.all(groups.map(async (group) => {
      try {
        const outputs = await this.runStacked(route, group.map((g) => g.inputs), start, tabular);
        group.forEach((g, i) => {
          if (isFiniteDeep(outputs[i])) results[g.index] = { index: g.index, status: 'success', prediction: outputs[i] };
          else results[g.index] = { index: g.index, status: 'error', error: { ...NON_FINITE_ERROR, details: [NON_FINITE_DETAIL] } };
        });
      } catch (e) {
        const { code, message, details } = mapError(e);
        for (const g of group) results[g.index] = { index: g.index, status: 'error', error: { code, message, details } };
      }
    }));
  }

  /** One inference over stacked requests; tabular rows give one prediction each, tensor requests one per request. */
  private async runStacked(route: Route, requests: NamedTensors[], start: number, tabular: boolean): Promise<Prediction[]> {
    const batched = requests.length === 1 ? requests[0] : stack(requests);
    // Checked per item by the caller: one row out of range must not fail the others.
    const outputs = await this.execute(route, batched, start, requests.length, false);
    if (tabular) return postprocess(route.entry.outputKind, outputs, route.entry.manifest?.labels);
    return unstack(outputs, requests.map(rowsOf)).map((o) => postprocess(route.entry.outputKind, o, route.entry.manifest?.labels)[0]);
  }
}
