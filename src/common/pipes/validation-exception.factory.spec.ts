import { ValidationError } from 'class-validator';

import { ErrorCode } from '../errors/error-code';
import { flattenValidationErrors, validationExceptionFactory } from './validation-exception.factory';

function node(property: string, constraints?: Record<string, string>, children: ValidationError[] = []): ValidationError {
  return Object.assign(new ValidationError(), { property, constraints, children });
}

describe('flattenValidationErrors', () => {
  it('gives one detail per constraint of a top-level property', () => {
    // Arrange
    const errors = [node('model_id', { matches: 'model_id must match', isString: 'model_id must be a string' })];

    // Act
    const sut = flattenValidationErrors(errors);

    // Assert
    expect(sut).toEqual([
      { field: 'model_id', message: 'model_id must match' },
      { field: 'model_id', message: 'model_id must be a string' },
    ]);
  });

  it('joins nested properties with dots and array indexes with brackets', () => {
    // Arrange
    const errors = [
      node('items', undefined, [
        node('0', undefined, [node('features', { isDefined: 'features should not be empty' })]),
        node('2', undefined, [node('options', undefined, [node('cache', { isBoolean: 'cache must be a boolean' })])]),
      ]),
      node('options', undefined, [node('cache', { isBoolean: 'cache must be a boolean' })]),
    ];

    // Act
    const sut = flattenValidationErrors(errors);

    // Assert
    expect(sut).toEqual([
      { field: 'items[0].features', message: 'features should not be empty' },
      { field: 'items[2].options.cache', message: 'cache must be a boolean' },
      { field: 'options.cache', message: 'cache must be a boolean' },
    ]);
  });

  it('lists a parent constraint before its children', () => {
    // Arrange
    const errors = [node('options', { isObject: 'options must be an object' }, [node('cache', { isBoolean: 'cache must be a boolean' })])];

    // Act
    const sut = flattenValidationErrors(errors);

    // Assert
    expect(sut.map((d) => d.field)).toEqual(['options', 'options.cache']);
  });

  it('returns nothing for no errors', () => {
    // Act
    const sut = flattenValidationErrors([]);

    // Assert
    expect(sut).toEqual([]);
  });
});

describe('validationExceptionFactory', () => {
  it('builds a VALIDATION_FAILED AppError naming every problem', () => {
    // Arrange
    const errors = [node('model_id', { matches: 'bad model id' }), node('options', undefined, [node('cache', { isBoolean: 'must be a boolean' })])];

    // Act
    const sut = validationExceptionFactory(errors);

    // Assert
    expect(sut.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(sut.details).toEqual([
      { field: 'model_id', message: 'bad model id' },
      { field: 'options.cache', message: 'must be a boolean' },
    ]);
    expect(sut.message).toContain('options.cache must be a boolean');
  });
});
