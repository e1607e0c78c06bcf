import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { publicFileReason } from '../../common/errors/public-reason';
import { VersionSource } from './model-manifest';

/** The name a version's model file goes by when a folder holds several (Triton's default_model_filename). */
export const MODEL_FILE = 'model.onnx';
/** File names listed in a reason before "and N more". */
const LISTED = 8;

const isOnnxName = (name: string): boolean => /\.onnx$/i.test(name);

/** A regular file, or a symbolic link to one (a repository may link its models in). */
const isFile = (path: string): Promise<boolean> => stat(path).then((s) => s.isFile(), () => false);

function listed(names: string[]): string {
  const shown = names.slice(0, LISTED).join(', ');
  return names.length > LISTED ? `${shown} and ${names.length - LISTED} more` : shown;
}

async function onnxFiles(dir: string, names: string[]): Promise<string[]> {
  const candidates = names.filter(isOnnxName);
  const files = await Promise.all(candidates.map((name) => isFile(join(dir, name))));
  return candidates.filter((_, i) => files[i]);
}

/**
 * The model file of one version folder: `model.onnx` when it is there, else the folder's only
 * `*.onnx` file. No candidate, or several with none named model.onnx, is a problem that names what
 * the folder holds. `label` is the folder relative to the repository (`det/1`): reasons never carry
 * an absolute path.
 */
export async function findModelFile(dir: string, label: string): Promise<VersionSource> {
  const preferred = join(dir, MODEL_FILE);
  if (await isFile(preferred)) return { path: preferred };
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    return { problem: `${label}/ cannot be listed (${publicFileReason(e)})` };
  }
  const candidates = await onnxFiles(dir, names);
  if (candidates.length === 1) return { path: join(dir, candidates[0]) };
  if (candidates.length === 0) {
    const holds = names.length ? `it holds ${listed(names)}` : 'it is empty';
    return { problem: `no model.onnx in ${label}/ and no other .onnx file (${holds})` };
  }
  return { problem: `several .onnx files in ${label}/ and none named model.onnx (${listed(candidates)}): keep one, or name the one to serve model.onnx` };
}
