import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const SRC = __dirname;

/** Every .ts and .js file of the service under `dir`; specs are left out (a spec may use real pieces of other folders). */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(e.name) && !/\.spec\.ts$/.test(e.name) ? [path] : [];
  });
}

/** The relative module specifiers of a file's static imports (side-effect ones too), dynamic imports and requires. */
function relativeImports(text: string): string[] {
  const specifiers = [...text.matchAll(/(?:from\s+|import\s+|import\s*\(\s*|require\s*\(\s*)'(\.[^']*)'/g)].map((m) => m[1]);
  return [...new Set(specifiers)];
}

/** The top-level folder of src a path is in ('' for src itself and for paths outside src, such as package.json). */
const folderOf = (path: string): string => {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 && parts[0] !== '..' ? parts[0] : '';
};

/** Folder → the other folders it imports from, with one example import each. */
function folderEdges(): Map<string, Map<string, string>> {
  const edges = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    for (const specifier of relativeImports(readFileSync(file, 'utf8'))) {
      const to = folderOf(resolve(dirname(file), specifier));
      if (!from || !to || from === to) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      edges.get(from)!.set(to, `${relative(SRC, file)} → ${specifier}`);
    }
  }
  return edges;
}

describe('layering', () => {
  const edges = folderEdges();

  it('folders import one way: no cycle between the folders of src', () => {
    // Act: every pair (a → b, b → … → a) found by a walk from each folder
    const sut: string[] = [];
    for (const start of edges.keys()) {
      const seen = new Set<string>();
      const stack = [...(edges.get(start)?.keys() ?? [])];
      while (stack.length) {
        const next = stack.pop()!;
        if (next === start) sut.push(`${start} is reached again from its own imports (${[...edges.get(start)!.values()].join('; ')})`);
        if (seen.has(next)) continue;
        seen.add(next);
        stack.push(...(edges.get(next)?.keys() ?? []));
      }
    }

    // Assert
    expect(edges.size).toBeGreaterThan(5);
    expect(sut).toEqual([]);
  });

  it('src/common imports no feature folder (only config)', () => {
    // Act
    const sut = [...(edges.get('common') ?? new Map<string, string>())].filter(([to]) => to !== 'config').map(([, example]) => example);

    // Assert
    expect(sut).toEqual([]);
  });

  it('src/models imports nothing from src/inference or src/http (transports depend on the models, never the reverse)', () => {
    // Act
    const sut = [...(edges.get('models') ?? new Map<string, string>())].filter(([to]) => to === 'inference' || to === 'http').map(([, example]) => example);

    // Assert
    expect(sut).toEqual([]);
  });
});
