import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';

/**
 * Resolves with `work` or rejects with INFERENCE_TIMEOUT after `ms`. The late result is dropped:
 * a rejection that comes after the timeout is handled (settling a settled promise does nothing),
 * so it never becomes unhandled. One promise and one timer per call (it runs on every request):
 * no Promise.race, finally() or second promise for the timeout.
 */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new AppError(ErrorCode.INFERENCE_TIMEOUT, `Inference timed out after ${ms} ms (TIMEOUT_SECONDS)`)), ms);
    timer.unref();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
