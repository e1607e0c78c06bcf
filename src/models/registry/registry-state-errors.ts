import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';

/** Seconds a client is told to wait before trying a refused rollout change again. */
const RETRY_AFTER_SECONDS = 5;

/** 503 DEPENDENCY_UNAVAILABLE for a rollout change refused, unchanged, while the shared state store (`where`: "Redis at …") cannot be reached. */
export function stateStoreUnavailable(where: string): AppError {
  return new AppError(
    ErrorCode.DEPENDENCY_UNAVAILABLE,
    `${where} is unavailable: rollout changes are refused until it is back, so that every replica keeps the same registry state`,
    [],
    RETRY_AFTER_SECONDS,
  );
}

/** 503 DEPENDENCY_UNAVAILABLE for a change of `model` sent to the shared state store whose outcome could not be learnt: it may have been made. */
export function commitOutcomeUnknown(where: string, model: string): AppError {
  return new AppError(
    ErrorCode.DEPENDENCY_UNAVAILABLE,
    `${where} did not answer in time: whether the change of '${model}' was made is unknown. This replica applies what ${where} holds once it answers; check the model's state before trying again`,
    [],
    RETRY_AFTER_SECONDS,
  );
}
