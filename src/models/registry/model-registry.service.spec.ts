import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { wireModels } from '../../../test/support/wire-models';
import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { AllConfig, buildConfig } from '../../config/app-config';
import { FaultInjectingFactory, FaultyRuntime } from '../../../test/support/spec-runtimes';
import { ShutdownState } from '../../common/lifecycle/shutdown-state';
import { DefaultRuntimeFactory } from '../runtimes/default-runtime.factory';
import { ModelRegistryService } from './model-registry.service';

const BUNDLED = resolve(__dirname, '../../../models');

/**
 * A repository built from the bundled iris files: healthy models, staged ones, and models that
 * fail for real (a corrupt model.onnx, a model.json that does not fit the model, unparsable JSON).
 */
async function buildRepository(root: string): Promise<void> {
  const iris = JSON.parse(await readFile(join(BUNDLED, 'iris', 'model.json'), 'utf8'));
  const model = async (name: string, manifest: unknown, versions: Record<string, 'v1' | 'v2' | 'corrupt'>) => {
    await mkdir(join(root, name), { recursive: true });
    await writeFile(join(root, name, 'model.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
    for (const [version, source] of Object.entries(versions)) {
      const target = join(root, name, version, 'model.onnx');
      await mkdir(join(root, name, version));
      if (source === 'corrupt') await writeFile(target, 'this is not an ONNX protobuf');
      else await copyFile(join(BUNDLED, 'iris', source === 'v1' ? '1' : '2', 'model.onnx'), target);
    }
  };
  await model('iris', iris, { '1': 'v1', '2': 'v2' });
  await model('staged', { ...iris, name: 'staged', stages: { active: 1, staging: 2 } }, { '1': 'v1', '2': 'v2' });
  await model('stage-failed', { ...iris, name: 'stage-failed', stages: { active: 2 } }, { '1': 'v1', '2': 'corrupt' });
  await model('corrupt', { ...iris, name: 'corrupt' }, { '1': 'corrupt' });
  await model('mismatched', { ...iris, name: 'mismatched', features: ['a', 'b', 'c'] }, { '1': 'v1' });
  await model('bad-json', '{ "name": ', { '1': 'v1' });
  await model('narrowed', { name: 'narrowed', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }] }, { '1': 'v2' });
  await model('misdeclared', { name: 'misdeclared', inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 5] }] }, { '1': 'v2' });
  // No model.json at all: the folder names the model, the ONNX file gives the signature.
  await mkdir(join(root, 'bare', '1'), { recursive: true });
  await copyFile(join(BUNDLED, 'iris', '2', 'model.onnx'), join(root, 'bare', '1', 'iris-mlp.onnx'));
  await mkdir(join(root, 'ambiguous', '1'), { recursive: true });
  for (const file of ['a.onnx', 'b.onnx']) await copyFile(join(BUNDLED, 'iris', '2', 'model.onnx'), join(root, 'ambiguous', '1', file));
}

async function boot(root: string, env: Record<string, string> = {}): Promise<ModelRegistryService> {
  const config = new ConfigService<AllConfig, true>(buildConfig({ MODEL_REPOSITORY: root, ...env }));
  const sut = wireModels(config, new DefaultRuntimeFactory()).registry;
  await sut.onModuleInit();
  await sut.whenLoaded();
  return sut;
}

function captureAppError(act: () => unknown): AppError {
  try {
    act();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

describe('ModelRegistryService', () => {
  let root: string;

  beforeAll(async () => {
    // Load failures are logged on purpose here; keep the test output readable.
    Logger.overrideLogger(false);
    root = await mkdtemp(join(tmpdir(), 'model-registry-'));
    await buildRepository(root);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe('after boot', () => {
    let sut: ModelRegistryService;

    beforeAll(async () => {
      sut = await boot(root);
    });

    afterAll(async () => {
      await sut.onApplicationShutdown();
    });

    it('lists every model folder, failed ones included', () => {
      // Act
      const names = sut.list().map((e) => e.name);

      // Assert
      expect(names.sort()).toEqual(['ambiguous', 'bad-json', 'bare', 'corrupt', 'iris', 'misdeclared', 'mismatched', 'narrowed', 'stage-failed', 'staged']);
    });

    it('loads every version, makes the highest one active and keeps the signature the model reports', () => {
      // Act
      const iris = sut.get('iris');

      // Assert
      expect([...iris.versions.values()].map((v) => [v.version, v.state])).toEqual([[1, 'READY'], [2, 'READY']]);
      expect(iris.active).toBe(2);
      expect(iris.versions.get(1)!.signature).toEqual({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
      });
    });

    it('honours the stages of model.json', () => {
      // Act
      const staged = sut.get('staged');

      // Assert
      expect(staged.active).toBe(1);
      expect(staged.staging).toBe(2);
    });

    it('falls back to the highest READY version when the declared active one fails', () => {
      // Act
      const entry = sut.get('stage-failed');

      // Assert
      expect(entry.versions.get(2)!.state).toBe('FAILED');
      expect(entry.active).toBe(1);
    });

    it('marks a version whose model file does not load FAILED with the runtime reason', () => {
      // Act
      const version = sut.get('corrupt').versions.get(1)!;

      // Assert
      expect(version.state).toBe('FAILED');
      expect(version.reason).toMatch(/onnxruntime could not load model\.onnx/);
      expect(sut.get('corrupt').active).toBeUndefined();
    });

    it('marks a version that does not fit its model.json FAILED with the mismatch', () => {
      // Act
      const version = sut.get('mismatched').versions.get(1)!;

      // Assert
      expect(version.state).toBe('FAILED');
      expect(version.reason).toBe('model input takes 4 features, model.json lists 3');
    });

    it('serves a model without model.json: named by its folder, its only .onnx file loaded, the signature from the ONNX session', async () => {
      // Act
      const entry = sut.get('bare');
      const { version } = sut.route('bare');
      const outputs = await version.run({ input: { datatype: 'FP32', shape: [1, 4], data: Float32Array.from([5.1, 3.5, 1.4, 0.2]) } });

      // Assert
      expect(entry.error).toBeUndefined();
      expect(entry.features).toBeUndefined();
      expect(entry.outputKind).toBe('raw');
      expect(version.state).toBe('READY');
      expect(version.signature).toEqual({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
      });
      expect(outputs.probabilities.shape).toEqual([1, 3]);
    });

    it('fails a version folder with several .onnx files and no model.onnx, naming them', () => {
      // Act
      const version = sut.get('ambiguous').versions.get(1)!;

      // Assert
      expect(version.state).toBe('FAILED');
      expect(version.reason).toBe('several .onnx files in ambiguous/1/ and none named model.onnx (a.onnx, b.onnx): keep one, or name the one to serve model.onnx');
    });

    it('serves with the shape model.json declares where it narrows the model\'s', () => {
      // Act
      const version = sut.get('narrowed').versions.get(1)!;

      // Assert
      expect(version.state).toBe('READY');
      expect(version.signature!.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [1, 4] }]);
    });

    it('fails a version whose declared shape contradicts a fixed dimension of the model, naming it', () => {
      // Act
      const version = sut.get('misdeclared').versions.get(1)!;

      // Assert
      expect(version.state).toBe('FAILED');
      expect(version.reason).toBe("input 'input' has shape [-1,4] in the model, [-1,5] in model.json (dimension 1 is 4 in the model, 5 in model.json)");
    });

    it('keeps a model with an unusable model.json, with the reason and no versions', () => {
      // Act
      const entry = sut.get('bad-json');

      // Assert
      expect(entry.error).toMatch(/^model\.json unreadable: /);
      expect(entry.versions.size).toBe(0);
    });

    describe('route', () => {
      it("routes to the active version as 'stable'", () => {
        // Act
        const route = sut.route('iris');

        // Assert
        expect(route.entry.name).toBe('iris');
        expect(route.version.version).toBe(2);
        expect(route.variant).toBe('stable');
      });

      it("routes a requested version as 'pinned'", () => {
        // Act
        const route = sut.route('staged', 2);

        // Assert
        expect(route.version.version).toBe(2);
        expect(route.variant).toBe('pinned');
      });

      it('refuses an unknown model with MODEL_NOT_FOUND', () => {
        // Act
        const error = captureAppError(() => sut.route('tulips'));

        // Assert
        expect(error.code).toBe(ErrorCode.MODEL_NOT_FOUND);
      });

      it('refuses an unknown version with VERSION_NOT_FOUND', () => {
        // Act
        const error = captureAppError(() => sut.route('iris', 3));

        // Assert
        expect(error.code).toBe(ErrorCode.VERSION_NOT_FOUND);
        expect(error.message).toBe("Model 'iris' has no version 3");
      });

      it('refuses a FAILED version with MODEL_NOT_READY giving the reason and a retry delay', () => {
        // Act
        const error = captureAppError(() => sut.route('stage-failed', 2));

        // Assert
        expect(error.code).toBe(ErrorCode.MODEL_NOT_READY);
        expect(error.message).toMatch(/^Model 'stage-failed' version 2 is FAILED: onnxruntime could not load model\.onnx/);
        expect(error.retryAfterSeconds).toBe(5);
      });

      it('refuses a model without a READY version with MODEL_NOT_READY', () => {
        // Act
        const error = captureAppError(() => sut.route('corrupt'));

        // Assert
        expect(error.code).toBe(ErrorCode.MODEL_NOT_READY);
      });

      it('refuses a model whose model.json is unusable with MODEL_NOT_READY giving the reason', () => {
        // Act
        const error = captureAppError(() => sut.route('bad-json'));

        // Assert
        expect(error.code).toBe(ErrorCode.MODEL_NOT_READY);
        expect(error.message).toContain('model.json unreadable');
      });
    });

    it('serves real inference through a READY version', async () => {
      // Arrange
      const { version } = sut.route('iris', 1);

      // Act
      const outputs = await version.run({ input: { datatype: 'FP32', shape: [1, 4], data: Float32Array.from([5.1, 3.5, 1.4, 0.2]) } });

      // Assert
      expect(outputs.probabilities.shape).toEqual([1, 3]);
      const [setosa, versicolor, virginica] = Array.from(outputs.probabilities.data as Float32Array);
      expect(setosa).toBeGreaterThan(Math.max(versicolor, virginica));
    });
  });

  describe('applyRouting (a rollout change, or one made through another replica)', () => {
    let sut: ModelRegistryService;

    beforeEach(async () => {
      sut = await boot(root);
    });

    afterEach(async () => {
      await sut.onApplicationShutdown();
    });

    it('switches the settings at once; the variant stats restart when a different canary starts, not when one ends', () => {
      // Arrange
      const entry = sut.get('iris');
      entry.variants.record('stable', true, 1);

      // Act
      sut.applyRouting('iris', { active: 1, staging: 2, previous_active: 2 });
      const afterPromotion = entry.variants.counts('stable').requests;
      sut.applyRouting('iris', { active: 1, staging: 2, previous_active: 2, canary: { version: 2, percentage: 10, sticky: false } });
      const afterCanaryStart = entry.variants.counts('stable').requests;
      entry.variants.record('canary', false, 1);
      sut.applyRouting('iris', { active: 1, staging: 2, previous_active: 2 });

      // Assert
      expect([sut.route('iris').version.version, entry.staging, entry.previousActive]).toEqual([1, 2, 2]);
      expect([afterPromotion, afterCanaryStart]).toEqual([1, 0]);
      expect(entry.canary).toBeUndefined();
      expect(entry.variants.counts('canary').requests).toBe(1);
    });

    it('drops versions this repository does not have, keeping the active one', () => {
      // Act
      sut.applyRouting('iris', { active: 9, canary: { version: 8, percentage: 5, sticky: false } });

      // Assert
      expect(sut.get('iris').active).toBe(2);
      expect(sut.get('iris').canary).toBeUndefined();
    });

    it('keeps the settings of a model that is not serving here for when it is loaded', () => {
      // Act
      sut.applyRouting('bad-json', { active: 1 });
      sut.applyRouting('not-in-this-repository', { active: 3 });

      // Assert
      expect(sut.savedAtBoot('bad-json')).toEqual({ active: 1 });
      expect(sut.savedAtBoot('not-in-this-repository')).toEqual({ active: 3 });
    });
  });

  describe('with MODEL_VERSION pinning the default model', () => {
    let sut: ModelRegistryService;

    beforeAll(async () => {
      sut = await boot(root, { MODEL_ID: 'staged', MODEL_VERSION: '2' });
    });

    afterAll(async () => {
      await sut.onApplicationShutdown();
    });

    it("routes the default model to the pinned version as 'pinned'", () => {
      // Act
      const route = sut.route('staged');

      // Assert
      expect(sut.defaultModel).toBe('staged');
      expect(route.version.version).toBe(2);
      expect(route.variant).toBe('pinned');
    });

    it('lets a request name another version of the default model', () => {
      // Act
      const route = sut.route('staged', 1);

      // Assert
      expect(route.version.version).toBe(1);
    });

    it('leaves the other models on their active version', () => {
      // Act
      const route = sut.route('iris');

      // Assert
      expect(route.version.version).toBe(2);
      expect(route.variant).toBe('stable');
    });
  });

  describe('at shutdown', () => {
    it('releases every runtime: READY versions become UNLOADED, FAILED ones stay FAILED', async () => {
      // Arrange
      const sut = await boot(root);

      // Act
      await sut.onApplicationShutdown();

      // Assert
      expect([...sut.get('iris').versions.values()].map((v) => v.state)).toEqual(['UNLOADED', 'UNLOADED']);
      expect(sut.get('corrupt').versions.get(1)!.state).toBe('FAILED');
      expect(captureAppError(() => sut.route('iris')).code).toBe(ErrorCode.MODEL_NOT_READY);
      await expect(sut.get('iris').versions.get(2)!.run({})).rejects.toThrow('version 2 is UNLOADED');
    });

    it('waits for batches still running only as long as the stop budget has left, not a second SHUTDOWN_TIMEOUT_SECONDS', async () => {
      // Arrange: iris stalls (fault injection); a 600 s timeout the old code would have waited out
      const shutdown = new ShutdownState();
      const config = new ConfigService<AllConfig, true>(buildConfig({ MODEL_REPOSITORY: BUNDLED, SHUTDOWN_TIMEOUT_SECONDS: '600', TIMEOUT_SECONDS: '3600' }));
      const control: { mode: 'ok' | 'stall' } = { mode: 'ok' };
      const sut = wireModels(config, new FaultInjectingFactory({ iris: () => new FaultyRuntime(control) }), shutdown).registry;
      await sut.onModuleInit();
      await sut.whenLoaded();
      control.mode = 'stall';
      const version = sut.route('iris').version;
      void version.run({ input: { datatype: 'FP32', shape: [1, 4], data: Float32Array.from([5.1, 3.5, 1.4, 0.2]) } }).catch(() => undefined);
      shutdown.startBudget(0);

      // Act
      await sut.onApplicationShutdown();

      // Assert
      expect(version.state).toBe('UNLOADED');
    });
  });
});
