import { Injectable } from '@nestjs/common';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
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
   * V2 model metadata: the given version's signature, else the active version's, as it serves
   * (model.json's shapes narrowing the ONNX file's). A model or version with nothing loaded has no
   * signature to show: refused naming why (see {@link noMetadata}), never a 200 with empty tensors.
   */
  v2Metadata(modelId: string, number?: number): V2ModelMetadata {
    const entry = this.registry.get(modelId);
    const version = number === undefined ? this.servingVersion(entry) : this.registry.version(entry, number);
    if (entry.error || !version?.ready || !version.signature) throw unavailableVersion(entry, version, number);
    const { signature } = version;
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

/**
 * Why a model (or the asked-for version) has no metadata or configuration to show: the V2
 * metadata and Triton's config extension refuse alike. Loading, or unloaded on purpose:
 * MODEL_NOT_READY (503 + Retry-After, as its inference answers). Anything else — model.json
 * unusable, every version FAILED, no version folder, that version FAILED — MODEL_LOAD_FAILED, which
 * V2 answers 400 `{error}` as Triton does for a model with no available version (gRPC FAILED_PRECONDITION).
 */
export function unavailableVersion(entry: ModelEntry, version: ModelVersion | undefined, number: number | undefined): AppError {
  const which = number === undefined ? `Model '${entry.name}'` : `Model '${entry.name}' version ${number}`;
  if (entry.error) return new AppError(ErrorCode.MODEL_LOAD_FAILED, `Model '${entry.name}' failed to load: ${entry.error}`);
  const loading = version ? version.state === 'LOADING' : [...entry.versions.values()].some((v) => v.state === 'LOADING');
  if (loading) return new AppError(ErrorCode.MODEL_NOT_READY, `${which} is loading`, [], 5);
  if (entry.unloaded || version?.state === 'UNLOADED') return new AppError(ErrorCode.MODEL_NOT_READY, `${which} is unloaded`, [], 30);
  const state = version && `${version.state}${version.reason ? `: ${version.reason}` : ''}`;
  if (number !== undefined) return new AppError(ErrorCode.MODEL_LOAD_FAILED, `${which} is ${state}`);
  const reason = entry.unservableReason() ?? (version && `active version ${version.version} is ${state}`);
  return new AppError(ErrorCode.MODEL_LOAD_FAILED, `${which} has no loaded version${reason ? `: ${reason}` : ''}`);
}

/** Triton's model states: READY, LOADING, UNLOADING, UNAVAILABLE. */
function v2State(version: ModelVersion): string {
  switch (version.state) {
    case 'READY': return 'READY';
    case 'LOADING': return 'LOADING';
    default: return 'UNAVAILABLE';
  }
}
