import { ArgumentMetadata, BadRequestException, ValidationPipe, ValidationPipeOptions } from '@nestjs/common';
import { IsInt, IsOptional } from 'class-validator';

import { IsModelVersion, IsObjectOrArray } from '../../inference/dto/validators';
import { AppValidationPipe } from './app-validation.pipe';
import { Opaque } from './opaque.decorator';

class Dto {
  @IsObjectOrArray()
  @Opaque()
  features: unknown;

  @IsOptional()
  @IsInt()
  n?: number;
}

const sut = new AppValidationPipe({ maxDepth: 20, maxStringLength: 10_000 }, { whitelist: true, forbidNonWhitelisted: true, transform: true });
const meta = { type: 'body' as const, metatype: Dto };

/** The pipe's answer as a Promise: a value or a Promise when it returns, a rejection when it throws (as Nest's pipe consumers take it). */
const settled = (pipe: AppValidationPipe, value: unknown, metadata: ArgumentMetadata): Promise<unknown> => Promise.resolve().then(() => pipe.transform(value, metadata));

async function errorOf(value: unknown): Promise<string> {
  try {
    await sut.transform(value, meta);
  } catch (e) {
    return ((e as BadRequestException).getResponse() as { message: string[] }).message.join('; ');
  }
  throw new Error('expected a validation error');
}

describe('AppValidationPipe', () => {
  it('passes an opaque property through as the very same value, not a copy', async () => {
    // Arrange
    const features = { input: [Array.from({ length: 2048 }, (_, i) => i / 7)] };

    // Act
    const result = (await sut.transform({ features, n: 3 }, meta)) as Dto;

    // Assert
    expect(result).toBeInstanceOf(Dto);
    expect(result.features).toBe(features);
    expect(result.n).toBe(3);
  });

  it('still validates the shape of an opaque property', async () => {
    // Act / Assert
    await expect(errorOf({ features: 5 })).resolves.toMatch(/features must be an object/);
    await expect(errorOf({ features: null })).resolves.toMatch(/features must be an object/);
    await expect(errorOf({})).resolves.toMatch(/features must be an object/);
    await expect(settled(sut, { features: [1, 2] }, meta)).resolves.toEqual({ features: [1, 2] });
  });

  it('validates and whitelists the other properties as ValidationPipe does', async () => {
    // Act / Assert
    await expect(errorOf({ features: {}, n: 1.5, extra: true })).resolves.toBe('property extra should not exist; n must be an integer number');
  });

  it('leaves classes without opaque properties and non-object bodies to ValidationPipe', async () => {
    // Arrange
    class Plain {
      @IsInt()
      n: number;
    }

    // Act / Assert
    await expect(settled(sut, { n: 2 }, { type: 'body', metatype: Plain })).resolves.toEqual({ n: 2 });
    await expect(errorOf([1, 2])).resolves.toMatch(/features must be an object/);
  });
});

describe('AppValidationPipe, compiled validation', () => {
  class Query {
    @IsOptional()
    @IsModelVersion('model_version')
    model_version?: number;
  }

  /** The pipe and a spy on ValidationPipe's own (class-validator) path. */
  function pipeWith(options: ValidationPipeOptions = { whitelist: true, forbidNonWhitelisted: true, transform: true }) {
    const pipe = new AppValidationPipe({ maxDepth: 5, maxStringLength: 100 }, options);
    const fullPath = jest.spyOn(pipe as unknown as { validate: (o: object) => Promise<unknown[]> }, 'validate');
    return { pipe, fullPath };
  }

  it('answers the compiled happy path synchronously (no Promise for the router to await)', () => {
    // Arrange
    const { pipe: sut } = pipeWith();

    // Act
    const result = sut.transform({ features: { a: 1 }, n: 3 }, meta);

    // Assert
    expect(result).toBeInstanceOf(Dto);
  });

  it('returns a valid body from the compiled validator, without class-validator', async () => {
    // Arrange
    const { pipe: sut, fullPath } = pipeWith();
    const features = { a: 1 };

    // Act
    const result = (await sut.transform({ features, n: 3 }, meta)) as Dto;

    // Assert
    expect(result).toBeInstanceOf(Dto);
    expect(result).toStrictEqual(Object.assign(new Dto(), { features, n: 3 }));
    expect(result.features).toBe(features);
    expect(fullPath).not.toHaveBeenCalled();
  });

  it('compiles query and params DTOs too, transforms included', async () => {
    // Arrange
    const { pipe: sut, fullPath } = pipeWith();

    // Act
    const query = await sut.transform({ model_version: '4' }, { type: 'query', metatype: Query });
    const params = await sut.transform({ model_version: 5 }, { type: 'param', metatype: Query });

    // Assert
    expect(query).toStrictEqual(Object.assign(new Query(), { model_version: 4 }));
    expect(params).toStrictEqual(Object.assign(new Query(), { model_version: 5 }));
    expect(fullPath).not.toHaveBeenCalled();
  });

  it('takes the full path for an invalid body, with class-validator\'s messages', async () => {
    // Arrange
    const { pipe: sut, fullPath } = pipeWith();

    // Act
    const error = await settled(sut, { features: {}, n: 1.5, extra: true }, meta).catch((e: BadRequestException) => e.getResponse());

    // Assert
    expect(error).toMatchObject({ message: ['property extra should not exist', 'n must be an integer number'] });
    expect(fullPath).toHaveBeenCalledTimes(1);
  });

  it('holds a body to the input limits before the compiled validator', async () => {
    // Arrange
    const { pipe: sut } = pipeWith();

    // Act / Assert
    await expect(settled(sut, { features: { a: { b: { c: { d: { e: 1 } } } } } }, meta)).rejects.toThrow(/input limits.*MAX_DEPTH/);
  });

  it('passes a custom decorator\'s value through as it is, synchronously, without validateCustomDecorators (as ValidationPipe would)', async () => {
    // Arrange
    const { pipe: sut, fullPath } = pipeWith({ transform: true, whitelist: true, forbidNonWhitelisted: true });
    const value = { id: 'req-1', extra: 'kept' };
    const reference = new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true });

    // Act
    const result: unknown = sut.transform(value, { type: 'custom', metatype: Dto });

    // Assert
    expect(result).toBe(value);
    await expect(reference.transform(value, { type: 'custom', metatype: Dto })).resolves.toBe(value);
    expect(fullPath).not.toHaveBeenCalled();
  });

  it('leaves custom decorators to ValidationPipe with validateCustomDecorators', async () => {
    // Arrange
    const { pipe: sut, fullPath } = pipeWith({ transform: true, validateCustomDecorators: true });

    // Act
    await sut.transform({ features: {} }, { type: 'custom', metatype: Dto });

    // Assert
    expect(fullPath).toHaveBeenCalledTimes(1);
  });

  it.each<[string, ValidationPipeOptions]>([
    ['transform off', { whitelist: true }],
    ['groups', { transform: true, groups: ['admin'] }],
    ['always', { transform: true, always: true }],
    ['transformOptions', { transform: true, transformOptions: { enableImplicitConversion: true } }],
    ['expectedType', { transform: true, expectedType: Dto }],
  ])('does not compile with %s', async (_option, options) => {
    // Arrange
    const { pipe: sut, fullPath } = pipeWith(options);

    // Act
    await sut.transform({ features: {}, n: 1 }, meta);

    // Assert
    expect(fullPath).toHaveBeenCalledTimes(1);
  });
});
