import { ApiResponseOptions } from '@nestjs/swagger';

const envelope = (code: string, message: string): ApiResponseOptions => ({
  description: message,
  schema: {
    example: { status: 'error', error: { code, message, details: [] }, request_id: '1f0e…', timestamp: '2026-01-01T00:00:00.000Z' },
  },
});

export const ERROR_RESPONSES = {
  400: envelope('MALFORMED_JSON', 'Malformed JSON in request body'),
  404: envelope('MODEL_NOT_FOUND', "Model 'x' not found"),
  413: envelope('PAYLOAD_TOO_LARGE', 'Request body exceeds the limit (BODY_LIMIT)'),
  422: envelope('VALIDATION_FAILED', 'Invalid features: features.petal_width is required'),
  503: envelope('MODEL_NOT_READY', "Model 'iris' version 3 is LOADING"),
  504: envelope('INFERENCE_TIMEOUT', 'Inference timed out after 30000 ms (TIMEOUT_SECONDS)'),
};

export const PREDICT_RESPONSE_EXAMPLE = {
  request_id: '6f1c2b9e-0d7a-4a43-9a55-2b1f3f0c8a11',
  model_id: 'iris',
  model_version: '2',
  prediction: { class: 'setosa', confidence: 0.98, probabilities: { setosa: 0.98, versicolor: 0.015, virginica: 0.005 } },
  timestamp: '2026-01-01T00:00:00.000Z',
  processing_time_ms: 0.41,
  cached: false,
  variant: 'stable',
};

export const BATCH_BODY_EXAMPLE = [
  { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
  { features: { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 } },
  { sepal_length: 'wide' },
];
