import { ErrorCode } from './error-code';

/** One named problem in a request, e.g. `{ field: 'features.petal_width', message: 'is required' }`. */
export interface ErrorDetail {
  field: string;
  message: string;
}

/**
 * A framework-free domain error. Services throw it; the global filter turns it into the error
 * envelope with the status of its code. The message is safe to show to the caller.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }

  static validation(details: ErrorDetail[], message = 'Request validation failed'): AppError {
    return new AppError(ErrorCode.VALIDATION_FAILED, `${message}: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
  }

  static modelNotFound(modelId: string): AppError {
    return new AppError(ErrorCode.MODEL_NOT_FOUND, `Model '${modelId}' not found`);
  }
}
