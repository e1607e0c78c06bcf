import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO_MODELS } from '../../e2e/support/create-app';

/** Bytes that are not an ONNX file (onnxruntime: "Protobuf parsing failed"). */
export const GARBAGE = Buffer.from('\u0000\u0001 definitely not an onnx protobuf \u00ff\u00fe');

/** A model repository of its own in the temp dir, holding copies of the bundled `models` (default none). */
export async function tempRepository(models: string[] = []): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nms-faults-'));
  for (const m of models) await cp(join(REPO_MODELS, m), join(dir, m), { recursive: true });
  return dir;
}

/**
 * Copies bundled model `from` into `repo` as `as` (only `versions` when given), with model.json
 * renamed to `as` and `manifest` merged over it; returns the model's folder.
 */
export async function copyModel(repo: string, from: string, as: string, options: { versions?: number[]; manifest?: Record<string, unknown> } = {}): Promise<string> {
  const dir = join(repo, as);
  await mkdir(dir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(REPO_MODELS, from, 'model.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'model.json'), JSON.stringify({ ...manifest, name: as, ...options.manifest }));
  for (const v of options.versions ?? []) await cp(join(REPO_MODELS, from, String(v)), join(dir, String(v)), { recursive: true });
  return dir;
}

/** Writes `content` to `<modelDir>/<version>/<file>`, creating the version folder. */
export async function writeVersionFile(modelDir: string, version: number, content: string | Buffer, file = 'model.onnx'): Promise<void> {
  await mkdir(join(modelDir, String(version)), { recursive: true });
  await writeFile(join(modelDir, String(version), file), content);
}
