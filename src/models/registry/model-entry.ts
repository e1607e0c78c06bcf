import { ModelManifest, TensorSpec } from '../repository/model-manifest';
import { OutputKind, outputKindOf } from '../wrapper/postprocess';
import { ModelVersion } from './model-version';

/** A model in the registry: its manifest (or why it has none), versions and stages. */
export class ModelEntry {
  readonly versions = new Map<number, ModelVersion>();
  active: number | undefined;
  staging: number | undefined;

  constructor(readonly name: string, readonly manifest: ModelManifest | undefined, readonly error?: string) {}

  get outputKind(): OutputKind {
    return this.manifest ? outputKindOf(this.manifest) : 'raw';
  }

  get features(): string[] | undefined {
    return this.manifest?.features;
  }

  /** The highest READY version; the default active stage when model.json names none. */
  highestReady(): number | undefined {
    return [...this.versions.values()].filter((v) => v.ready).map((v) => v.version).sort((a, b) => b - a)[0];
  }

  /** The tensor signature of the active (else any READY) version, as the runtime reports it. */
  signatureInputs(): TensorSpec[] | undefined {
    const version = (this.active !== undefined && this.versions.get(this.active)) || [...this.versions.values()].find((v) => v.ready);
    return version?.signature?.inputs;
  }
}
