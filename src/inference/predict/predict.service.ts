import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Span } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { mapError } from '../../common/errors/error-mapper';
import { AllConfig } from '../../config/app-config';
import { DataPlane } from '../../models/data-plane.service';
import { Route } from '../../models/registry/model-registry.service';
import { stack } from '../../models/tensors/tensor-batching';
import {
  batchResponse, EncodedItem, encodeFeatures, errorSlot, featuresOfItem, groupPredictions, invalidFeatures, itemResult,
  predictionOf, predictResponse, stackGroups,
} from './predict.codec';
import { BatchItemResult, BatchResult, PredictInput, PredictionResult } from './predict.types';

/**
 * The seed-compatible `/predict` and `/predict/batch` transport: decode features with the
 * predict codec, run them on the data plane, encode the answer. Routing, cache, batching,
 * timeout and monitoring all happen once, in the {@link DataPlane}.
 */
@Injectable()
export class PredictService {
  private readonly maxBatchItems: number;
  private readonly maxFeatures: number;

  constructor(private readonly plane: DataPlane, config: ConfigService<AllConfig, true>) {
    this.maxBatchItems = config.getOrThrow('models.maxBatchItems', { infer: true });
    this.maxFeatures = config.getOrThrow('limits.maxFeatures', { infer: true });
  }

  /**
   * One prediction: from the cache when this exact version already answered these features,
   * else inference. Throws AppError: 404 unknown model/version, 422 bad features (counted in the
   * version's stats), 503 not ready or overloaded, 504 timeout. `parentSpan`: the request's
   * server span when traced (see {@link InferenceRequest.parentSpan}).
   */
  async predict(input: PredictInput, requestId: string, routingKey?: string, parentSpan?: Span): Promise<PredictionResult> {
    const startedAt = performance.now();
    const route = this.plane.route(input.model_id, input.model_version, routingKey);
    const encoded = encodeFeatures(route, input.features, this.maxFeatures);
    if (!encoded.ok) throw this.plane.rejected(route, invalidFeatures(encoded), startedAt, requestId, parentSpan);
    const result = await this.plane.infer({ route, inputs: encoded.inputs, cache: input.options?.cache, startedAt, requestId, parentSpan });
    return predictResponse(result, predictionOf(route, result.outputs), requestId, startedAt);
  }

  /**
   * Many predictions for one model: each item is validated on its own (a bad item gets an error
   * in its slot), and the valid ones run as ONE inference call when their tensors stack.
   * Throws AppError: 400 more than MAX_BATCH_ITEMS items, 404 unknown model/version, 503 not ready.
   */
  async predictBatch(items: unknown[], modelId: string | undefined, version?: number, routingKey?: string, requestId?: string, parentSpan?: Span): Promise<BatchResult> {
    const startedAt = performance.now();
    if (items.length > this.maxBatchItems) {
      throw new AppError(ErrorCode.BATCH_TOO_LARGE, `Batch of ${items.length} items exceeds the limit of ${this.maxBatchItems} (MAX_BATCH_ITEMS)`);
    }
    const route = this.plane.route(modelId, version, routingKey);
    const results: BatchItemResult[] = new Array(items.length);
    const valid: EncodedItem[] = [];
    items.forEach((item, index) => {
      const encoded = encodeFeatures(route, featuresOfItem(item), this.maxFeatures);
      if (encoded.ok) valid.push({ index, inputs: encoded.inputs });
      else results[index] = errorSlot(index, this.plane.rejected(route, invalidFeatures(encoded), startedAt, requestId, parentSpan));
    });
    await Promise.all(stackGroups(route, valid).map((group) => this.inferGroup(route, group, results, startedAt, requestId, parentSpan)));
    return batchResponse(route, results, startedAt);
  }

  /** One inference call for the stacked `group`; its outcome fills each item's slot in `results`. */
  private async inferGroup(route: Route, group: EncodedItem[], results: BatchItemResult[], startedAt: number, requestId?: string, parentSpan?: Span): Promise<void> {
    try {
      const inputs = group.length === 1 ? group[0].inputs : stack(group.map((g) => g.inputs));
      // Non-finite answers are checked per item below: one row out of range must not fail the others.
      const { outputs } = await this.plane.infer({ route, inputs, stackedRequests: group.length, startedAt, requestId, parentSpan });
      const predictions = groupPredictions(route, outputs, group);
      group.forEach((g, i) => (results[g.index] = itemResult(g.index, predictions[i])));
    } catch (e) {
      const mapped = mapError(e);
      for (const g of group) results[g.index] = errorSlot(g.index, mapped);
    }
  }
}
