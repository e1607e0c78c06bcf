import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, Matches, Max, Min, registerDecorator, ValidationOptions } from 'class-validator';

/** `features`: an object of values by name, or an array in declared order. */
export function IsObjectOrArray(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isObjectOrArray',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} must be an object (by feature name) or an array (in declared order)`, ...options },
      validator: { validate: (v: unknown) => typeof v === 'object' && v !== null },
    });
}

/** A model id: 1-64 chars of [A-Za-z0-9._-] (also the folder name in the repository). */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** A model version as text: a positive integer of at most 9 digits. */
export const VERSION_PATTERN = /^[1-9]\d{0,8}$/;

/** A version given as "2" or 2 becomes the number 2; anything else is left for @IsInt to name. */
export const ToVersion = () =>
  Transform(({ value }) => (typeof value === 'string' && VERSION_PATTERN.test(value) ? Number(value) : value));

/** A model version field: "2" or 2, a positive integer. */
export const IsModelVersion = (field: string) =>
  applyDecorators(
    ToVersion(),
    IsInt({ message: `${field} must be a positive integer` }),
    Min(1, { message: `${field} must be a positive integer` }),
    Max(999999999, { message: `${field} must be at most 999999999` }),
  );

/** A model id field: 1-64 chars of [A-Za-z0-9._-] (also the folder name in the repository). */
export const IsModelId = (field: string) =>
  Matches(MODEL_ID_PATTERN, { message: `${field} must be 1-64 chars of [A-Za-z0-9._-]` });
