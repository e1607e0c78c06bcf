import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FileRegistryStateStore } from './file-registry-state.store';
import { RegistryState } from './registry-state';

function stateWith(active: number): RegistryState {
  return {
    version: 1,
    updated_at: new Date(Date.UTC(2025, 0, 1, 0, 0, active)).toISOString(),
    models: { iris: { active, previous_active: active > 1 ? active - 1 : undefined, canary: { version: active + 1, percentage: 10, sticky: true } } },
  };
}

/** The state as it reads back from JSON (undefined fields dropped). */
const asJson = (state: RegistryState): unknown => JSON.parse(JSON.stringify(state));

describe('FileRegistryStateStore', () => {
  let dir: string;
  let path: string;
  let logger: { warn: jest.Mock; error: jest.Mock };
  let sut: FileRegistryStateStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-state-'));
    path = join(dir, 'registry-state.json');
    logger = { warn: jest.fn(), error: jest.fn() };
    sut = new FileRegistryStateStore(path, logger);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const tmpFiles = async (): Promise<string[]> => (await readdir(dir)).filter((f) => f.endsWith('.tmp'));

  it('reads back what it saved', async () => {
    // Arrange
    const state = stateWith(2);

    // Act
    await sut.save(state);
    const loaded = await new FileRegistryStateStore(path, logger).load();

    // Assert
    expect(loaded).toEqual(asJson(state));
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('returns undefined without complaint when the file does not exist', async () => {
    // Act
    const loaded = await sut.load();

    // Assert
    expect(loaded).toBeUndefined();
    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('creates a missing parent directory on save', async () => {
    // Arrange
    const nested = new FileRegistryStateStore(join(dir, 'a', 'b', 'state.json'), logger);

    // Act
    await nested.save(stateWith(1));

    // Assert
    expect(await nested.load()).toEqual(asJson(stateWith(1)));
  });

  it('reports a corrupt file by name, returns undefined and keeps the file', async () => {
    // Arrange
    await writeFile(path, '{"version": 1, "models": {');

    // Act
    const loaded = await sut.load();

    // Assert
    expect(loaded).toBeUndefined();
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0][0]).toContain(path);
    expect(logger.error.mock.calls[0][0]).toContain('corrupt');
    expect(await readFile(path, 'utf8')).toBe('{"version": 1, "models": {');
  });

  it('reports invalid content with its problems instead of throwing', async () => {
    // Arrange
    const invalid = { ...stateWith(1), models: { iris: { active: 1, canary: { version: 2, percentage: 150, sticky: false } } } };
    await writeFile(path, JSON.stringify(invalid));

    // Act
    const loaded = await sut.load();

    // Assert
    expect(loaded).toBeUndefined();
    const message = logger.error.mock.calls[0][0] as string;
    expect(message).toContain(path);
    expect(message).toContain('models.iris.canary.percentage must be a number between 0 and 100 (got 150)');
    expect(await readFile(path, 'utf8')).toBe(JSON.stringify(invalid));
  });

  it('reports an unreadable path and returns undefined', async () => {
    // Arrange: a directory where the file should be
    await mkdir(path);

    // Act
    const loaded = await sut.load();

    // Assert
    expect(loaded).toBeUndefined();
    expect(logger.error.mock.calls[0][0]).toContain(path);
  });

  it('leaves 50 concurrent saves as a valid file equal to the last state and no temp files', async () => {
    // Arrange
    const states = Array.from({ length: 50 }, (_, i) => stateWith(i + 1));

    // Act
    await Promise.all(states.map((s) => sut.save(s)));

    // Assert
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(asJson(states[49]));
    expect(await tmpFiles()).toEqual([]);
  });

  it('keeps the last state when saves arrive while earlier ones are writing', async () => {
    // Arrange: saves spread over event-loop turns, so several real writes overlap with new requests
    const states = Array.from({ length: 50 }, (_, i) => stateWith(i + 1));
    const pending: Promise<void>[] = [];

    // Act
    for (const [i, state] of states.entries()) {
      pending.push(sut.save(state));
      if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);

    // Assert
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(asJson(states[49]));
    expect(await tmpFiles()).toEqual([]);
  });

  it('settles each save only after a state at least as new is on disk', async () => {
    // Arrange
    const first = sut.save(stateWith(1));
    const second = sut.save(stateWith(2));

    // Act
    await second;
    const onDisk = JSON.parse(await readFile(path, 'utf8'));
    await first;

    // Assert
    expect(onDisk.models.iris.active).toBe(2);
  });

  it('does not let a caller mutate what it has already asked to save', async () => {
    // Arrange
    const state = stateWith(3);

    // Act
    const saving = sut.save(state);
    state.models.iris.active = 99;
    await saving;

    // Assert
    expect(JSON.parse(await readFile(path, 'utf8')).models.iris.active).toBe(3);
  });

  it('rejects an invalid state and keeps the previous file', async () => {
    // Arrange
    await sut.save(stateWith(1));
    const invalid = { ...stateWith(2), models: { iris: { shadow: { version: 2, percentage: 150 } } } };

    // Act
    const saving = sut.save(invalid);

    // Assert
    await expect(saving).rejects.toThrow('models.iris.shadow.percentage');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(asJson(stateWith(1)));
  });

  it('rejects a failed write, cleans up its temp file and still serves later saves', async () => {
    // Arrange: a directory in the target's place makes the rename fail
    await mkdir(path);
    const blocked = sut.save(stateWith(1));

    // Act
    await expect(blocked).rejects.toThrow(`cannot save registry state to ${path}`);
    const tmpAfterFailure = await tmpFiles();
    await rm(path, { recursive: true });
    await sut.save(stateWith(2));

    // Assert
    expect(tmpAfterFailure).toEqual([]);
    expect(await sut.load()).toEqual(asJson(stateWith(2)));
  });
});
