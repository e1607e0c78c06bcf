import { CallHandler, ExecutionContext, StreamableFile } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { lastValueFrom, of } from 'rxjs';

import { SERIALIZATION_OPTIONS, SERIALIZATION_PRESETS, SerializationConfig } from './serialization-config';
import { SerializationError } from './serialization.error';
import { SerializationInterceptor } from './serialization.interceptor';
import { SerializationModule } from './serialization.module';
import { SerializationService } from './serialization.service';

function contextOf(type: 'http' | 'rpc' | 'ws'): ExecutionContext {
  return { getType: () => type } as unknown as ExecutionContext;
}

function handlerOf(body: unknown): CallHandler {
  return { handle: () => of(body) };
}

describe('SerializationInterceptor', () => {
  const at = new Date('2024-01-02T03:04:05.678Z');

  function create(config: SerializationConfig): SerializationInterceptor {
    return new SerializationInterceptor(new SerializationService(), config);
  }

  it('serializes an HTTP response with the injected api config', async () => {
    // Arrange
    const sut = create({ ...SERIALIZATION_PRESETS.api });
    const body = { at, scores: new Float32Array([0.5, 0.25]), count: 3n };

    // Act
    const result = await lastValueFrom(sut.intercept(contextOf('http'), handlerOf(body)));

    // Assert
    expect(result).toEqual({ at: '2024-01-02T03:04:05.678Z', scores: [0.5, 0.25], count: 3 });
  });

  it('applies the performance preset when that is the injected config', async () => {
    // Arrange
    const sut = create({ ...SERIALIZATION_PRESETS.performance });

    // Act
    const result = await lastValueFrom(sut.intercept(contextOf('http'), handlerOf({ at })));

    // Assert
    expect(result).toEqual({ at: 1704164645.678 });
  });

  it('passes undefined bodies and StreamableFile through untouched', async () => {
    // Arrange
    const sut = create({ ...SERIALIZATION_PRESETS.api });
    const file = new StreamableFile(Buffer.from('abc'));

    // Act
    const empty = await lastValueFrom(sut.intercept(contextOf('http'), handlerOf(undefined)));
    const stream = await lastValueFrom(sut.intercept(contextOf('http'), handlerOf(file)));

    // Assert
    expect(empty).toBeUndefined();
    expect(stream).toBe(file);
  });

  it('leaves non-HTTP responses untouched so binary transports keep their bytes', async () => {
    // Arrange
    const sut = create({ ...SERIALIZATION_PRESETS.api });
    const body = { raw: Buffer.from('abc') };

    // Act
    const result = await lastValueFrom(sut.intercept(contextOf('rpc'), handlerOf(body)));

    // Assert
    expect(result).toBe(body);
  });

  it('propagates SerializationError to the exception filter', async () => {
    // Arrange
    const sut = create({ ...SERIALIZATION_PRESETS.api });
    const body: Record<string, unknown> = {};
    body.self = body;

    // Act
    const result = lastValueFrom(sut.intercept(contextOf('http'), handlerOf(body)));

    // Assert
    await expect(result).rejects.toBeInstanceOf(SerializationError);
    await expect(result).rejects.toMatchObject({ reason: 'circular', path: '$.self' });
  });

  it('propagates max_size from the injected config', async () => {
    // Arrange
    const sut = create({ ...SERIALIZATION_PRESETS.api, max_size: 16 });

    // Act
    const result = lastValueFrom(sut.intercept(contextOf('http'), handlerOf({ text: 'x'.repeat(100) })));

    // Assert
    await expect(result).rejects.toMatchObject({ reason: 'max_size' });
  });
});

describe('SerializationModule', () => {
  it('registerAsync resolves the factory result and exports the interceptor', async () => {
    // Arrange
    const DATE_FORMAT = Symbol('DATE_FORMAT');
    const moduleRef = await Test.createTestingModule({
      imports: [
        SerializationModule.registerAsync({
          imports: [
            {
              module: class DateFormatModule {},
              providers: [{ provide: DATE_FORMAT, useValue: 'unix_ms' }],
              exports: [DATE_FORMAT],
            },
          ],
          inject: [DATE_FORMAT],
          useFactory: (dateFormat: SerializationConfig['date_format']) => ({
            ...SERIALIZATION_PRESETS.api,
            date_format: dateFormat,
          }),
        }),
      ],
    }).compile();

    // Act
    const sut = moduleRef.get(SerializationInterceptor);
    const options = moduleRef.get<SerializationConfig>(SERIALIZATION_OPTIONS);
    const result = await lastValueFrom(sut.intercept(contextOf('http'), handlerOf({ at: new Date(5) })));

    // Assert
    expect(options.date_format).toBe('unix_ms');
    expect(result).toEqual({ at: 5 });
    expect(moduleRef.get(SerializationService)).toBeInstanceOf(SerializationService);
  });

  it('register accepts a preset name', async () => {
    // Arrange
    const moduleRef = await Test.createTestingModule({ imports: [SerializationModule.register('performance')] }).compile();

    // Act
    const options = moduleRef.get<SerializationConfig>(SERIALIZATION_OPTIONS);

    // Assert
    expect(options).toEqual(SERIALIZATION_PRESETS.performance);
  });

  it('fails at boot on an invalid config', async () => {
    // Arrange
    const builder = Test.createTestingModule({
      imports: [SerializationModule.registerAsync({ useFactory: () => ({ ...SERIALIZATION_PRESETS.api, max_depth: Number.NaN }) })],
    });

    // Act / Assert
    await expect(builder.compile()).rejects.toThrow(/max_depth/);
  });
});
