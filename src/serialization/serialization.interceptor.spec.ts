import { CallHandler, ExecutionContext, StreamableFile } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { lastValueFrom, of } from 'rxjs';

import { SERIALIZATION_OPTIONS, SERIALIZATION_PRESETS, SerializationConfig } from './serialization-config';
import { SerializationError } from './serialization.error';
import { SerializationInterceptor } from './serialization.interceptor';
import { SerializationModule } from './serialization.module';
import { SerializationService } from './serialization.service';

/** What the interceptor makes of a handler's answer. */
const through = (sut: SerializationInterceptor, body: unknown): Promise<unknown> =>
  lastValueFrom(sut.intercept({} as ExecutionContext, { handle: () => of(body) } as CallHandler));

describe('SerializationInterceptor', () => {
  const at = new Date('2024-01-02T03:04:05.678Z');
  const create = (config: SerializationConfig) => new SerializationInterceptor(new SerializationService(), config);

  it('serializes an answer with the injected api config', async () => {
    // Arrange
    const sut = create({ ...SERIALIZATION_PRESETS.api });
    // Act
    const body = await through(sut, { at, scores: new Float32Array([0.5, 0.25]), count: 3n });
    // Assert
    expect(body).toEqual({ at: '2024-01-02T03:04:05.678Z', scores: [0.5, 0.25], count: 3 });
  });

  it('applies the performance preset when that is the injected config', async () => {
    expect(await through(create({ ...SERIALIZATION_PRESETS.performance }), { at })).toEqual({ at: at.getTime() / 1000 });
  });

  it('passes an undefined answer and a binary answer through untouched', async () => {
    const sut = create({ ...SERIALIZATION_PRESETS.api });
    const file = new StreamableFile(Buffer.from([1, 2]));
    expect(await through(sut, undefined)).toBeUndefined();
    expect(await through(sut, file)).toBe(file);
  });

  it('fails with SerializationError (for the exception filter) on a cycle or over max_size', async () => {
    // Arrange
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    // Act / Assert
    await expect(through(create({ ...SERIALIZATION_PRESETS.api }), cyclic)).rejects.toThrow(SerializationError);
    await expect(through(create({ ...SERIALIZATION_PRESETS.api, max_size: 64 }), { text: 'x'.repeat(1000) })).rejects.toThrow(/max_size/);
  });
});

describe('SerializationModule', () => {
  it('registerAsync resolves the factory result and exports the interceptor', async () => {
    // Arrange
    const DATE_FORMAT = Symbol('DATE_FORMAT');
    const moduleRef = await Test.createTestingModule({
      imports: [
        SerializationModule.registerAsync({
          imports: [{ module: class DateFormatModule {}, providers: [{ provide: DATE_FORMAT, useValue: 'unix_ms' }], exports: [DATE_FORMAT] }],
          inject: [DATE_FORMAT],
          useFactory: (dateFormat: SerializationConfig['date_format']) => ({ ...SERIALIZATION_PRESETS.api, date_format: dateFormat }),
        }),
      ],
    }).compile();
    // Act
    const body = await through(moduleRef.get(SerializationInterceptor), { at: new Date(5) });
    // Assert
    expect(moduleRef.get<SerializationConfig>(SERIALIZATION_OPTIONS).date_format).toBe('unix_ms');
    expect(body).toEqual({ at: 5 });
  });

  it('register accepts a preset name', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [SerializationModule.register('performance')] }).compile();
    expect(moduleRef.get<SerializationConfig>(SERIALIZATION_OPTIONS)).toEqual(SERIALIZATION_PRESETS.performance);
  });

  it('fails at boot on an invalid config', async () => {
    const builder = Test.createTestingModule({
      imports: [SerializationModule.registerAsync({ useFactory: () => ({ ...SERIALIZATION_PRESETS.api, max_depth: Number.NaN }) })],
    });
    await expect(builder.compile()).rejects.toThrow(/max_depth/);
  });
});
