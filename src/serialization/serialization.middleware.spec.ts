import { Test } from '@nestjs/testing';
import type { Request, Response } from 'express';

import { SERIALIZATION_OPTIONS, SERIALIZATION_PRESETS, SerializationConfig } from './serialization-config';
import { SerializationError } from './serialization.error';
import { SerializationMiddleware } from './serialization.middleware';
import { SerializationModule } from './serialization.module';
import { SerializationService } from './serialization.service';

/** A response whose json() records what would be written. */
function fakeResponse() {
  const written: unknown[] = [];
  const res = { json: (body: unknown) => { written.push(body); return res; } } as unknown as Response;
  return { res, written };
}

function install(sut: SerializationMiddleware) {
  const { res, written } = fakeResponse();
  let nextCalled = false;
  sut.handle({} as Request, res, () => { nextCalled = true; });
  return { res, written, nextCalled: () => nextCalled };
}

describe('SerializationMiddleware', () => {
  const at = new Date('2024-01-02T03:04:05.678Z');
  const create = (config: SerializationConfig) => new SerializationMiddleware(new SerializationService(), config);

  it('serializes a response body with the injected api config and calls next', () => {
    // Arrange
    const { res, written, nextCalled } = install(create({ ...SERIALIZATION_PRESETS.api }));
    // Act
    res.json({ at, scores: new Float32Array([0.5, 0.25]), count: 3n });
    // Assert
    expect(nextCalled()).toBe(true);
    expect(written).toEqual([{ at: '2024-01-02T03:04:05.678Z', scores: [0.5, 0.25], count: 3 }]);
  });

  it('applies the performance preset when that is the injected config', () => {
    const { res, written } = install(create({ ...SERIALIZATION_PRESETS.performance }));
    res.json({ at });
    expect(written).toEqual([{ at: at.getTime() / 1000 }]);
  });

  it('passes an undefined body through untouched', () => {
    const { res, written } = install(create({ ...SERIALIZATION_PRESETS.api }));
    res.json(undefined);
    expect(written).toEqual([undefined]);
  });

  it('throws SerializationError (for the exception filter) on a cycle or over max_size, writing nothing', () => {
    // Arrange
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const { res, written } = install(create({ ...SERIALIZATION_PRESETS.api }));
    const small = install(create({ ...SERIALIZATION_PRESETS.api, max_size: 64 }));
    // Act / Assert
    expect(() => res.json(cyclic)).toThrow(SerializationError);
    expect(() => small.res.json({ text: 'x'.repeat(1000) })).toThrow(/max_size/);
    expect([...written, ...small.written]).toEqual([]);
  });
});

describe('SerializationModule', () => {
  it('registerAsync resolves the factory result and exports the middleware', async () => {
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
    const { res, written } = install(moduleRef.get(SerializationMiddleware));
    res.json({ at: new Date(5) });
    // Assert
    expect(moduleRef.get<SerializationConfig>(SERIALIZATION_OPTIONS).date_format).toBe('unix_ms');
    expect(written).toEqual([{ at: 5 }]);
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
