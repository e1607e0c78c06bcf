import { Injectable } from '@nestjs/common';

import { ModelEntry } from '../../models/registry/model-entry';
import { ModelRegistryService } from '../../models/registry/model-registry.service';
import { ModelVersion } from '../../models/registry/model-version';
import { V2ModelMetadata, V2ModelReady, V2RepositoryIndexEntry } from './v2.types';

/**
 * Read-only V2 views of the registry: model metadata, model readiness and the
 * repository index. (The method names keep their `v2` prefix so the controllers' calls stay as
 * they were.)
 */
@Injectable()
export class V2CatalogService {
  constructor(private readonly registry: ModelRegistryService) {}

  /**
   * V2 model metadata: the given version's signature, else the active version's; a model with no
   * serving version (all FAILED, or model.json broken) answers what model.json declares.
   */
  v2Metadata(modelId: string, number?: number): V2ModelMetadata {
    const entry = this.registry.get(modelId);
    const version = number === undefined ? this.servingVersion(entry) : this.registry.version(entry, number);
    const signature = version?.signature ?? { inputs: entry.manifest?.inputs ?? [], outputs: entry.manifest?.outputs ?? [] };
    return {
      name: entry.name,
      versions: [...entry.versions.keys()].sort((a, b) => a - b).map(String),
      platform: 'onnxruntime_onnx',
      inputs: signature.inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
      outputs: signature.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    };
  }

  /** V2 model readiness: that version (else the active one) is READY. Unknown model or version: 404. */
  v2Ready(modelId: string, number?: number): V2ModelReady {
    const entry = this.registry.get(modelId);
    const version = number === undefined ? this.servingVersion(entry) : this.registry.version(entry, number);
    return { name: entry.name, ready: !entry.error && version?.ready === true };
  }

  /**
   * The repository index (Triton's model repository extension): every model version the registry
   * knows (what was on disk at boot or at the model's last load) with its state; `readyOnly`
   * keeps the READY ones. Served from the registry's view, never a disk scan per call.
   */
  async v2Index(readyOnly: boolean): Promise<V2RepositoryIndexEntry[]> {
    const rows: V2RepositoryIndexEntry[] = [];
    for (const entry of [...this.registry.list()].sort((a, b) => a.name.localeCompare(b.name))) {
      // A model that could not be read at all has no versions: it is still listed, with why (Triton leaves the version empty).
      if (entry.versions.size === 0) rows.push({ name: entry.name, version: '', state: 'UNAVAILABLE', reason: entry.error ?? 'no versions' });
      for (const n of [...entry.versions.keys()].sort((a, b) => a - b)) {
        const version = entry.versions.get(n)!;
        const state = entry.error ? 'UNAVAILABLE' : v2State(version);
        const reason = entry.error ?? version.reason ?? (version.state === 'UNLOADED' ? 'unloaded' : '');
        rows.push({ name: entry.name, version: String(n), state, reason });
      }
    }
    return readyOnly ? rows.filter((r) => r.state === 'READY') : rows;
  }

  /** The version requests without a version go to (the active one), if the model has any. */
  private servingVersion(entry: ModelEntry): ModelVersion | undefined {
    const n = entry.active ?? entry.highestReady();
    return n === undefined ? undefined : entry.versions.get(n);
  }
}

/** Triton's model states: READY, LOADING, UNLOADING, UNAVAILABLE. */
function v2State(version: ModelVersion): string {
  switch (version.state) {
    case 'READY': return 'READY';
    case 'LOADING': return 'LOADING';
    default: return 'UNAVAILABLE';
  }
}
