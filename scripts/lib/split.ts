import { Rng, shuffled } from './random';

/** Row indices of a train/test partition, each sorted ascending so output order is stable. */
export interface Split {
  train: number[];
  test: number[];
}

const ascending = (a: number, b: number) => a - b;

/**
 * Stratified split: every class contributes `testCount(classSize)` rows to the test set,
 * so small classes (e.g. Chinstrap penguins) are never missing from evaluation.
 */
export function stratifiedSplit(
  classes: readonly number[],
  testCount: (classSize: number) => number,
  rng: Rng,
): Split {
  const byClass = new Map<number, number[]>();
  classes.forEach((c, i) => byClass.set(c, [...(byClass.get(c) ?? []), i]));
  const train: number[] = [];
  const test: number[] = [];
  for (const c of [...byClass.keys()].sort(ascending)) {
    const rows = shuffled(byClass.get(c)!, rng);
    const k = testCount(rows.length);
    test.push(...rows.slice(0, k));
    train.push(...rows.slice(k));
  }
  return { train: train.sort(ascending), test: test.sort(ascending) };
}

/** Plain random split holding out round(n * testFraction) rows. */
export function randomSplit(n: number, testFraction: number, rng: Rng): Split {
  const rows = shuffled(
    Array.from({ length: n }, (_, i) => i),
    rng,
  );
  const k = Math.round(n * testFraction);
  return { train: rows.slice(k).sort(ascending), test: rows.slice(0, k).sort(ascending) };
}

/** Select rows by index. */
export function pick<T>(rows: readonly T[], indices: readonly number[]): T[] {
  return indices.map((i) => rows[i]);
}
