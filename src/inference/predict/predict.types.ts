import { ErrorDetail } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { Variant } from '../../models/registry/model-registry.service';
import { Prediction } from '../../models/wrapper/postprocess';

export interface PredictOptions {
  /** false bypasses the prediction cache for this request. */
  cache?: boolean;
}

/** A single prediction request, as the controllers hand it over. */
export interface PredictInput {
  features: unknown;
  model_id?: string;
  model_version?: number;
  options?: PredictOptions;
}

export interface PredictionResult {
  request_id: string;
  model_id: string;
  model_version: string;
  prediction: Prediction;
  /** Written per SERIALIZATION_PRESET: ISO 8601 (`api`) or unix seconds (`performance`). */
  timestamp: Date;
  processing_time_ms: number;
  cached: boolean;
  variant: Variant;
}

export type BatchItemResult =
  | { index: number; status: 'success'; prediction: Prediction }
  | { index: number; status: 'error'; error: { code: ErrorCode; message: string; details: ErrorDetail[] } };

export interface BatchResult {
  batch_id: string;
  model_id: string;
  model_version: string;
  variant: Variant;
  results: BatchItemResult[];
  batch_size: number;
  succeeded: number;
  failed: number;
  /** Written per SERIALIZATION_PRESET: ISO 8601 (`api`) or unix seconds (`performance`). */
  timestamp: Date;
  processing_time_ms: number;
}
