import { randomUUID } from 'node:crypto';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { InferenceResult } from '../../models/data-plane.service';
import { Route } from '../../models/registry/model-registry.service';
import { isFiniteDeep, NON_FINITE_DETAIL } from '../../models/tensors/finite';
import { NamedTensors } from '../../models/tensors/tensor';
import { canStack, rowsOf, unstack } from '../../models/tensors/tensor-batching';
import { elapsedMs } from '../../models/wrapper/elapsed';
import { Prediction, postprocess } from '../../models/wrapper/postprocess';
import { Encoded, encodeNamedTensors, encodeRows, encodeTabular, soleMatrixInput } from './feature-encoder';
import { BatchItemResult, BatchResult, PredictionResult } from './predict.types';

/**
 * The seed-compatible `/predict` codec: request features → the routed version's input tensors,
 * and output tensors → the response JSON. What a prediction means (classifier, regressor, raw
 * outputs; labels) is the model's, in src/models/wrapper/postprocess; the JSON around it is here.
 */

const NON_FINITE_ERROR = { code: ErrorCode.VALIDATION_FAILED, message: `Invalid features: ${NON_FINITE_DETAIL.field} ${NON_FINITE_DETAIL.message}` };

/** A /predict/batch item that was encoded, with its place in the batch. */
export interface EncodedItem {
  index: number;
  inputs: NamedTensors;
}

/**
 * `processing_time_ms`: milliseconds since the request started, as the seed reports it. Kept in
 * the codec until a latency interceptor owns it; `startedAt` is a `performance.now()` reading.
 */
export const processingTimeMs = (startedAt: number): number => elapsedMs(startedAt);

/** A batch item is either the seed's `{ features: ... }` request or the bare features. */
export const featuresOfItem = (item: unknown): unknown =>
  typeof item === 'object' && item !== null && !Array.isArray(item) && 'features' in item ? (item as { features: unknown }).features : item;

/**
 * Features → the version's input tensors: by the model's `features` list (an object by name or
 * an array in declared order → one row); else, for a model whose one input is 2-D, an array as a
 * row (or nested rows); else as named nested tensors. At most `maxFeatures` entries
 * (MAX_FEATURES); every problem is named.
 */
export function encodeFeatures(route: Route, features: unknown, maxFeatures: number): Encoded {
  const count = typeof features === 'object' && features !== null ? Object.keys(features).length : 0;
  if (count > maxFeatures) {
    return { ok: false, details: [{ field: 'features', message: `has ${count} entries, more than MAX_FEATURES (${maxFeatures})` }] };
  }
  const inputs = route.version.signature!.inputs;
  const names = route.entry.features;
  if (names) return encodeTabular(features, names, inputs[0]);
  const matrix = Array.isArray(features) ? soleMatrixInput(inputs) : undefined;
  return matrix ? encodeRows(features as unknown[], matrix) : encodeNamedTensors(features, inputs);
}

/** The 422 of features that do not encode. */
export const invalidFeatures = (encoded: Extract<Encoded, { ok: false }>): AppError => AppError.validation(encoded.details, 'Invalid features');

/** One request's prediction: tabular models answer one row; raw tensor models their outputs by name. */
export function predictionOf(route: Route, outputs: NamedTensors): Prediction {
  return postprocess(route.entry.outputKind, outputs, route.entry.manifest?.labels)[0];
}

/** The `/predict` response. */
export function predictResponse(result: InferenceResult, prediction: Prediction, requestId: string, startedAt: number): PredictionResult {
  return {
    request_id: requestId,
    model_id: result.modelId,
    model_version: String(result.version),
    prediction,
    // A Date: the SerializationInterceptor writes it per SERIALIZATION_PRESET (ISO string, or unix seconds).
    timestamp: new Date(),
    processing_time_ms: processingTimeMs(startedAt),
    cached: result.cached,
    variant: result.variant,
  };
}

/**
 * The inference calls of a batch: all items in one when they stack (tabular rows always do),
 * else one call per item.
 */
export function stackGroups(route: Route, items: EncodedItem[]): EncodedItem[][] {
  if (items.length === 0) return [];
  const stackable = route.entry.features !== undefined || canStack(items.map((i) => i.inputs));
  return stackable ? [items] : items.map((i) => [i]);
}

/** The stacked outputs of `group` split back per item: tabular rows give one prediction each, tensor requests one per request. */
export function groupPredictions(route: Route, outputs: NamedTensors, group: EncodedItem[]): Prediction[] {
  const { outputKind } = route.entry;
  const labels = route.entry.manifest?.labels;
  if (route.entry.features !== undefined) return postprocess(outputKind, outputs, labels);
  return unstack(outputs, group.map((g) => rowsOf(g.inputs))).map((o) => postprocess(outputKind, o, labels)[0]);
}

/** An item's slot: its prediction, or a 422 when the model's answer for it is not finite. */
export function itemResult(index: number, prediction: Prediction): BatchItemResult {
  if (isFiniteDeep(prediction)) return { index, status: 'success', prediction };
  return { index, status: 'error', error: { ...NON_FINITE_ERROR, details: [NON_FINITE_DETAIL] } };
}

/** An item's slot for an error (`mapError`'s code, message and details, or a validation AppError's). */
export function errorSlot(index: number, error: Pick<AppError, 'code' | 'message' | 'details'>): BatchItemResult {
  return { index, status: 'error', error: { code: error.code, message: error.message, details: error.details } };
}

/** The `/predict/batch` response. */
export function batchResponse(route: Route, results: BatchItemResult[], startedAt: number): BatchResult {
  const failed = results.filter((r) => r.status === 'error').length;
  return {
    batch_id: randomUUID(),
    model_id: route.entry.name,
    model_version: String(route.version.version),
    variant: route.variant,
    results,
    batch_size: results.length,
    succeeded: results.length - failed,
    failed,
    // A Date: the SerializationInterceptor writes it per SERIALIZATION_PRESET (ISO string, or unix seconds).
    timestamp: new Date(),
    processing_time_ms: processingTimeMs(startedAt),
  };
}
