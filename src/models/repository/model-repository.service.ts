import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { publicFileReason } from '../../common/errors/public-reason';
import { AllConfig } from '../../config/app-config';
import { manifestProblems } from './manifest-validation';
import { DiscoveredModel, ModelManifest, VersionSource } from './model-manifest';
import { findModelFile } from './model-file';

const VERSION_DIR = /^[1-9]\d{0,8}$/;

/**
 * Reads the model repository on disk (MODEL_REPOSITORY): one folder per model holding an optional
 * model.json and one folder per positive-integer version holding its ONNX file (`model.onnx`, else
 * the folder's only `*.onnx`). Reads afresh on every call, so a version dropped in can be loaded
 * without a restart.
 */
@Injectable()
export class ModelRepositoryService {
  readonly root: string;
  private readonly logger = new Logger('ModelRepository');

  constructor(config: ConfigService<AllConfig, true>) {
    this.root = config.getOrThrow('models.repository', { infer: true });
  }

  /** Every model folder with its manifest (or why it is unusable) and versions. Throws if the root is unreadable. */
  async discover(): Promise<DiscoveredModel[]> {
    const entries = await readdir(this.root, { withFileTypes: true });
    const dirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
    return Promise.all(dirs.map((name) => this.read(name)));
  }

  /** One model folder; undefined when it does not exist. */
  async find(name: string): Promise<DiscoveredModel | undefined> {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name) || name.startsWith('.')) return undefined;
    const dir = join(this.root, name);
    const exists = await stat(dir).then((s) => s.isDirectory(), () => false);
    return exists ? this.read(name) : undefined;
  }

  /** True when the repository root can be listed (used by health). */
  async isReadable(): Promise<boolean> {
    return readdir(this.root).then(() => true, () => false);
  }

  private async read(name: string): Promise<DiscoveredModel> {
    const dir = join(this.root, name);
    const versions = await this.versions(dir, name);
    const { manifest, error } = await this.readManifest(dir, name);
    return { name, dir, manifest, manifestError: error, versions };
  }

  /**
   * model.json as read (its name defaulting to the folder's); a folder without one is `{ name }`.
   * A file that exists but cannot be read, parsed or validated is an error, never skipped.
   */
  private async readManifest(dir: string, name: string): Promise<{ manifest?: ModelManifest; error?: string }> {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { manifest: { name } };
      // The file system's or JSON.parse's text names the absolute path: it goes to the log, the reason says which it was.
      this.logger.warn(`model ${name}: model.json unreadable: ${(e as Error).message}`);
      return { error: `model.json unreadable: ${publicFileReason(e)}` };
    }
    const problems = manifestProblems(raw, name);
    return problems.length ? { error: `model.json invalid: ${problems.join('; ')}` } : { manifest: { ...(raw as Partial<ModelManifest>), name } };
  }

  private async versions(dir: string, name: string): Promise<Map<number, VersionSource>> {
    const entries = await readdir(dir, { withFileTypes: true });
    const numbered = entries.filter((e) => e.isDirectory() && VERSION_DIR.test(e.name)).map((e) => Number(e.name)).sort((a, b) => a - b);
    // A numbered folder without a model file is still a version: its load fails with the folder's
    // problem, so /models and the V2 index say why it is not served.
    const sources = await Promise.all(numbered.map((v) => findModelFile(join(dir, String(v)), `${name}/${v}`)));
    return new Map(numbered.map((v, i) => [v, sources[i]]));
  }
}
