import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';

/**
 * A run the runtime's library failed, with a message safe to show the caller (`publicMessage`:
 * see publicRuntimeMessage — no paths, no native frames, bounded). Runtimes throw it for a run
 * that reached the library and failed there; their own failures (a dead worker thread) stay plain
 * errors, answered with the generic 500.
 */
export class RuntimeRunError extends Error {
  constructor(readonly publicMessage: string) {
    super(publicMessage);
    this.name = 'RuntimeRunError';
  }
}

/**
 * A run the library refused because of its inputs (a shape, rank or datatype the model cannot
 * take, e.g. an image side that is not a multiple of 32): the caller's problem, not the version's.
 */
export class RuntimeInputError extends RuntimeRunError {
  constructor(publicMessage: string) {
    super(publicMessage);
    this.name = 'RuntimeInputError';
  }
}

/**
 * The answer to a failed run of `model` `version`: an AppError as it is; a refused input as
 * VALIDATION_FAILED (422, 400 on the V2 routes) carrying the library's public message; another
 * library failure as INFERENCE_FAILED (500) with that message; anything else as INFERENCE_FAILED
 * without its text (which stays in the log).
 */
export function inferenceFailure(error: unknown, model: string, version: number): AppError {
  if (error instanceof AppError) return error;
  const what = `Inference failed for model '${model}' version ${version}`;
  if (error instanceof RuntimeInputError) {
    return new AppError(ErrorCode.VALIDATION_FAILED, `${what}: the model cannot run these inputs: ${error.publicMessage}`, [{ field: 'inputs', message: error.publicMessage }]);
  }
  if (error instanceof RuntimeRunError) return new AppError(ErrorCode.INFERENCE_FAILED, `${what}: ${error.publicMessage}`);
  return new AppError(ErrorCode.INFERENCE_FAILED, what);
}
