import { ConfigService } from '@nestjs/config';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';

import { ShutdownState } from '../../src/common/lifecycle/shutdown-state';
import { AllConfig, buildConfig } from '../../src/config/app-config';
import { MetricsService } from '../../src/metrics/metrics.service';
import { DataPlane } from '../../src/models/data-plane.service';
import { LruPredictionCache } from '../../src/models/cache/lru-prediction-cache';
import { ModelRegistryService } from '../../src/models/registry/model-registry.service';
import { RegistryStateSync } from '../../src/models/registry/registry-state-sync.service';
import { FileRegistryStateStore } from '../../src/models/registry/state/file-registry-state.store';
import { RegistryStateStore } from '../../src/models/registry/state/registry-state.store';
import { VersionLoader } from '../../src/models/registry/version-loader';
import { ModelRepositoryService } from '../../src/models/repository/model-repository.service';
import { RolloutTrafficService } from '../../src/models/rollout/rollout-traffic.service';
import { RolloutService } from '../../src/models/rollout/rollout.service';
import { ModelRuntimeFactory } from '../../src/models/runtimes/model-runtime';
import { PredictionMonitor } from '../../src/models/wrapper/prediction-monitor';
import { StatsClock } from '../../src/models/wrapper/stats-clock';

/**
 * For specs: the models module's services wired by hand, as ModelsModule wires them, on the given
 * runtime factory. Registry state goes to `store`, by default a fresh temp file; the statistics
 * extension's clock is `clock` (default: the monotonic clock). Call `registry.onModuleInit()` next
 * (and `sync.onApplicationBootstrap()` for a shared store).
 */
export function wireModels(config: ConfigService<AllConfig, true>, runtimes: ModelRuntimeFactory, shutdown?: ShutdownState, store?: RegistryStateStore, clock?: StatsClock) {
  const metrics = new MetricsService(config);
  store ??= new FileRegistryStateStore(join(tmpdir(), `nms-spec-state-${randomUUID()}.json`), { warn: () => undefined, error: () => undefined });
  const registry = new ModelRegistryService(new ModelRepositoryService(config), new VersionLoader(runtimes, metrics, config, clock), store, config, metrics, shutdown);
  const { enabled, size, ttlSeconds, maxBytes } = config.getOrThrow('cache', { infer: true });
  const cache = new LruPredictionCache({ enabled, maxEntries: size, ttlSeconds, maxBytes });
  const sync = new RegistryStateSync(registry, store);
  const rollout = new RolloutService(registry, sync, cache, metrics);
  const traffic = new RolloutTrafficService(rollout, metrics, config);
  const plane = new DataPlane(registry, new PredictionMonitor(metrics, traffic, config, clock), cache, traffic, config);
  return { metrics, store, registry, sync, rollout, traffic, cache, plane };
}

/** The bundled model repository. */
export const MODELS_DIR = resolve(__dirname, '../../models');

/** The real typed configuration, built from an environment like the one the service boots with. */
export const configOf = (env: Record<string, string> = {}) =>
  new ConfigService<AllConfig, true>(buildConfig({ MODEL_REPOSITORY: MODELS_DIR, ...env }));

/**
 * Wires the real services on the bundled models and waits for every version to load. The
 * prediction cache is off unless `env` turns it on, so every prediction reaches the runtime.
 * Call `registry.onApplicationShutdown()` when done.
 */
export async function bootModels(runtimes: ModelRuntimeFactory, env: Record<string, string> = {}, clock?: StatsClock) {
  const config = configOf({ ENABLE_CACHING: 'false', ...env });
  const wired = wireModels(config, runtimes, undefined, undefined, clock);
  await wired.registry.onModuleInit();
  await wired.registry.whenLoaded();
  return { config, ...wired };
}
