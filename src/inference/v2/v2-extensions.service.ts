import { Injectable } from '@nestjs/common';

import { ModelEntry } from '../../models/registry/model-entry';
import { ModelRegistryService } from '../../models/registry/model-registry.service';
import { ModelVersion } from '../../models/registry/model-version';
import { InferenceStatsSnapshot } from '../../models/wrapper/inference-stats';
import { unavailableVersion } from './v2-catalog.service';
import { TritonModelConfig, tritonModelConfig } from './v2-model-config';

/** One version's statistics (Triton's `$model_stat`). */
export interface V2ModelStatistics extends InferenceStatsSnapshot {
  name: string;
  version: string;
}

/** Triton's `$stats_model_response`. */
export interface V2StatisticsResponse {
  model_stats: V2ModelStatistics[];
}

/**
 * Triton's model configuration and statistics extensions over the registry, for V2 REST and
 * gRPC alike: read-only views, computed per call from what the versions hold.
 */
@Injectable()
export class V2ExtensionsService {
  constructor(private readonly registry: ModelRegistryService) {}

  /**
   * The Triton model configuration of the given version, else of the version requests without
   * one go to (the active one). Throws AppError: 404 unknown model or version; a version not
   * serving is refused as its V2 metadata is (see {@link unavailableVersion}): 503 loading or
   * unloaded, 400 FAILED or never loaded, naming why.
   */
  modelConfig(modelId: string, number?: number): TritonModelConfig {
    const entry = this.registry.get(modelId);
    const version = number === undefined ? this.servingVersion(entry) : this.registry.version(entry, number);
    if (entry.error || !version?.ready || !version.signature || !version.settings) throw unavailableVersion(entry, version, number);
    return tritonModelConfig(entry.name, version.signature, version.settings);
  }

  /**
   * Statistics since each version was loaded: of one version (any state: an unloaded version
   * keeps what it served), else of every READY version of the model, else of every READY version
   * of every model; by model name, then version. Throws AppError 404 for an unknown model or version.
   */
  statistics(modelId?: string, number?: number): V2StatisticsResponse {
    if (modelId === undefined) return { model_stats: this.registry.list().sort(byName).flatMap(readyStatistics) };
    const entry = this.registry.get(modelId);
    if (number === undefined) return { model_stats: readyStatistics(entry) };
    return { model_stats: [statisticsOf(entry, this.registry.version(entry, number))] };
  }

  /** The version requests without a version go to (the active one, else the highest READY), if the model has any. */
  private servingVersion(entry: ModelEntry): ModelVersion | undefined {
    const n = entry.active ?? entry.highestReady();
    return n === undefined ? undefined : entry.versions.get(n);
  }
}

const byName = (a: ModelEntry, b: ModelEntry): number => a.name.localeCompare(b.name);

function statisticsOf(entry: ModelEntry, version: ModelVersion): V2ModelStatistics {
  return { name: entry.name, version: String(version.version), ...version.inferenceStats.snapshot() };
}

function readyStatistics(entry: ModelEntry): V2ModelStatistics[] {
  return [...entry.versions.values()].filter((v) => v.ready).sort((a, b) => a.version - b.version).map((v) => statisticsOf(entry, v));
}
