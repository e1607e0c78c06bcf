import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { mapError } from '../common/errors/error-mapper';
import { AllConfig } from '../config/app-config';
import { DataPlane } from './data-plane.service';
import { Encoded, encodeNamedTensors, encodeTabular } from './features/feature-encoder';
import { BatchItemResult, BatchResult, PredictInput, PredictionResult } from './prediction.types';
import { Route } from './registry/model-registry.service';
import { isFiniteDeep, NON_FINITE_DETAIL, overlongStrings } from './tensors/finite';
import { canStack, rowsOf, stack, unstack } from './tensors/tensor-batching';
import { NamedTensors } from './tensors/tensor';
import { elapsedMs } from './wrapper/elapsed';
import { Prediction, postprocess } from './wrapper/postprocess';
import { decodeInferRequest, encodeInferResponse, V2InferResult } from './v2/v2-codec';

const NON_FINITE_ERROR = { code: ErrorCode.VALIDATION_FAILED, message: `Invalid features: ${NON_FINITE_DETAIL.field} ${NON_FINITE_DETAIL.message}` };

/** A batch item is either the seed's `{ features: ... }` request or the bare features. */
const featuresOfItem = (item: unknown): unknown =>
  typeof item === 'object' && item !== null && !Array.isArray(item) && 'features' in item ? (item as { features: unknown }).features : item;

/**
 * Orchestrates a prediction (the seed's ProductionModelWrapper.predict): route → validate and
 * encode → infer with a timeout → post-process, recording each outcome in the version's stats.
 */
@Injectable()
export class PredictionService {
  private readonly maxBatchItems: number;
  private readonly maxFeatures: number;
  private readonly maxStringLength: number;

  constructor(
    private readonly plane: DataPlane,
    config: ConfigService<AllConfig, true>,
  ) {
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
    const route = this.plane.route(input.model_id, input.model_version, routingKey);
    const encoded = this.encode(route, input.features);
    if (!encoded.ok) throw this.plane.rejected(route, AppError.validation(encoded.details, 'Invalid features'), start);
    const result = await this.plane.infer({ route, inputs: encoded.inputs, cache: input.options?.cache, startedAt: start });
    return {
      request_id: requestId,
      model_id: result.modelId,
      model_version: String(result.version),
      prediction: postprocess(route.entry.outputKind, result.outputs, route.entry.manifest?.labels)[0],
      timestamp: new Date().toISOString(),
      processing_time_ms: elapsedMs(start),
      cached: result.cached,
      variant: result.variant,
    };
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
    const route = this.plane.route(modelId, version, routingKey);
    const encoded = items.map((item) => this.encode(route, featuresOfItem(item)));
    const results: BatchItemResult[] = new Array(items.length);
    const valid: { index: number; inputs: NamedTensors }[] = [];
    encoded.forEach((e, index) => {
      if (e.ok) valid.push({ index, inputs: e.inputs });
      else {
        const error = this.plane.rejected(route, AppError.validation(e.details, 'Invalid features'), start);
        results[index] = { index, status: 'error', error: { code: error.code, message: error.message, details: e.details } };
      }
    });
    await this.inferBatch(route, valid, results, start);
    const failed = results.filter((r) => r.status === 'error').length;
    return {
      batch_id: randomUUID(),
      model_id: route.entry.name,
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
    const route = this.plane.route(modelId, version, routingKey);
    const decoded = decodeInferRequest(body, route.version.signature!, binary);
    // Strings of a JSON body were held to MAX_STRING_LENGTH by the input limits; binary BYTES are held here.
    const tooLong = decoded.ok ? overlongStrings(decoded.inputs, this.maxStringLength) : [];
    if (!decoded.ok || tooLong.length) {
      throw this.plane.rejected(route, AppError.validation(decoded.ok ? tooLong : decoded.details, 'Invalid inference request'), start);
    }
    const result = await this.plane.infer({ route, inputs: decoded.inputs, startedAt: start });
    return encodeInferResponse(modelId, result.version, decoded.id ?? requestId, result.outputs, decoded.outputs, decoded.binaryOutputs);
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
    const { outputs } = await this.plane.infer({ route, inputs: batched, stackedRequests: requests.length, startedAt: start });
    if (tabular) return postprocess(route.entry.outputKind, outputs, route.entry.manifest?.labels);
    return unstack(outputs, requests.map(rowsOf)).map((o) => postprocess(route.entry.outputKind, o, route.entry.manifest?.labels)[0]);
  }
}
