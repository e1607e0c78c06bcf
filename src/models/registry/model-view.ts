import { ModelEntry } from './model-entry';
import { ModelVersion } from './model-version';

/** The JSON view of a version for GET /models/:id. */
export function versionView(entry: ModelEntry, v: ModelVersion) {
  const info = entry.manifest?.versions?.[String(v.version)];
  return {
    version: String(v.version),
    state: v.state,
    stage: v.version === entry.active ? 'active' : v.version === entry.staging ? 'staging' : null,
    role: v.version === entry.canary?.version ? 'canary' : v.version === entry.shadow?.version ? 'shadow' : null,
    reason: v.reason ?? null,
    loaded_at: v.loadedAt ?? null,
    algorithm: info?.algorithm ?? null,
    metrics: info?.metrics ?? null,
    signature: v.signature ?? null,
    health: v.stats.getHealthMetrics(),
  };
}

/** The JSON view of a model: signature, features, labels, versions with state, metrics. */
export function modelView(entry: ModelEntry) {
  const m = entry.manifest;
  return {
    id: entry.name,
    description: m?.description ?? null,
    runtime: m?.runtime ?? 'onnx',
    task: m?.task ?? null,
    input_mode: m?.features ? 'features' : 'tensors',
    features: m?.features ?? null,
    labels: m?.labels ?? null,
    state: entry.failed ? 'FAILED' : entry.active !== undefined ? 'READY' : 'UNAVAILABLE',
    reason: entry.active !== undefined ? null : entry.unservableReason() ?? null,
    active_version: entry.active === undefined ? null : String(entry.active),
    staging_version: entry.staging === undefined ? null : String(entry.staging),
    previous_active_version: entry.previousActive === undefined ? null : String(entry.previousActive),
    canary: entry.canary ?? null,
    shadow: entry.shadow ?? null,
    versions: [...entry.versions.values()].map((v) => versionView(entry, v)),
  };
}

/** One line per model for GET /models. */
export function modelSummary(entry: ModelEntry) {
  const active = entry.active === undefined ? undefined : entry.versions.get(entry.active);
  return {
    id: entry.name,
    description: entry.manifest?.description ?? null,
    task: entry.manifest?.task ?? null,
    state: entry.failed ? 'FAILED' : active?.ready ? 'READY' : 'UNAVAILABLE',
    reason: active?.ready ? null : entry.unservableReason() ?? null,
    active_version: entry.active === undefined ? null : String(entry.active),
    versions: [...entry.versions.values()].map((v) => ({ version: String(v.version), state: v.state })),
    health: active?.stats.getHealthMetrics() ?? null,
  };
}
