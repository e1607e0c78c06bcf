import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { inferenceFailure, RuntimeInputError, RuntimeRunError } from './runtime-errors';

describe('inferenceFailure', () => {
  it('answers inputs the runtime refused as a validation failure carrying its message', () => {
    // Act
    const sut = inferenceFailure(new RuntimeInputError('Invalid rank for input: x Got: 3 Expected: 4'), 'det', 1);

    // Assert
    expect(sut.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(sut.message).toBe("Inference failed for model 'det' version 1: the model cannot run these inputs: Invalid rank for input: x Got: 3 Expected: 4");
    expect(sut.details).toEqual([{ field: 'inputs', message: 'Invalid rank for input: x Got: 3 Expected: 4' }]);
  });

  it('answers another failure of the runtime\'s library as INFERENCE_FAILED with its message', () => {
    // Act
    const sut = inferenceFailure(new RuntimeRunError('Failed to allocate memory'), 'det', 2);

    // Assert
    expect(sut.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(sut.message).toBe("Inference failed for model 'det' version 2: Failed to allocate memory");
  });

  it('keeps an AppError, and says nothing of an unknown error\'s text', () => {
    // Arrange
    const overloaded = new AppError(ErrorCode.OVERLOADED, 'busy');

    // Act
    const kept = inferenceFailure(overloaded, 'det', 1);
    const unknown = inferenceFailure(new Error('worker thread exited (1) at /srv/app/x.js:1'), 'det', 1);

    // Assert
    expect(kept).toBe(overloaded);
    expect(unknown.code).toBe(ErrorCode.INFERENCE_FAILED);
    expect(unknown.message).toBe("Inference failed for model 'det' version 1");
  });
});
