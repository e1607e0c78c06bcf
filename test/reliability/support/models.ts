import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPO_MODELS } from '../../e2e/support/create-app';
import { SCRATCH } from './repository';

/** What the suite needs to know of each served model, read from its model.json. */
export interface ModelInfo {
  id: string;
  /** Columns of the one 2-D input `input`. */
  width: number;
  features?: string[];
  labels?: string[];
  output: string;
  outWidth: number;
  versions: string[];
  task: 'classification' | 'regression' | 'tensor';
}

function read(id: string, versions: string[], from = id): ModelInfo {
  const m = JSON.parse(readFileSync(join(REPO_MODELS, from, 'model.json'), 'utf8')) as {
    features?: string[]; labels?: string[]; task?: string; inputs: { shape: number[] }[]; outputs: { name: string; shape: number[] }[];
  };
  const task = m.task === 'classification' ? 'classification' : m.task === 'regression' ? 'regression' : 'tensor';
  return { id, width: m.inputs[0].shape[1], features: m.features, labels: m.labels, output: m.outputs[0].name, outWidth: m.outputs[0].shape[1], versions, task };
}

/** By model id; without a prototype, so a hostile id such as `constructor` finds nothing. */
export const MODELS: Record<string, ModelInfo> = Object.assign(Object.create(null) as Record<string, ModelInfo>, {
  iris: read('iris', ['1', '2']),
  penguins: read('penguins', ['1']),
  'car-mpg': read('car-mpg', ['1']),
  'bench-mlp': read('bench-mlp', ['1']),
  [SCRATCH]: read(SCRATCH, ['1', '2'], 'penguins'),
});
export const MODEL_IDS = Object.keys(MODELS);
/** Models no admin call with a valid admin key may touch (the final checks compare them with their state before the fuzzing). */
export const PROTECTED = ['iris', 'penguins', 'car-mpg', 'bench-mlp'];

/** A measurement a client might send. */
export const goodNumber = fc.double({ min: -50, max: 50, noNaN: true, noDefaultInfinity: true });

/** `width` values cycling through `cells` (so a 256-wide row needs only a few generated cells). */
export const rowOf = (width: number, cells: unknown[]): unknown[] => Array.from({ length: width }, (_, i) => (cells.length ? cells[i % cells.length] : ((i % 7) - 3) / 3));

/** Real rows per model (the data sets' first rows and a few more), for the answers the suite compares. */
export const POOL: Record<string, number[][]> = {
  iris: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5], [6.3, 2.9, 5.6, 1.8]],
  penguins: [[39.1, 18.7, 181, 3750], [46.1, 13.2, 211, 4500], [49.5, 19.0, 200, 3800]],
  'car-mpg': [[4, 98, 68, 2045, 18.5, 77], [8, 350, 165, 3693, 11.5, 70], [6, 225, 100, 3430, 17.2, 76]],
};
