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

  it('refuses the configuration of a version that failed to load as its metadata is (400 naming why)', async () => {
    // Act
    const error = await captureAppError(Promise.resolve().then(() => sut.modelConfig('penguins', 1)));
    const model = await captureAppError(Promise.resolve().then(() => sut.modelConfig('penguins')));

    // Assert
    expect(error.code).toBe(ErrorCode.MODEL_LOAD_FAILED);
    expect(error.message).toMatch(/penguins' version 1 is FAILED: /);
    expect(model.code).toBe(ErrorCode.MODEL_LOAD_FAILED);
    expect(model.message).toMatch(/penguins' has no loaded version/);
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

  it('keeps an unloaded version\'s statistics for whoever asks for that version; its configuration is 503 unloaded, as its metadata', async () => {
    // Arrange
    await plane.infer({ model: 'iris', version: 1, inputs: SETOSA });
    const served = sut.statistics('iris', 1).model_stats[0];

    // Act
    await registry.unloadVersion(registry.get('iris'), 1);

    // Assert
    expect(sut.statistics('iris').model_stats.map((s) => s.version)).toEqual(['2']);
    expect(sut.statistics('iris', 1).model_stats[0]).toEqual(served);
    expect(served.inference_count).toBe(1);
    const config = await captureAppError(Promise.resolve().then(() => sut.modelConfig('iris', 1)));
    expect(config.code).toBe(ErrorCode.MODEL_NOT_READY);
    expect(config.message).toBe("Model 'iris' version 1 is unloaded");
  });
});
