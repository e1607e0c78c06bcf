import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO_MODELS } from '../../e2e/support/create-app';

/** The model the admin properties may really change (promote, roll back, canary, shadow, unload, load). */
export const SCRATCH = 'scratch';

/**
 * A temporary model repository: the four bundled models as they are (copied, so nothing the suite
 * does can touch models/), plus `scratch`, a two-version copy of penguins that the admin fuzzing
 * may really promote, canary, shadow, unload and reload with a valid admin key. The other models
 * only ever see refused admin calls, so the final "still right" check of iris is not at the mercy
 * of a random but valid rollout.
 */
export function buildRepository(models: string[] = ['iris', 'penguins', 'car-mpg', 'bench-mlp']): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nms-hostile-'));
  for (const m of models) cpSync(join(REPO_MODELS, m), join(dir, m), { recursive: true });
  if (models.includes('penguins')) {
    const manifest = JSON.parse(readFileSync(join(REPO_MODELS, 'penguins', 'model.json'), 'utf8')) as Record<string, unknown>;
    manifest.name = SCRATCH;
    manifest.description = 'penguins v1 under two version numbers: the target of the hostile-input suite\'s admin calls';
    delete manifest.versions;
    for (const v of ['1', '2']) {
      mkdirSync(join(dir, SCRATCH, v), { recursive: true });
      cpSync(join(REPO_MODELS, 'penguins', '1', 'model.onnx'), join(dir, SCRATCH, v, 'model.onnx'));
    }
    writeFileSync(join(dir, SCRATCH, 'model.json'), JSON.stringify(manifest, null, 2));
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
