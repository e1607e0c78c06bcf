import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';

/**
 * Resolves with `work` or rejects with INFERENCE_TIMEOUT after `ms`. The late result is dropped:
 * a rejection that comes after the timeout is swallowed, so it never becomes unhandled.
 */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError(ErrorCode.INFERENCE_TIMEOUT, `Inference timed out after ${ms} ms (TIMEOUT_SECONDS)`)), ms);
    timer.unref();
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
