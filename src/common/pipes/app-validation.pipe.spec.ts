import { BadRequestException } from '@nestjs/common';
import { IsInt, IsOptional } from 'class-validator';

import { IsObjectOrArray } from '../../inference/dto/validators';
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
    await expect(sut.transform({ features: [1, 2] }, meta)).resolves.toEqual({ features: [1, 2] });
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
    await expect(sut.transform({ n: 2 }, { type: 'body', metatype: Plain })).resolves.toEqual({ n: 2 });
    await expect(errorOf([1, 2])).resolves.toMatch(/features must be an object/);
  });
});
