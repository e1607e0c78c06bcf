import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { withTimeout } from './with-timeout';

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

describe('withTimeout', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('resolves with the result of work that finishes in time', async () => {
    // Arrange
    const work = Promise.resolve(42);

    // Act
    const result = await withTimeout(work, 1000);

    // Assert
    expect(result).toBe(42);
  });

  it('passes on the rejection of work that fails in time', async () => {
    // Arrange
    const work = Promise.reject(new Error('bad input'));

    // Act
    const act = withTimeout(work, 1000);

    // Assert
    await expect(act).rejects.toThrow('bad input');
  });

  it('rejects with INFERENCE_TIMEOUT after the given milliseconds', async () => {
    // Arrange
    jest.useFakeTimers();
    const sut = withTimeout(never<number>(), 250);
    const outcome = sut.then(() => 'resolved', (e: unknown) => e);

    // Act
    await jest.advanceTimersByTimeAsync(249);
    const early = await Promise.race([outcome, Promise.resolve('pending')]);
    await jest.advanceTimersByTimeAsync(1);

    // Assert
    expect(early).toBe('pending');
    const error = await outcome;
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe(ErrorCode.INFERENCE_TIMEOUT);
    expect((error as AppError).message).toContain('250 ms');
  });

  it('times out with real timers too', async () => {
    // Act
    const act = withTimeout(never<number>(), 5);

    // Assert
    await expect(act).rejects.toMatchObject({ code: ErrorCode.INFERENCE_TIMEOUT });
  });

  it('clears its timer once the work settles', async () => {
    // Arrange
    jest.useFakeTimers();

    // Act
    await withTimeout(Promise.resolve('done'), 60_000);

    // Assert
    expect(jest.getTimerCount()).toBe(0);
  });

  it('does not turn a rejection that comes after the timeout into an unhandled rejection', async () => {
    // Arrange: jest fails the running test on an unhandled rejection, so leaking one fails this test.
    let fail!: (e: Error) => void;
    const work = new Promise<number>((_, reject) => {
      fail = reject;
    });
    const sut = withTimeout(work, 5);
    await expect(sut).rejects.toMatchObject({ code: ErrorCode.INFERENCE_TIMEOUT });

    // Act
    fail(new Error('late failure'));
    await new Promise((resolve) => setImmediate(resolve));

    // Assert
    await expect(sut).rejects.toMatchObject({ code: ErrorCode.INFERENCE_TIMEOUT });
  });
});
