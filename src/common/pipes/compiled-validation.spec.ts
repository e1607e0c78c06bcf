import { ArgumentMetadata, Paramtype } from '@nestjs/common';
import { Exclude, Expose, Transform, Type } from 'class-transformer';
import {
  Allow,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  registerDecorator,
  ValidateIf,
  ValidateNested,
  ValidatePromise,
} from 'class-validator';
import fc from 'fast-check';

import { AutoAbortDto } from '../../inference/dto/auto-abort.dto';
import { BatchQueryDto } from '../../inference/dto/batch-query.dto';
import { CanaryRequestDto } from '../../inference/dto/canary-request.dto';
import { ModelIdParamDto } from '../../inference/dto/model-id-param.dto';
import { ModelVersionParamDto } from '../../inference/dto/model-version-param.dto';
import { PredictOptionsDto } from '../../inference/dto/predict-options.dto';
import { PredictRequestDto } from '../../inference/dto/predict-request.dto';
import { PromoteRequestDto } from '../../inference/dto/promote-request.dto';
import { ShadowRequestDto } from '../../inference/dto/shadow-request.dto';
import { V2IndexRequestDto, V2ModelParamDto, V2ModelVersionParamDto } from '../../inference/dto/v2-params.dto';
import { IsModelVersion, IsObjectOrArray } from '../../inference/dto/validators';
import { AppValidationPipe } from './app-validation.pipe';
import { compileValidator } from './compiled-validation';
import { Opaque } from './opaque.decorator';
import { validationExceptionFactory } from './validation-exception.factory';

type Dto = new () => object;

const LIMITS = { maxDepth: 20, maxStringLength: 10_000 };
/** The global pipe's options (src/app.module.ts). */
const APP_OPTIONS = { whitelist: true, forbidNonWhitelisted: true, transform: true, stopAtFirstError: false, exceptionFactory: validationExceptionFactory };
/** The pipe's own path: any `transformOptions` (here the defaults) turn compiled validation off. */
const reference = new AppValidationPipe(LIMITS, { ...APP_OPTIONS, transformOptions: {} });
const pipe = new AppValidationPipe(LIMITS, APP_OPTIONS);

/** A deep copy that keeps null prototypes and own `__proto__` keys, so each path gets an untouched body. */
function clone<T>(value: T): T {
  if (Array.isArray(value)) return value.map(clone) as T;
  if (typeof value !== 'object' || value === null) return value;
  const copy = Object.create(Object.getPrototypeOf(value) === null ? null : Object.prototype) as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    Object.defineProperty(copy, key, { value: clone((value as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true });
  }
  return copy as T;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

async function outcomeOf(sut: AppValidationPipe, value: unknown, metadata: ArgumentMetadata): Promise<Outcome> {
  try {
    return { ok: true, value: await sut.transform(value, metadata) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Same class all the way down, same own keys in the same order, same values. */
function expectSameInstance(actual: unknown, expected: unknown): void {
  expect(actual).toStrictEqual(expected);
  if (typeof expected !== 'object' || expected === null) return;
  expect(Object.getPrototypeOf(actual)).toBe(Object.getPrototypeOf(expected));
  expect(Reflect.ownKeys(actual as object)).toEqual(Reflect.ownKeys(expected));
  for (const key of Object.keys(expected)) expectSameInstance((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key]);
}

/** What the compiled path gives and what the pipe's own path gives, each on its own copy of `value`. */
async function bothPaths(metatype: Dto, value: unknown, type: Paramtype = 'body') {
  const sut = compileValidator(metatype);
  const compiled = sut?.(clone(value));
  const normal = await outcomeOf(reference, clone(value), { type, metatype });
  return { sut, compiled, normal };
}

async function expectCompiledSame(metatype: Dto, value: unknown, type: Paramtype = 'body'): Promise<void> {
  // Act
  const { compiled, normal } = await bothPaths(metatype, value, type);

  // Assert
  expect(compiled).toBeInstanceOf(metatype);
  expect(normal.ok).toBe(true);
  if (normal.ok) expectSameInstance(compiled, normal.value);
}

async function expectFallsBackRejected(metatype: Dto, value: unknown, type: Paramtype = 'body'): Promise<void> {
  // Act
  const { sut, compiled, normal } = await bothPaths(metatype, value, type);

  // Assert
  expect(sut).toBeDefined();
  expect(compiled).toBeUndefined();
  expect(normal.ok).toBe(false);
}

// -----------------------------------------------------------------------------------------------
// DTOs for the constraint kinds

class Kinds {
  @IsDefined()
  @IsString()
  name: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  count?: number;

  @IsOptional()
  @IsNumber()
  ratio?: number;

  @IsOptional()
  @IsBoolean()
  flag?: boolean;

  @IsOptional()
  @IsIn(['a', 'b'])
  letter?: string;

  @IsOptional()
  @Matches(/^x+$/)
  xs?: string;
}

class Inner {
  @IsInt()
  n: number;
}

class Outer {
  @IsOptional()
  @ValidateNested()
  @Type(() => Inner)
  inner?: Inner;
}

class Required {
  @ValidateNested()
  @Type(() => Inner)
  inner: Inner;
}

function IsEven() {
  return (target: object, propertyName: string) =>
    registerDecorator({ name: 'isEven', target: target.constructor, propertyName, validator: { validate: (v: unknown) => typeof v === 'number' && v % 2 === 0 } });
}

class Custom {
  @IsEven()
  n: number;
}

class Versioned {
  @IsModelVersion('v')
  v: number;
}

class Conditional {
  @IsString()
  kind: string;

  @ValidateIf((o: Conditional) => o.kind === 'number')
  @IsInt()
  value?: number;
}

class Allowed {
  @Allow()
  note?: unknown;
}

class Defaults {
  @IsOptional()
  @IsInt()
  n?: number = 5;
}

class BadDefault {
  @IsOptional()
  @IsInt()
  n?: number = 1.5;
}

class WithOpaque {
  @IsObjectOrArray()
  @Opaque()
  blob: unknown;

  @IsOptional()
  @IsString()
  @Transform(({ value, obj }: { value: unknown; obj: { blob?: unknown } }) => (value === 'shape' ? JSON.stringify(obj.blob) : value))
  seen?: string;
}

describe('compileValidator', () => {
  describe('compiles each constraint kind exactly', () => {
    it('gives the same instance as the pipe for a valid body', async () => {
      await expectCompiledSame(Kinds, { name: 'a', count: 3, ratio: 0.5, flag: false, letter: 'b', xs: 'xxx' });
      await expectCompiledSame(Kinds, { name: '' });
      await expectCompiledSame(Kinds, { name: 'a', count: null, ratio: undefined, flag: null });
    });

    it.each([
      ['isDefined', { count: 1 }],
      ['isDefined (null)', { name: null }],
      ['isString', { name: 3 }],
      ['isInt', { name: 'a', count: 1.5 }],
      ['min', { name: 'a', count: 0 }],
      ['max', { name: 'a', count: 11 }],
      ['isNumber', { name: 'a', ratio: Number.NaN }],
      ['isNumber (string)', { name: 'a', ratio: '1' }],
      ['isBoolean', { name: 'a', flag: 'true' }],
      ['isIn', { name: 'a', letter: 'c' }],
      ['matches', { name: 'a', xs: 'xy' }],
      ['forbidNonWhitelisted', { name: 'a', extra: 1 }],
    ])('returns undefined where %s rejects, and the pipe rejects', async (_kind, body) => {
      await expectFallsBackRejected(Kinds, body);
    });

    it('builds nested instances for @ValidateNested + @Type and validates them', async () => {
      await expectCompiledSame(Outer, { inner: { n: 1 } });
      await expectCompiledSame(Outer, { inner: null });
      await expectCompiledSame(Outer, {});
      await expectFallsBackRejected(Outer, { inner: { n: 1.5 } });
      await expectFallsBackRejected(Outer, { inner: { n: 1, extra: true } });
      await expectFallsBackRejected(Outer, { inner: 5 });
      await expectFallsBackRejected(Required, { inner: null });
      await expectCompiledSame(Required, {});
    });

    it('runs a registerDecorator constraint through its own validate', async () => {
      await expectCompiledSame(Custom, { n: 4 });
      await expectFallsBackRejected(Custom, { n: 3 });
    });

    it('applies @Transform as class-transformer does (ToVersion: "2" becomes 2)', async () => {
      await expectCompiledSame(Versioned, { v: '2' });
      await expectCompiledSame(Versioned, { v: 999999999 });
      await expectFallsBackRejected(Versioned, { v: '02' });
      await expectFallsBackRejected(Versioned, { v: '1000000000' });
      await expectFallsBackRejected(Versioned, { v: 0 });
    });

    it('honours @ValidateIf conditions', async () => {
      await expectCompiledSame(Conditional, { kind: 'text', value: 'anything' });
      await expectCompiledSame(Conditional, { kind: 'number', value: 2 });
      await expectFallsBackRejected(Conditional, { kind: 'number', value: 'two' });
    });

    it('takes @Allow properties with primitive values', async () => {
      await expectCompiledSame(Allowed, { note: 'x' });
      await expectCompiledSame(Allowed, {});
    });

    it('validates default values of the class as the pipe does', async () => {
      await expectCompiledSame(Defaults, {});
      await expectCompiledSame(Defaults, { n: 2 });
      await expectFallsBackRejected(BadDefault, {});
    });

    it('sets a key given as undefined, as class-transformer does, on a class without field declarations', async () => {
      // Arrange
      class NoFields {}
      IsOptional()(NoFields.prototype, 'n');
      IsInt()(NoFields.prototype, 'n');

      // Act / Assert
      await expectCompiledSame(NoFields, { n: undefined });
      await expectCompiledSame(NoFields, { n: 2 });
      await expectCompiledSame(NoFields, {});
    });

    it('passes opaque properties through as the same value, and @Transform sees their stand-ins', async () => {
      // Arrange
      const sut = compileValidator(WithOpaque)!;
      const blob = { input: [[1, 2, 3]] };

      // Act
      const result = sut({ blob, seen: 'shape' }) as WithOpaque;

      // Assert
      expect(result.blob).toBe(blob);
      expect(result.seen).toBe('{}');
      await expectCompiledSame(WithOpaque, { blob: [1, 2], seen: 'shape' });
      await expectFallsBackRejected(WithOpaque, { blob: 'flat' });
    });
  });

  describe('falls back for a class it cannot compile exactly', () => {
    class Grouped {
      @IsInt({ groups: ['admin'] })
      n: number;
    }
    class Always {
      @IsInt({ always: true })
      n: number;
    }
    class Each {
      @IsInt({ each: true })
      n: number[];
    }
    class AsyncRule {
      @IsString()
      @((target: object, propertyName: string) =>
        registerDecorator({ name: 'slow', async: true, target: target.constructor, propertyName, validator: { validate: async () => true } }))
      s: string;
    }
    class Promised {
      @ValidatePromise()
      @IsInt()
      n: number;
    }
    class Exposed {
      @Expose({ name: 'N' })
      @IsInt()
      n: number;
    }
    @Exclude()
    class Excluded {
      @IsInt()
      n: number;
    }
    class TypeOnly {
      @Type(() => Number)
      @IsInt()
      n: number;
    }
    class NestedUntyped {
      @ValidateNested()
      inner: Inner;
    }
    class NestedTransformed {
      @ValidateNested()
      @Type(() => Inner)
      @Transform(({ value }: { value: unknown }) => value)
      inner: Inner;
    }
    class OpaqueTransformed {
      @IsObjectOrArray()
      @Opaque()
      @Transform(({ value }: { value: unknown }) => value)
      blob: unknown;
    }
    class Discriminated {
      @ValidateNested()
      @Type(() => Inner, { discriminator: { property: 'kind', subTypes: [{ name: 'inner', value: Inner }] } })
      inner: Inner;
    }
    class Thenable {
      @IsOptional()
      @IsString()
      then?: string;
    }
    class Getter {
      @IsString()
      get s(): string {
        return 'x';
      }
    }
    class Bare {
      n: number;
    }

    it.each([
      ['groups', Grouped],
      ['always', Always],
      ['each', Each],
      ['an async constraint', AsyncRule],
      ['@ValidatePromise', Promised],
      ['@Expose', Exposed],
      ['@Exclude on the class', Excluded],
      ['@Type without @ValidateNested', TypeOnly],
      ['@ValidateNested without @Type', NestedUntyped],
      ['@Transform on a nested property', NestedTransformed],
      ['@Transform on an opaque property', OpaqueTransformed],
      ['a discriminator', Discriminated],
      ['a property named then', Thenable],
      ['an accessor', Getter],
      ['no validation metadata', Bare],
      ['String', String],
      ['no metatype', undefined],
    ])('%s', (_what, metatype) => {
      // Act
      const sut = compileValidator(metatype as Dto | undefined);

      // Assert
      expect(sut).toBeUndefined();
    });

    it('compiles once per class', () => {
      // Act
      const sut = compileValidator(Kinds);

      // Assert
      expect(compileValidator(Kinds)).toBe(sut);
      expect(compileValidator(Bare)).toBeUndefined();
    });
  });

  describe('falls back per call where it is not sure', () => {
    function ReturnsPromise() {
      return (target: object, propertyName: string) =>
        registerDecorator({ name: 'promising', target: target.constructor, propertyName, validator: { validate: () => Promise.resolve(true) } });
    }
    function Throws() {
      return (target: object, propertyName: string) =>
        registerDecorator({ name: 'throws', target: target.constructor, propertyName, validator: { validate: () => { throw new Error('boom'); } } });
    }
    class PromiseRule {
      @ReturnsPromise()
      n: number;
    }
    class ThrowingRule {
      @Throws()
      n: number;
    }
    class Undecorated {
      @IsInt()
      n: number;

      extra: string;
    }

    it.each([
      ['an array body', Kinds, [{ name: 'a' }]],
      ['a null body', Kinds, null],
      ['a string body', Kinds, 'name'],
      ['a class instance body', Kinds, new Date()],
      ['an array where a primitive goes', Kinds, { name: ['a'] }],
      ['an object where a primitive goes', Kinds, { name: { a: 1 } }],
      ['an array where a nested object goes', Outer, { inner: [{ n: 1 }] }],
      ['an empty array where a nested object goes', Outer, { inner: [] }],
      ['an object for an @Allow property', Allowed, { note: { a: 1 } }],
      ['a prototype key', Kinds, JSON.parse('{"name":"a","__proto__":{"x":1}}')],
      ['a constructor key', Kinds, { name: 'a', constructor: 1 }],
      ['a constraint returning a promise', PromiseRule, { n: 1 }],
      ['a constraint that throws', ThrowingRule, { n: 1 }],
      ['a property of the class without metadata', Undecorated, { n: 1 }],
    ])('%s', (_what, metatype: Dto, body: unknown) => {
      // Arrange
      const sut = compileValidator(metatype);

      // Act
      const result = sut?.(body);

      // Assert
      expect(sut).toBeDefined();
      expect(result).toBeUndefined();
    });

    it('accepts a null-prototype object (a parsed query string) as a plain one', async () => {
      // Arrange
      const query = Object.assign(Object.create(null) as object, { model_id: 'iris', model_version: '3' });

      // Act / Assert
      await expectCompiledSame(BatchQueryDto, query, 'query');
    });
  });

  describe('the DTOs of src/inference/dto', () => {
    const iris = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

    it.each<[string, Dto, unknown, Paramtype]>([
      ['PredictRequestDto by name', PredictRequestDto, { model_id: 'iris', features: iris }, 'body'],
      ['PredictRequestDto in order, pinned, options', PredictRequestDto, { features: [5.1, 3.5, 1.4, 0.2], model_version: '2', options: { cache: false } }, 'body'],
      ['PredictRequestDto, empty options', PredictRequestDto, { features: {}, model_version: 7, options: {} }, 'body'],
      ['PredictRequestDto, null options', PredictRequestDto, { features: iris, options: null, model_id: null }, 'body'],
      ['CanaryRequestDto', CanaryRequestDto, { version: 2, percentage: 10, sticky: true, auto_abort: { max_error_rate: 0.1, min_requests: 20 } }, 'body'],
      ['CanaryRequestDto, version as a string', CanaryRequestDto, { version: '3', percentage: 0 }, 'body'],
      ['ShadowRequestDto', ShadowRequestDto, { version: 1, percentage: 100 }, 'body'],
      ['PromoteRequestDto', PromoteRequestDto, { version: '1' }, 'body'],
      ['AutoAbortDto', AutoAbortDto, { max_error_rate: 1, min_requests: 1 }, 'body'],
      ['PredictOptionsDto', PredictOptionsDto, { cache: true }, 'body'],
      ['V2IndexRequestDto', V2IndexRequestDto, { ready: true }, 'body'],
      ['V2IndexRequestDto, empty', V2IndexRequestDto, {}, 'body'],
      ['BatchQueryDto', BatchQueryDto, { model_id: 'iris', model_version: '2' }, 'query'],
      ['BatchQueryDto, empty', BatchQueryDto, {}, 'query'],
      ['ModelIdParamDto', ModelIdParamDto, { id: 'iris' }, 'param'],
      ['ModelVersionParamDto', ModelVersionParamDto, { id: 'iris', v: '1' }, 'param'],
      ['V2ModelParamDto', V2ModelParamDto, { name: 'iris' }, 'param'],
      ['V2ModelVersionParamDto (inherited rules)', V2ModelVersionParamDto, { name: 'iris', v: '12' }, 'param'],
    ])('%s: a valid value gives the same instance as the pipe', async (_name, metatype, value, type) => {
      await expectCompiledSame(metatype, value, type);
    });

    it.each<[string, Dto, unknown, Paramtype]>([
      ['PredictRequestDto without features', PredictRequestDto, { model_id: 'iris' }, 'body'],
      ['PredictRequestDto, flat features', PredictRequestDto, { features: 5.1 }, 'body'],
      ['PredictRequestDto, bad model id', PredictRequestDto, { features: iris, model_id: 'a/b' }, 'body'],
      ['PredictRequestDto, version 0', PredictRequestDto, { features: iris, model_version: '0' }, 'body'],
      ['PredictRequestDto, cache as a string', PredictRequestDto, { features: iris, options: { cache: 'no' } }, 'body'],
      ['PredictRequestDto, unknown option', PredictRequestDto, { features: iris, options: { ttl: 1 } }, 'body'],
      ['PredictRequestDto, unknown key', PredictRequestDto, { features: iris, model: 'iris' }, 'body'],
      ['CanaryRequestDto, 101%', CanaryRequestDto, { version: 2, percentage: 101 }, 'body'],
      ['CanaryRequestDto, bad auto_abort', CanaryRequestDto, { version: 2, percentage: 1, auto_abort: { max_error_rate: 2, min_requests: 0 } }, 'body'],
      ['ShadowRequestDto, no version', ShadowRequestDto, { percentage: 1 }, 'body'],
      ['PromoteRequestDto, float', PromoteRequestDto, { version: 1.5 }, 'body'],
      ['V2IndexRequestDto, ready as a string', V2IndexRequestDto, { ready: 'true' }, 'body'],
      ['BatchQueryDto, bad version', BatchQueryDto, { model_version: 'two' }, 'query'],
      ['ModelVersionParamDto, bad id', ModelVersionParamDto, { id: '', v: '1' }, 'param'],
      ['V2ModelVersionParamDto, bad version', V2ModelVersionParamDto, { name: 'iris', v: '-1' }, 'param'],
    ])('%s: an invalid value gives undefined, and the pipe throws what it threw before', async (_name, metatype, value, type) => {
      // Arrange
      const metadata = { type, metatype };

      // Act
      const compiled = compileValidator(metatype)?.(clone(value));
      const before = await outcomeOf(reference, clone(value), metadata);
      const now = await outcomeOf(pipe, clone(value), metadata);

      // Assert
      expect(compiled).toBeUndefined();
      expect(before.ok).toBe(false);
      expect(now).toStrictEqual(before);
    });
  });
});

// -----------------------------------------------------------------------------------------------
// Property: compiled ⇒ the pipe succeeds with an equal instance; the pipe throws ⇒ compiled gave undefined

const RUNS = 2_000;
const SEED = 20_260_101;

/** JSON-ish junk: wrong types of every kind. */
const junk = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -0, 1, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '', ' ', 'true', '1', '[object Object]'),
  fc.string({ maxLength: 6 }),
  fc.double(),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 3 })), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.integer(), fc.boolean()), { maxKeys: 2 }),
);
const ABSENT = Symbol('absent');
/** Mostly valid, sometimes invalid or of a wrong type, sometimes absent. */
const field = (valid: fc.Arbitrary<unknown>, invalid: fc.Arbitrary<unknown>) =>
  fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: fc.oneof(invalid, junk), weight: 3 }, { arbitrary: fc.constant(ABSENT), weight: 2 });
/** Extra keys, including those that reach a prototype or clash with a known one. */
const extras = fc.oneof(
  { arbitrary: fc.constant({}), weight: 6 },
  { arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('constructor', '__proto__', 'prototype', 'then', 'toString', 'Features')), junk, { maxKeys: 2 }), weight: 1 },
);
/** A record of `fields` (absent ones left out; null prototypes now and then), plus extra keys now and then. */
const bodyOf = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.tuple(fc.record(fields), extras).map(([known, extra]) => {
    for (const key of Object.keys(known)) if (known[key] === ABSENT) delete known[key];
    return Object.assign(known, extra) as unknown;
  });

const modelId = field(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), fc.constant('iris')), fc.constantFrom('a/b', 'x'.repeat(65), 'é', '', 'a b'));
const versionValue = fc.oneof(fc.integer({ min: 1, max: 999_999_999 }), fc.integer({ min: 1, max: 999_999_999 }).map(String), fc.constantFrom(1, '1', 999_999_999, '999999999'));
const badVersion = fc.oneof(
  fc.constantFrom(0, -1, 1_000_000_000, 1.5, '02', '0', '-1', '1e3', ' 3', '1000000000', '0x10', '２', '1.0'),
  fc.integer({ min: 1_000_000_000, max: 9_999_999_999 }).map(String),
);
const version = field(versionValue, badVersion);
const percentage = field(fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.integer({ min: 0, max: 100 })), fc.oneof(fc.constantFrom(-0.1, 100.5, '50', -1), fc.double()));
const bool = field(fc.boolean(), fc.constantFrom('true', 'false', 0, 1));

const features = field(
  fc.oneof(fc.dictionary(fc.string({ maxLength: 12 }), fc.double(), { maxKeys: 4 }), fc.array(fc.double(), { maxLength: 6 }), fc.constant({ input: [[1, 2], [3, 4]] })),
  fc.constantFrom(5.1, 'a,b', true),
);
const predictOptions = field(fc.oneof(bodyOf({ cache: bool }), fc.constant(null)), fc.constantFrom([{ cache: true }], [], 'cache'));
const predictBody = bodyOf({ features, model_id: modelId, model_version: version, options: predictOptions });

const autoAbort = field(
  fc.oneof(bodyOf({ max_error_rate: field(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(1.5, -0.1)), min_requests: field(fc.integer({ min: 1, max: 50 }), fc.constantFrom(0, 2.5)) }), fc.constant(null)),
  fc.constantFrom([], [{ max_error_rate: 0.1, min_requests: 1 }]),
);
const canaryBody = bodyOf({ version, percentage, sticky: bool, auto_abort: autoAbort });

/** Query and path values are strings, or arrays of them for a repeated key. */
const queryValue = (valid: fc.Arbitrary<unknown>, invalid: fc.Arbitrary<unknown>) => field(valid.map(String), fc.oneof(invalid.map(String), fc.array(fc.string({ maxLength: 3 }), { minLength: 1, maxLength: 2 })));
const idValue = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const badId = fc.constantFrom('a/b', 'x'.repeat(65), 'é', '', 'a b');
const batchQuery = bodyOf({ model_id: queryValue(idValue, badId), model_version: queryValue(versionValue, badVersion) });
const v2VersionParams = bodyOf({ name: queryValue(idValue, badId), v: queryValue(versionValue, badVersion) });

describe('compileValidator, property: it agrees with the pipe on generated values', () => {
  it.each<[string, Dto, fc.Arbitrary<unknown>, Paramtype]>([
    ['PredictRequestDto', PredictRequestDto, predictBody, 'body'],
    ['CanaryRequestDto', CanaryRequestDto, canaryBody, 'body'],
    ['BatchQueryDto', BatchQueryDto, batchQuery, 'query'],
    ['V2ModelVersionParamDto', V2ModelVersionParamDto, v2VersionParams, 'param'],
  ])(`%s (${RUNS} runs)`, async (_name, metatype, values, type) => {
    // Arrange
    const sut = compileValidator(metatype)!;
    const metadata = { type, metatype };
    const seen = { compiled: 0, fellBack: 0, rejected: 0 };

    // Act / Assert
    await fc.assert(
      fc.asyncProperty(values, async (value) => {
        const compiled = sut(clone(value));
        const normal = await outcomeOf(reference, clone(value), metadata);
        const now = await outcomeOf(pipe, clone(value), metadata);
        if (compiled !== undefined) {
          expect(normal.ok).toBe(true);
          if (normal.ok) expectSameInstance(compiled, normal.value);
        }
        if (!normal.ok) expect(compiled).toBeUndefined();
        expect(now).toStrictEqual(normal);
        seen[compiled !== undefined ? 'compiled' : normal.ok ? 'fellBack' : 'rejected'] += 1;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(seen.compiled).toBeGreaterThan(RUNS / 10);
    expect(seen.rejected).toBeGreaterThan(RUNS / 10);
  });
});
