import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

import { captureAppError } from '../../../test/support/capture-app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { AllConfig, buildConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { cacheKey } from '../cache/cache-key';
import { LruPredictionCache } from '../cache/lru-prediction-cache';
import { ModelRegistryService, Route } from '../registry/model-registry.service';
import { RegistryStateSync } from '../registry/registry-state-sync.service';
import { RegistryState } from '../registry/state/registry-state';
import { FileRegistryStateStore } from '../registry/state/file-registry-state.store';
import { RegistryStateStore } from '../registry/state/registry-state.store';
import { VersionLoader } from '../registry/version-loader';
import { ModelRepositoryService } from '../repository/model-repository.service';
import { CanaryPolicy } from '../routing/routing-policy';
import { DefaultRuntimeFactory } from '../runtimes/default-runtime.factory';
import { ModelRuntime, ModelRuntimeFactory, RuntimeOptions, RuntimePlacement, RuntimeSignature } from '../runtimes/model-runtime';
import { NamedTensors } from '../tensors/tensor';
import { RolloutTrafficService } from './rollout-traffic.service';
import { RolloutService } from './rollout.service';

const BUNDLED = resolve(__dirname, '../../../models');
type Source = 'v1' | 'v2' | 'corrupt';

const quiet = { warn: () => undefined, error: () => undefined };

/** A one-shot gate: `wait()` blocks until `release()`; `reached` resolves once something waits. */
class Hold {
  private arrive!: () => void;
  private open!: () => void;
  readonly reached = new Promise<void>((r) => { this.arrive = r; });
  private readonly opened = new Promise<void>((r) => { this.open = r; });

  wait(): Promise<void> {
    this.arrive();
    return this.opened;
  }

  release(): void {
    this.open();
  }
}

/**
 * Fault injection: the real ONNX runtime, except that the load of a chosen model version stalls
 * until the test releases it (a slow load, to hold a version in LOADING or an operation mid-way).
 */
class HoldingRuntimeFactory extends ModelRuntimeFactory {
  private readonly real = new DefaultRuntimeFactory();
  private readonly holds = new Map<string, Hold>();

  /** Holds the next load of `model` version `version`. */
  hold(model: string, version: number): Hold {
    const hold = new Hold();
    this.holds.set(`${model}/${version}`, hold);
    return hold;
  }

  create(kind: string, placement?: RuntimePlacement): ModelRuntime {
    const inner = this.real.create(kind, placement);
    const holds = this.holds;
    return new (class extends ModelRuntime {
      async load(path: string, options?: RuntimeOptions): Promise<RuntimeSignature> {
        const key = `${basename(dirname(dirname(path)))}/${basename(dirname(path))}`;
        const hold = holds.get(key);
        holds.delete(key);
        await hold?.wait();
        return inner.load(path, options);
      }
      run(inputs: NamedTensors): Promise<NamedTensors> {
        return inner.run(inputs);
      }
      unload(): Promise<void> {
        return inner.unload();
      }
    })();
  }
}

/** A state store whose saves fail (a full or read-only disk). */
class FailingStateStore extends RegistryStateStore {
  async load(): Promise<RegistryState | undefined> {
    return undefined;
  }
  save(): Promise<void> {
    return Promise.reject(new Error('ENOSPC: no space left on device (injected)'));
  }
}

async function addModel(root: string, name: string, manifest: object | string, versions: Record<string, Source>): Promise<void> {
  await mkdir(join(root, name), { recursive: true });
  await writeFile(join(root, name, 'model.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  for (const [version, source] of Object.entries(versions)) await addVersion(root, name, Number(version), source);
}

async function addVersion(root: string, name: string, version: number, source: Source): Promise<void> {
  const target = join(root, name, String(version), 'model.onnx');
  await mkdir(dirname(target), { recursive: true });
  if (source === 'corrupt') await writeFile(target, 'this is not an ONNX protobuf');
  else await copyFile(join(BUNDLED, 'iris', source === 'v1' ? '1' : '2', 'model.onnx'), target);
}

async function irisManifest(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(BUNDLED, 'iris', 'model.json'), 'utf8'));
}

/**
 * `iris`: active 2 (model.json stages), READY 1 and 4, FAILED 3 (a corrupt file).
 * `other`: a clean copy, versions 1 and 2 (active 2).
 */
async function buildRepository(root: string): Promise<void> {
  const iris = await irisManifest();
  await addModel(root, 'iris', { ...iris, stages: { active: 2 } }, { '1': 'v1', '2': 'v2', '3': 'corrupt', '4': 'v1' });
  await addModel(root, 'other', { ...iris, name: 'other' }, { '1': 'v1', '2': 'v2' });
}

/** The rollout's collaborators wired by hand as ModelsModule wires them, on `root` and the state file `statePath`. */
function wire(root: string, statePath: string, options: { runtimes?: ModelRuntimeFactory; store?: RegistryStateStore; env?: Record<string, string> } = {}) {
  const config = new ConfigService<AllConfig, true>(buildConfig({ MODEL_REPOSITORY: root, ...options.env }));
  const metrics = new MetricsService(config);
  const store = options.store ?? new FileRegistryStateStore(statePath, quiet);
  const runtimes = options.runtimes ?? new DefaultRuntimeFactory();
  const registry = new ModelRegistryService(new ModelRepositoryService(config), new VersionLoader(runtimes, metrics, config), store, config, metrics);
  const cache = new LruPredictionCache({ enabled: true, maxEntries: 100, ttlSeconds: 0 });
  const sut = new RolloutService(registry, new RegistryStateSync(registry, store), cache, metrics);
  const traffic = new RolloutTrafficService(sut, metrics, config);
  return { metrics, store, registry, cache, sut, traffic };
}

type Wired = ReturnType<typeof wire>;

/** A counter's value (0 before its first increment). */
async function counter(metrics: MetricsService, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  const values = metric ? (await metric.get()).values : [];
  return values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))?.value ?? 0;
}

const rolloutEvents = (metrics: MetricsService, model: string, action: string) => counter(metrics, 'ml_rollout_events_total', { model_id: model, action });

/** What a fresh process would read from the state file. */
const savedState = (path: string) => new FileRegistryStateStore(path, quiet).load();

const irisRow: NamedTensors = { input: { datatype: 'FP32', shape: [1, 4], data: Float32Array.from([5.1, 3.5, 1.4, 0.2]) } };

describe('RolloutService', () => {
  let root: string;
  let statePath: string;
  const booted: Wired[] = [];

  /** Wires and boots on the test's repository, waiting for the boot-time loads. */
  async function boot(options: Parameters<typeof wire>[2] = {}): Promise<Wired> {
    const wired = wire(root, statePath, options);
    booted.push(wired);
    await wired.registry.onModuleInit();
    await wired.registry.whenLoaded();
    return wired;
  }

  beforeAll(() => {
    // Load failures, aborts and save failures are logged on purpose here; keep the output readable.
    Logger.overrideLogger(false);
  });

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'rollout-'));
    statePath = join(root, '.registry-state.json');
    await buildRepository(root);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(booted.splice(0).map((w) => w.registry.onApplicationShutdown()));
    await rm(root, { recursive: true, force: true });
  });

  describe('promote', () => {
    it('makes a READY version active; the previous active becomes staging and the rollback target', async () => {
      // Arrange
      const { sut, registry, metrics } = await boot();

      // Act
      const result = await sut.promote('iris', 1);

      // Assert
      expect(result).toEqual({ model_id: 'iris', active_version: '1', staging_version: '2', previous_active_version: '2' });
      const route = registry.route('iris');
      expect([route.version.version, route.variant]).toEqual([1, 'stable']);
      expect(await rolloutEvents(metrics, 'iris', 'promote')).toBe(1);
    });

    it('has persisted the new stages once it answers', async () => {
      // Arrange
      const { sut } = await boot();

      // Act
      await sut.promote('iris', 1);

      // Assert
      const saved = await savedState(statePath);
      expect(saved?.models.iris).toEqual({ active: 1, staging: 2, previous_active: 2 });
    });

    it.each([
      ['the active version', 2, ErrorCode.CONFLICT, 'Version 2 is already active'],
      ['a FAILED version (409, not a retryable 503: an operator must load it first)', 3, ErrorCode.CONFLICT, "Version 3 of 'iris' is FAILED; load it first"],
      ['an unknown version', 9, ErrorCode.VERSION_NOT_FOUND, "Model 'iris' has no version 9"],
    ])('refuses %s and changes nothing', async (_, version, code, message) => {
      // Arrange
      const { sut, registry, metrics } = await boot();

      // Act
      const error = await captureAppError(sut.promote('iris', version));

      // Assert
      expect([error.code, error.message]).toEqual([code, message]);
      const entry = registry.get('iris');
      expect([entry.active, entry.staging, entry.previousActive]).toEqual([2, undefined, undefined]);
      expect(await rolloutEvents(metrics, 'iris', 'promote')).toBe(0);
      expect(await savedState(statePath)).toBeUndefined();
    });

    it('refuses an unknown model with 404 MODEL_NOT_FOUND', async () => {
      // Arrange
      const { sut } = await boot();

      // Act
      const error = await captureAppError(sut.promote('tulips', 1));

      // Assert
      expect(error.code).toBe(ErrorCode.MODEL_NOT_FOUND);
    });

    it('refuses an UNLOADED version with 409 naming its state', async () => {
      // Arrange
      const { sut } = await boot();
      await sut.unload('iris', 1);

      // Act
      const error = await captureAppError(sut.promote('iris', 1));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.CONFLICT, "Version 1 of 'iris' is UNLOADED; load it first"]);
    });

    it('ends a canary and a shadow on the version it promotes, and keeps a canary on another version', async () => {
      // Arrange
      const { sut, registry } = await boot();
      await sut.setShadow('iris', { version: 1, percentage: 100 });
      await sut.setCanary('iris', { version: 1, percentage: 10, sticky: false });

      // Act
      await sut.promote('iris', 1);
      await sut.setCanary('iris', { version: 4, percentage: 10, sticky: false });
      await sut.promote('iris', 2);

      // Assert
      const entry = registry.get('iris');
      expect(entry.shadow).toBeUndefined();
      expect(entry.canary).toEqual({ version: 4, percentage: 10, sticky: false });
      expect((await savedState(statePath))?.models.iris).toEqual({ active: 2, staging: 1, previous_active: 1, canary: { version: 4, percentage: 10, sticky: false } });
    });
  });

  describe('rollback', () => {
    it('refuses with 409 when there is no previous active version', async () => {
      // Arrange
      const { sut, registry } = await boot();

      // Act
      const error = await captureAppError(sut.rollback('iris'));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.CONFLICT, "Model 'iris' has no previous active version to roll back to"]);
      expect(registry.get('iris').active).toBe(2);
    });

    it('goes back to the previous active version, persisted, and the stages follow', async () => {
      // Arrange
      const { sut, registry, metrics } = await boot();
      await sut.promote('iris', 1);

      // Act
      const result = await sut.rollback('iris');

      // Assert
      expect(result).toEqual({ model_id: 'iris', active_version: '2', staging_version: '1', previous_active_version: '1' });
      expect(registry.route('iris').version.version).toBe(2);
      expect(await rolloutEvents(metrics, 'iris', 'rollback')).toBe(1);
      expect((await savedState(statePath))?.models.iris).toEqual({ active: 2, staging: 1, previous_active: 1 });
    });

    it('refuses with 409 when the previous active version was unloaded since, and keeps serving the active one', async () => {
      // Arrange
      const { sut, registry } = await boot();
      await sut.promote('iris', 1);
      await sut.unload('iris', 2);

      // Act
      const error = await captureAppError(sut.rollback('iris'));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.CONFLICT, "Version 2 of 'iris' is UNLOADED; load it first"]);
      expect(registry.route('iris').version.version).toBe(1);
    });
  });

  describe('canary', () => {
    const policy: CanaryPolicy = { version: 1, percentage: 10, sticky: true, auto_abort: { max_error_rate: 0.1, min_requests: 50 } };

    it('starts on a READY version other than the active one, persisted, and answers its fresh stats', async () => {
      // Arrange
      const { sut, registry, metrics } = await boot();

      // Act
      const result = await sut.setCanary('iris', policy);

      // Assert
      expect(result).toMatchObject({ model_id: 'iris', canary: policy, canary_requests: 0, stable_requests: 0, canary_percentage_target: 10, total_requests: 0 });
      expect(registry.get('iris').canary).toEqual(policy);
      expect(await rolloutEvents(metrics, 'iris', 'canary_start')).toBe(1);
      expect((await savedState(statePath))?.models.iris.canary).toEqual(policy);
    });

    it('restarts the stats when it replaces a canary', async () => {
      // Arrange
      const { sut, registry } = await boot();
      await sut.setCanary('iris', policy);
      const entry = registry.get('iris');
      entry.variants.record('canary', false, 3);
      entry.variants.record('stable', true, 2);

      // Act
      const result = await sut.setCanary('iris', { ...policy, version: 4 });

      // Assert
      expect(result).toMatchObject({ canary: { version: 4 }, canary_requests: 0, stable_requests: 0 });
      expect(entry.variants.counts('canary')).toEqual({ requests: 0, errors: 0 });
    });

    it.each([
      ['the active version', 2, ErrorCode.CONFLICT, 'Version 2 is the active version; a canary must be another version'],
      ['a FAILED version', 3, ErrorCode.CONFLICT, "Version 3 of 'iris' is FAILED; load it first"],
      ['an unknown version', 9, ErrorCode.VERSION_NOT_FOUND, "Model 'iris' has no version 9"],
    ])('refuses %s and keeps the canary in force', async (_, version, code, message) => {
      // Arrange
      const { sut, registry } = await boot();
      await sut.setCanary('iris', policy);

      // Act
      const error = await captureAppError(sut.setCanary('iris', { ...policy, version }));

      // Assert
      expect([error.code, error.message]).toEqual([code, message]);
      expect(registry.get('iris').canary).toEqual(policy);
    });

    it('ends with the stats it had, persisted without it', async () => {
      // Arrange
      const { sut, registry, metrics } = await boot();
      await sut.setCanary('iris', policy);
      registry.get('iris').variants.record('canary', true, 4);

      // Act
      const result = await sut.clearCanary('iris');

      // Assert
      expect(result).toMatchObject({ canary: policy, canary_requests: 1 });
      expect(sut.canaryStats('iris')).toMatchObject({ canary: null, canary_percentage_target: 0 });
      expect(registry.route('iris').variant).toBe('stable');
      expect(await rolloutEvents(metrics, 'iris', 'canary_end')).toBe(1);
      expect((await savedState(statePath))?.models.iris).toEqual({ active: 2 });
    });

    it('answers 404 NOT_FOUND when asked to end a canary that is not there', async () => {
      // Arrange
      const { sut } = await boot();

      // Act
      const error = await captureAppError(sut.clearCanary('iris'));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.NOT_FOUND, "Model 'iris' has no canary"]);
    });

    it('answers the stats of an unknown model with MODEL_NOT_FOUND', async () => {
      // Arrange
      const { sut } = await boot();

      // Act
      const act = () => sut.canaryStats('tulips');

      // Assert
      expect(act).toThrow(expect.objectContaining({ code: ErrorCode.MODEL_NOT_FOUND }));
    });
  });

  describe('canary auto-abort (outcomes reported by the prediction path)', () => {
    const failing = (traffic: RolloutTrafficService, route: Route, times: number) => {
      for (let i = 0; i < times; i += 1) traffic.observe(route, false, 1);
    };

    it('ends the canary by itself once it has served min_requests with an error rate above max_error_rate', async () => {
      // Arrange
      const { sut, registry, traffic, metrics } = await boot();
      const warn = jest.spyOn(Logger.prototype, 'warn');
      await sut.setCanary('iris', { version: 1, percentage: 100, sticky: false, auto_abort: { max_error_rate: 0.5, min_requests: 4 } });
      const route = registry.route('iris');

      // Act
      failing(traffic, route, 3);
      const afterThree = registry.get('iris').canary;
      failing(traffic, route, 1);

      // Assert
      expect(route.variant).toBe('canary');
      expect(afterThree).toBeDefined();
      expect(registry.get('iris').canary).toBeUndefined();
      expect(registry.route('iris')).toMatchObject({ variant: 'stable', version: { version: 2 } });
      expect(await rolloutEvents(metrics, 'iris', 'canary_abort')).toBe(1);
      expect(warn).toHaveBeenCalledWith(expect.objectContaining({ event: 'canary_aborted', model_id: 'iris', canary_version: 1 }));
    });

    it('keeps a canary whose error rate is exactly at max_error_rate', async () => {
      // Arrange
      const { sut, registry, traffic } = await boot();
      await sut.setCanary('iris', { version: 1, percentage: 100, sticky: false, auto_abort: { max_error_rate: 0.5, min_requests: 4 } });
      const route = registry.route('iris');

      // Act
      failing(traffic, route, 2);
      traffic.observe(route, true, 1);
      traffic.observe(route, true, 1);

      // Assert
      expect(registry.get('iris').canary?.version).toBe(1);
    });

    it('persists the abort', async () => {
      // Arrange
      const { sut, registry } = await boot();
      await sut.setCanary('iris', { version: 1, percentage: 100, sticky: false });

      // Act
      await sut.abortCanary(registry.get('iris'), 1, 'error rate 1.000 over 4 requests exceeds 0.5');

      // Assert
      expect((await savedState(statePath))?.models.iris).toEqual({ active: 2 });
    });

    it('leaves alone a canary on another version than the one that crossed the threshold (replaced meanwhile)', async () => {
      // Arrange
      const { sut, registry, metrics } = await boot();
      await sut.setCanary('iris', { version: 1, percentage: 100, sticky: false });
      await sut.setCanary('iris', { version: 4, percentage: 100, sticky: false });

      // Act
      await sut.abortCanary(registry.get('iris'), 1, 'late');

      // Assert
      expect(registry.get('iris').canary?.version).toBe(4);
      expect(await rolloutEvents(metrics, 'iris', 'canary_abort')).toBe(0);
    });

    it('does not hold the outcomes of a replaced canary (another version) against the new one', async () => {
      // Arrange: a request routed to the old canary finishes after the new one started
      const { sut, registry, traffic } = await boot();
      await sut.setCanary('iris', { version: 1, percentage: 100, sticky: false });
      const routedBefore = registry.route('iris');
      await sut.setCanary('iris', { version: 4, percentage: 100, sticky: false, auto_abort: { max_error_rate: 0.1, min_requests: 1 } });

      // Act
      failing(traffic, routedBefore, 3);

      // Assert
      expect(registry.get('iris').canary?.version).toBe(4);
      expect(registry.get('iris').variants.counts('canary')).toEqual({ requests: 0, errors: 0 });
    });

    // Found by this spec, fixed: a request routed under a canary replaced since (same version) counted against the new one.
    it('does not hold the outcomes of a canary replaced on the same version against the new one', async () => {
      // Arrange
      const { sut, registry, traffic } = await boot();
      await sut.setCanary('iris', { version: 1, percentage: 100, sticky: false });
      const routedBefore = registry.route('iris');
      await sut.setCanary('iris', { version: 1, percentage: 50, sticky: false, auto_abort: { max_error_rate: 0.1, min_requests: 1 } });

      // Act
      failing(traffic, routedBefore, 1);

      // Assert
      expect(registry.get('iris').canary).toEqual({ version: 1, percentage: 50, sticky: false, auto_abort: { max_error_rate: 0.1, min_requests: 1 } });
    });

    it('never counts pinned requests toward the canary, even on its version', async () => {
      // Arrange
      const { sut, registry, traffic } = await boot();
      await sut.setCanary('iris', { version: 1, percentage: 100, sticky: false, auto_abort: { max_error_rate: 0.1, min_requests: 1 } });

      // Act
      failing(traffic, registry.route('iris', 1), 5);

      // Assert
      expect(registry.get('iris').canary?.version).toBe(1);
    });
  });

  describe('shadow', () => {
    it('starts on a READY version other than the active one, persisted, and answers its empty stats', async () => {
      // Arrange
      const { sut, registry } = await boot();

      // Act
      const result = await sut.setShadow('iris', { version: 1, percentage: 25 });

      // Assert
      expect(result).toEqual({ model_id: 'iris', shadow: { version: 1, percentage: 25 }, requests: 0, errors: 0, error_rate: 0, p50_latency_ms: 0, p95_latency_ms: 0, agreement_rate: null, compared: 0 });
      expect(registry.get('iris').shadow).toEqual({ version: 1, percentage: 25 });
      expect((await savedState(statePath))?.models.iris.shadow).toEqual({ version: 1, percentage: 25 });
    });

    it.each([
      ['the active version', 2, ErrorCode.CONFLICT, 'Version 2 is the active version; a shadow must be another version'],
      ['a FAILED version', 3, ErrorCode.CONFLICT, "Version 3 of 'iris' is FAILED; load it first"],
      ['an unknown version', 9, ErrorCode.VERSION_NOT_FOUND, "Model 'iris' has no version 9"],
    ])('refuses %s', async (_, version, code, message) => {
      // Arrange
      const { sut, registry } = await boot();

      // Act
      const error = await captureAppError(sut.setShadow('iris', { version, percentage: 100 }));

      // Assert
      expect([error.code, error.message]).toEqual([code, message]);
      expect(registry.get('iris').shadow).toBeUndefined();
    });

    it('ends with the stats it had, persisted without it', async () => {
      // Arrange
      const { sut, registry } = await boot();
      await sut.setShadow('iris', { version: 1, percentage: 100 });
      registry.get('iris').variants.record('shadow', true, 2);
      registry.get('iris').variants.recordAgreement(true);

      // Act
      const result = await sut.clearShadow('iris');

      // Assert
      expect(result).toMatchObject({ shadow: { version: 1, percentage: 100 }, requests: 1, agreement_rate: 1, compared: 1 });
      expect(registry.get('iris').shadow).toBeUndefined();
      expect((await savedState(statePath))?.models.iris).toEqual({ active: 2 });
    });

    it('answers 404 NOT_FOUND when asked to end a shadow that is not there', async () => {
      // Arrange
      const { sut } = await boot();

      // Act
      const error = await captureAppError(sut.clearShadow('iris'));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.NOT_FOUND, "Model 'iris' has no shadow"]);
    });
  });

  describe('unload', () => {
    it('releases a version not in use: UNLOADED, a pinned request gets 503, the active one keeps serving', async () => {
      // Arrange
      const { sut, registry, metrics } = await boot();

      // Act
      const view = await sut.unload('iris', 1);

      // Assert
      expect(view).toMatchObject({ version: '1', state: 'UNLOADED', stage: null, role: null });
      expect(() => registry.route('iris', 1)).toThrow(expect.objectContaining({ code: ErrorCode.MODEL_NOT_READY }));
      expect(registry.route('iris').version.version).toBe(2);
      expect(await rolloutEvents(metrics, 'iris', 'unload')).toBe(1);
    });

    it.each([
      ['the active version', async () => undefined, 2, "Version 2 is the active version of 'iris'; promote another first"],
      ['the canary version', (sut: RolloutService) => sut.setCanary('iris', { version: 1, percentage: 5, sticky: false }), 1, 'Version 1 is in canary use; end the canary first'],
      ['the shadow version', (sut: RolloutService) => sut.setShadow('iris', { version: 4, percentage: 5 }), 4, 'Version 4 is in shadow use; end the shadow first'],
    ])('refuses %s with 409 and keeps it READY', async (_, arrange, version, message) => {
      // Arrange
      const { sut, registry } = await boot();
      await arrange(sut);

      // Act
      const error = await captureAppError(sut.unload('iris', version));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.CONFLICT, message]);
      expect(registry.get('iris').versions.get(version)?.state).toBe('READY');
    });

    it('refuses with 409 the version MODEL_VERSION pins', async () => {
      // Arrange
      const { sut } = await boot({ env: { MODEL_ID: 'iris', MODEL_VERSION: '1' } });

      // Act
      const error = await captureAppError(sut.unload('iris', 1));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.CONFLICT, 'Version 1 is pinned by MODEL_VERSION']);
    });

    it('refuses with 409 a version still loading', async () => {
      // Arrange: a load started on the registry directly, held mid-way
      const runtimes = new HoldingRuntimeFactory();
      const { sut, registry } = await boot({ runtimes });
      await addVersion(root, 'iris', 5, 'v1');
      const hold = runtimes.hold('iris', 5);
      const loading = registry.loadVersion('iris', 5);
      await hold.reached;

      // Act
      const error = await captureAppError(sut.unload('iris', 5));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.CONFLICT, 'Version 5 is still loading']);
      hold.release();
      expect((await loading).state).toBe('READY');
    });

    it('refuses an unknown version with 404 VERSION_NOT_FOUND', async () => {
      // Arrange
      const { sut } = await boot();

      // Act
      const error = await captureAppError(sut.unload('iris', 9));

      // Assert
      expect(error.code).toBe(ErrorCode.VERSION_NOT_FOUND);
    });
  });

  describe('load', () => {
    it("reloads a version from disk, READY, and drops the model's cached answers (not other models')", async () => {
      // Arrange
      const { sut, registry, cache, metrics } = await boot();
      const before = registry.get('iris').versions.get(1);
      const value = { outputs: irisRow, model_version: '1' };
      await cache.set(cacheKey('iris', 1, irisRow), value);
      await cache.set(cacheKey('other', 1, irisRow), value);
      const loadsBefore = await rolloutEvents(metrics, 'iris', 'load');

      // Act
      const view = await sut.load('iris', 1);

      // Assert
      expect(view).toMatchObject({ version: '1', state: 'READY', stage: null, role: null, reason: null });
      expect(registry.route('iris', 1).version).not.toBe(before);
      expect(cache.stats('iris').size).toBe(0);
      expect(cache.stats('other').size).toBe(1);
      expect(await rolloutEvents(metrics, 'iris', 'load')).toBe(loadsBefore + 1);
    });

    it('brings an UNLOADED version back READY', async () => {
      // Arrange
      const { sut, registry } = await boot();
      await sut.unload('iris', 1);

      // Act
      await sut.load('iris', 1);

      // Assert
      expect(registry.route('iris', 1).version.state).toBe('READY');
    });

    it('serves a version dropped into the repository after boot, which can then be promoted', async () => {
      // Arrange
      const { sut, registry } = await boot();
      await addVersion(root, 'iris', 5, 'v2');

      // Act
      const view = await sut.load('iris', 5);
      await sut.promote('iris', 5);

      // Assert
      expect(view).toMatchObject({ version: '5', state: 'READY' });
      expect(registry.route('iris').version.version).toBe(5);
    });

    it('answers 422 MODEL_LOAD_FAILED with the reason for a version that fails, and disturbs nothing', async () => {
      // Arrange
      const { sut, registry } = await boot();

      // Act
      const error = await captureAppError(sut.load('iris', 3));

      // Assert
      expect(error.code).toBe(ErrorCode.MODEL_LOAD_FAILED);
      expect(error.message).toMatch(/^Version 3 of 'iris' failed to load: onnxruntime could not load model\.onnx/);
      expect(registry.route('iris').version.version).toBe(2);
      expect(registry.get('iris').versions.get(3)?.state).toBe('FAILED');
    });

    it('keeps the old version serving when a reload of a READY version fails (a broken file copied over it)', async () => {
      // Arrange
      const { sut, registry } = await boot();
      const serving = registry.route('iris', 1).version;
      await addVersion(root, 'iris', 1, 'corrupt');

      // Act
      const error = await captureAppError(sut.load('iris', 1));

      // Assert
      expect(error.code).toBe(ErrorCode.MODEL_LOAD_FAILED);
      expect(registry.route('iris', 1).version).toBe(serving);
      expect(serving.state).toBe('READY');
    });

    it('keeps the old version serving while the reload is in progress, then switches to the new one', async () => {
      // Arrange
      const runtimes = new HoldingRuntimeFactory();
      const { sut, registry } = await boot({ runtimes });
      const old = registry.route('iris', 1).version;
      const hold = runtimes.hold('iris', 1);

      // Act
      const reload = sut.load('iris', 1);
      await hold.reached;
      const during = registry.route('iris', 1).version;
      const stateDuring = during.state;
      hold.release();
      await reload;

      // Assert
      expect(during).toBe(old);
      expect(stateDuring).toBe('READY');
      expect(registry.route('iris', 1).version).not.toBe(old);
      expect(old.state).toBe('UNLOADED');
    });

    it.each([
      ['model', 'tulips', 1, ErrorCode.MODEL_NOT_FOUND],
      ['version', 'iris', 9, ErrorCode.VERSION_NOT_FOUND],
    ])('answers 404 for an unknown %s', async (_, model, version, code) => {
      // Arrange
      const { sut } = await boot();

      // Act
      const error = await captureAppError(sut.load(model, version));

      // Assert
      expect(error.code).toBe(code);
    });
  });

  describe('V2 repository: unloadModel and loadModel', () => {
    it('unloads every version; the model answers 503 while its stages, canary and shadow are kept', async () => {
      // Arrange
      const { sut, registry, metrics } = await boot();
      await sut.promote('other', 1);
      await sut.setShadow('other', { version: 2, percentage: 50 });

      // Act
      const views = await sut.unloadModel('other');

      // Assert
      expect(views.map((v) => [v.version, v.state])).toEqual([['1', 'UNLOADED'], ['2', 'UNLOADED']]);
      const entry = registry.get('other');
      expect([entry.unloaded, entry.active, entry.staging, entry.shadow]).toEqual([true, 1, 2, { version: 2, percentage: 50 }]);
      expect(() => registry.route('other')).toThrow(expect.objectContaining({ code: ErrorCode.MODEL_NOT_READY }));
      expect(await rolloutEvents(metrics, 'other', 'unload')).toBe(1);
    });

    it('loads every version back READY on the stages it had', async () => {
      // Arrange
      const { sut, registry } = await boot();
      await sut.promote('other', 1);
      await sut.unloadModel('other');

      // Act
      const views = await sut.loadModel('other');

      // Assert
      expect(views.map((v) => [v.version, v.state, v.stage])).toEqual([['1', 'READY', 'active'], ['2', 'READY', 'staging']]);
      expect(registry.get('other').unloaded).toBe(false);
      expect(registry.route('other').version.version).toBe(1);
    });

    it('answers 422 naming each version that failed while the others serve', async () => {
      // Arrange
      const { sut, registry } = await boot();

      // Act
      const error = await captureAppError(sut.loadModel('iris'));

      // Assert
      expect(error.code).toBe(ErrorCode.MODEL_LOAD_FAILED);
      expect(error.message).toMatch(/^Model 'iris' failed to load: version 3: onnxruntime could not load model\.onnx/);
      expect(error.message).not.toMatch(/version [124]:/);
      expect(registry.route('iris').version.version).toBe(2);
      expect([1, 2, 4].map((v) => registry.get('iris').versions.get(v)?.state)).toEqual(['READY', 'READY', 'READY']);
    });

    it('starts a model new to the repository on its highest READY version, not on the first one loaded', async () => {
      // Arrange
      const { sut, registry } = await boot();
      await addModel(root, 'newcomer', { ...(await irisManifest()), name: 'newcomer' }, { '1': 'v1', '2': 'v2' });

      // Act
      await sut.loadModel('newcomer');

      // Assert
      expect(registry.route('newcomer').version.version).toBe(2);
    });

    it('refuses with 409 to unload a model while one of its versions is loading', async () => {
      // Arrange
      const runtimes = new HoldingRuntimeFactory();
      const { sut, registry } = await boot({ runtimes });
      await addVersion(root, 'other', 3, 'v1');
      const hold = runtimes.hold('other', 3);
      const loading = registry.loadVersion('other', 3);
      await hold.reached;

      // Act
      const error = await captureAppError(sut.unloadModel('other'));

      // Assert
      expect([error.code, error.message]).toEqual([ErrorCode.CONFLICT, "Version 3 of 'other' is still loading"]);
      expect(registry.get('other').unloaded).toBe(false);
      hold.release();
      await loading;
    });
  });

  describe('one operation at a time per model, after the boot-time loads', () => {
    it('waits for the boot-time loads before it checks a version', async () => {
      // Arrange: version 1 is still loading at boot when the promotion is asked
      const runtimes = new HoldingRuntimeFactory();
      const hold = runtimes.hold('iris', 1);
      const wired = wire(root, statePath, { runtimes });
      booted.push(wired);
      const { sut, registry } = wired;
      await registry.onModuleInit();
      await hold.reached;

      // Act
      const promotion = sut.promote('iris', 1);
      const stateWhenAsked = registry.get('iris').versions.get(1)?.state;
      hold.release();
      const result = await promotion;

      // Assert
      expect(stateWhenAsked).toBe('LOADING');
      expect(result.active_version).toBe('1');
    });

    it('runs a promotion asked during a load after that load', async () => {
      // Arrange
      const runtimes = new HoldingRuntimeFactory();
      const { sut, registry } = await boot({ runtimes });
      await addVersion(root, 'iris', 5, 'v2');
      const hold = runtimes.hold('iris', 5);

      // Act
      const load = sut.load('iris', 5);
      const promotion = sut.promote('iris', 5);
      await hold.reached;
      hold.release();
      await load;
      const result = await promotion;

      // Assert
      expect(result.active_version).toBe('5');
      expect(registry.route('iris').version.version).toBe(5);
    });

    it('runs an unload asked during a reload of the same version after it: the version ends UNLOADED', async () => {
      // Arrange
      const runtimes = new HoldingRuntimeFactory();
      const { sut, registry } = await boot({ runtimes });
      const hold = runtimes.hold('iris', 1);

      // Act
      const reload = sut.load('iris', 1);
      const unload = sut.unload('iris', 1);
      await hold.reached;
      hold.release();
      await reload;
      await unload;

      // Assert
      expect(registry.get('iris').versions.get(1)?.state).toBe('UNLOADED');
    });

    it('runs the next operation after one that failed', async () => {
      // Arrange
      const { sut } = await boot();

      // Act
      const [failed, promoted] = await Promise.allSettled([sut.promote('iris', 9), sut.promote('iris', 1)]);

      // Assert
      expect(failed).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.VERSION_NOT_FOUND } });
      expect(promoted).toMatchObject({ status: 'fulfilled', value: { active_version: '1' } });
    });

    it('does not make another model wait', async () => {
      // Arrange
      const runtimes = new HoldingRuntimeFactory();
      const { sut } = await boot({ runtimes });
      const hold = runtimes.hold('other', 1);
      const otherLoad = sut.load('other', 1);
      await hold.reached;

      // Act
      const result = await sut.promote('iris', 1);

      // Assert
      expect(result.active_version).toBe('1');
      hold.release();
      await otherLoad;
    });
  });

  describe('persisted state', () => {
    it('restores stages, canary and shadow after a restart', async () => {
      // Arrange
      const first = await boot();
      await first.sut.promote('iris', 1);
      await first.sut.setCanary('iris', { version: 4, percentage: 20, sticky: true });
      await first.sut.setShadow('iris', { version: 2, percentage: 30 });
      await first.registry.onApplicationShutdown();

      // Act
      const { registry } = await boot();

      // Assert
      const entry = registry.get('iris');
      expect([entry.active, entry.staging, entry.previousActive]).toEqual([1, 2, 2]);
      expect(entry.canary).toEqual({ version: 4, percentage: 20, sticky: true });
      expect(entry.shadow).toEqual({ version: 2, percentage: 30 });
    });

    it('keeps a change live when its state cannot be saved, and logs the failure', async () => {
      // Arrange
      const error = jest.spyOn(Logger.prototype, 'error');
      const { sut, registry } = await boot({ store: new FailingStateStore() });

      // Act
      const result = await sut.promote('iris', 1);

      // Assert
      expect(result.active_version).toBe('1');
      expect(registry.route('iris').version.version).toBe(1);
      expect(error).toHaveBeenCalledWith(expect.objectContaining({ err: expect.objectContaining({ message: expect.stringContaining('ENOSPC') }) }), 'registry state could not be saved');
    });

    // Found by this spec, fixed: a model broken at this start lost its saved settings when another model's state was saved.
    it("keeps the saved settings of a model whose model.json is broken at this start when another model's state is saved", async () => {
      // Arrange
      await new FileRegistryStateStore(statePath, quiet).save({ version: 1, updated_at: new Date().toISOString(), models: { other: { active: 1, staging: 2, previous_active: 2 } } });
      await writeFile(join(root, 'other', 'model.json'), '{ "name": ');
      const { sut } = await boot();

      // Act
      await sut.promote('iris', 1);

      // Assert
      expect((await savedState(statePath))?.models.other).toEqual({ active: 1, staging: 2, previous_active: 2 });
    });

    it('brings the saved settings back when that model.json is fixed and the model loaded', async () => {
      // Arrange
      const manifest = await readFile(join(root, 'other', 'model.json'), 'utf8');
      await new FileRegistryStateStore(statePath, quiet).save({ version: 1, updated_at: new Date().toISOString(), models: { other: { active: 1, staging: 2, previous_active: 2 } } });
      await writeFile(join(root, 'other', 'model.json'), '{ "name": ');
      const { sut, registry } = await boot();
      await writeFile(join(root, 'other', 'model.json'), manifest);

      // Act
      await sut.loadModel('other');

      // Assert
      expect(registry.get('other').routingState()).toMatchObject({ active: 1, staging: 2, previous_active: 2 });
      expect((await savedState(statePath))?.models.other).toMatchObject({ active: 1, staging: 2, previous_active: 2 });
    });
  });
});
