import { AppError } from '../../src/common/errors/app-error';

/** The AppError `act` rejects with; fails the test when it resolves or rejects with anything else. */
export async function captureAppError(act: Promise<unknown>): Promise<AppError> {
  try {
    await act;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}
