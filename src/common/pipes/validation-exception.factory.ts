import { ValidationError } from 'class-validator';

import { AppError, ErrorDetail } from '../errors/app-error';

/** Flattens class-validator's tree into one detail per failed constraint, with dotted field paths. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((e) => {
    const field = parent ? (/^\d+$/.test(e.property) ? `${parent}[${e.property}]` : `${parent}.${e.property}`) : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flattenValidationErrors(e.children ?? [], field)];
  });
}

/** The global ValidationPipe's exceptionFactory: 422 VALIDATION_FAILED naming every problem. */
export function validationExceptionFactory(errors: ValidationError[]): AppError {
  return AppError.validation(flattenValidationErrors(errors));
}
