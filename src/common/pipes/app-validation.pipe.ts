import { ArgumentMetadata, ValidationPipe, ValidationPipeOptions } from '@nestjs/common';

import { AppError } from '../errors/app-error';
import { InputLimits, inputLimitProblems } from '../validation/input-limits';
import { opaquePropertiesOf } from './opaque.decorator';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An empty value of the same kind, so that shape checks (object or array) still see the truth. */
const standIn = (value: unknown): unknown => (Array.isArray(value) ? [] : isPlainObject(value) ? {} : value);

/**
 * Nest's ValidationPipe, plus two things. Every body is first held to the input limits (nesting
 * deeper than MAX_DEPTH, strings over MAX_STRING_LENGTH, prototype keys: one 422 naming each),
 * whatever the route's DTO. {@link Opaque} properties are validated by shape and passed through
 * untouched: the pipe otherwise walks a body four times and deep-copies it, which for a
 * 2,048-float tensor cost more than the HTTP parsing (profiled on bench-mlp-xl).
 */
export class AppValidationPipe extends ValidationPipe {
  constructor(private readonly limits: InputLimits, options: ValidationPipeOptions) {
    super(options);
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && value !== undefined) {
      const problems = inputLimitProblems(value, this.limits);
      if (problems.length) throw AppError.validation(problems, 'Request exceeds input limits');
    }
    const opaque = opaquePropertiesOf(metadata.metatype);
    if (!opaque || !isPlainObject(value)) return super.transform(value, metadata);
    const shell: Record<string, unknown> = { ...value };
    const kept: Record<string, unknown> = {};
    for (const key of opaque) {
      if (!Object.hasOwn(shell, key)) continue;
      kept[key] = shell[key];
      shell[key] = standIn(shell[key]);
    }
    const result = (await super.transform(shell, metadata)) as Record<string, unknown>;
    return Object.assign(result, kept);
  }
}
