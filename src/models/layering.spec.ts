import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(__dirname, '..');

/** Every .ts and .js file under `dir`, specs included (a spec importing a transport would hide a cycle too). */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(e.name) ? [path] : [];
  });
}

/** The relative module specifiers of a file's static imports, dynamic imports and requires. */
function relativeImports(text: string): string[] {
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)'(\.[^']*)'/g)].map((m) => m[1]);
  return [...new Set(specifiers)];
}

describe('layering', () => {
  it('src/models imports nothing from src/inference (transports depend on the models, never the reverse)', () => {
    // Arrange
    const files = sourceFiles(join(SRC, 'models'));

    // Act
    const sut = files.flatMap((file) =>
      relativeImports(readFileSync(file, 'utf8'))
        .map((specifier) => relative(SRC, resolve(dirname(file), specifier)))
        .filter((target) => target === 'inference' || target.startsWith('inference/'))
        .map((target) => `${relative(SRC, file)} → ${target}`),
    );

    // Assert
    expect(files.length).toBeGreaterThan(20);
    expect(sut).toEqual([]);
  });
});
