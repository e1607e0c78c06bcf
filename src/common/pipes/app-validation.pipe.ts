import { ArgumentMetadata, ValidationPipe, ValidationPipeOptions } from '@nestjs/common';

import { AppError } from '../errors/app-error';
import { InputLimits, inputLimitProblems } from '../validation/input-limits';
import { compileValidator, standIn } from './compiled-validation';
import { opaquePropertiesOf } from './opaque.decorator';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The options under which a compiled validator gives what the pipe gives: the others (groups,
 * `always`, `transformOptions`, `expectedType`, other packages...) change what is valid or what
 * is returned, and turn the compiled path off.
 */
const COMPILABLE_OPTIONS = new Set([
  'transform', 'whitelist', 'forbidNonWhitelisted', 'forbidUnknownValues', 'stopAtFirstError', 'exceptionFactory',
  'errorHttpStatusCode', 'disableErrorMessages', 'dismissDefaultMessages', 'validationError', 'maxErrorMessagesLength',
  'enableDebugMessages', 'skipMissingProperties', 'skipNullProperties', 'skipUndefinedProperties', 'validateCustomDecorators',
]);

const compilable = (options: ValidationPipeOptions): boolean =>
  options.transform === true &&
  Object.entries(options).every(([key, value]) => value === undefined || COMPILABLE_OPTIONS.has(key));

/**
 * Nest's ValidationPipe, plus three things. Every body is first held to the input limits (nesting
 * deeper than MAX_DEPTH, strings over MAX_STRING_LENGTH, prototype keys: one 422 naming each),
 * whatever the route's DTO. A body, query or params object is then tried against the DTO's
 * compiled validator ({@link compileValidator}): on the happy path that gives the very instance
 * the pipe would, without class-transformer and class-validator; anything else takes the pipe's
 * path, so errors are class-validator's. {@link Opaque} properties are validated by shape and
 * passed through untouched: the pipe otherwise walks a body four times and deep-copies it, which
 * for a 2,048-float tensor cost more than the HTTP parsing (profiled on bench-mlp-xl).
 */
export class AppValidationPipe extends ValidationPipe {
  private readonly compiles: boolean;

  constructor(private readonly limits: InputLimits, options: ValidationPipeOptions) {
    super(options);
    this.compiles = compilable(options);
  }

  /**
   * Synchronous where the answer is known at once: the validated instance on the compiled happy
   * path, or a thrown 422 for input limits (Nest's pipe consumers and the lean router take both a
   * value and a Promise, and a throw as a rejection); a Promise when class-validator has to run.
   * `any` because the base class declares a Promise: await the result, never call `.then` on it.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override transform(value: unknown, metadata: ArgumentMetadata): any {
    // A custom decorator's value (the request context, the routing key) is not validated unless
    // validateCustomDecorators: ValidationPipe returns it as it is (from an async function).
    if (metadata.type === 'custom' && !this.validateCustomDecorators) return value;
    if (metadata.type === 'body' && value !== undefined) {
      const problems = inputLimitProblems(value, this.limits);
      if (problems.length) throw AppError.validation(problems, 'Request exceeds input limits');
    }
    const compiled = this.compiles && metadata.type !== 'custom' ? compileValidator(metadata.metatype)?.(value) : undefined;
    return compiled ?? this.validateFully(value, metadata);
  }

  private async validateFully(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
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
