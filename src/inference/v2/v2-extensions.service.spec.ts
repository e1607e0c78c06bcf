import { Logger } from '@nestjs/common';

import { captureAppError } from '../../../test/support/capture-app-error';
import { FaultInjectingFactory, UnloadableRuntime } from '../../../test/support/spec-runtimes';
import { bootModels } from '../../../test/support/wire-models';
import { ErrorCode } from '../../common/errors/error-code';
import { DataPlane } from '../../models/data-plane.service';
import { ModelRegistryService } from '../../models/registry/model-registry.service';
import { V2ExtensionsService } from './v2-extensions.service';

const SETOSA = { input: { datatype: 'FP32' as const, shape: [1, 4], data: Float32Array.of(5.1, 3.5, 1.4, 0.2) } };

beforeAll(() => {
  Logger.overrideLogger(false);
});

describe('V2ExtensionsService on the bundled models (penguins made to fail loading)', () => {
  let registry: ModelRegistryService;
  let plane: DataPlane;
  let sut: V2ExtensionsService;

  beforeAll(async () => {
    ({ registry, plane } = await bootModels(new FaultInjectingFactory({ penguins: () => new UnloadableRuntime() })));
    sut = new V2ExtensionsService(registry);
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  it('answers the configuration of the active version when none is named', () => {
    // Act
    const config = sut.modelConfig('iris');

    // Assert
    expect(config).toMatchObject({ name: 'iris', max_batch_size: 32, input: [{ name: 'input', dims: [4] }] });
  });

  it('answers 503 for the configuration of a version that never loaded, naming why', async () => {
    // Act
    const error = await captureAppError(Promise.resolve().then(() => sut.modelConfig('penguins', 1)));

    // Assert
    expect(error.code).toBe(ErrorCode.MODEL_NOT_READY);
    expect(error.message).toMatch(/penguins' version 1 is FAILED: .*configuration is known once it has loaded/);
  });

  it('answers 404 for an unknown model or version', async () => {
    // Act
    const model = await captureAppError(Promise.resolve().then(() => sut.statistics('tulips')));
    const version = await captureAppError(Promise.resolve().then(() => sut.modelConfig('iris', 9)));

    // Assert
    expect(model.code).toBe(ErrorCode.MODEL_NOT_FOUND);
    expect(version.code).toBe(ErrorCode.VERSION_NOT_FOUND);
  });

  it('lists only READY versions, unless one version is asked for', () => {
    // Act
    const all = sut.statistics();
    const penguins = sut.statistics('penguins');
    const failed = sut.statistics('penguins', 1);

    // Assert
    expect(all.model_stats.map((s) => `${s.name}/${s.version}`)).toEqual(['bench-mlp/1', 'car-mpg/1', 'iris/1', 'iris/2']);
    expect(penguins.model_stats).toEqual([]);
    expect(failed.model_stats.map((s) => [s.name, s.version, s.inference_count])).toEqual([['penguins', '1', 0]]);
  });

  it('keeps an unloaded version\'s statistics and configuration for whoever asks for that version', async () => {
    // Arrange
    await plane.infer({ model: 'iris', version: 1, inputs: SETOSA });
    const served = sut.statistics('iris', 1).model_stats[0];

    // Act
    await registry.unloadVersion(registry.get('iris'), 1);

    // Assert
    expect(sut.statistics('iris').model_stats.map((s) => s.version)).toEqual(['2']);
    expect(sut.statistics('iris', 1).model_stats[0]).toEqual(served);
    expect(served.inference_count).toBe(1);
    expect(sut.modelConfig('iris', 1)).toMatchObject({ name: 'iris', max_batch_size: 32 });
  });
});
