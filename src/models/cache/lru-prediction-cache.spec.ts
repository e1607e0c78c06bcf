
import { NamedTensors } from '../tensors/tensor';
import { cacheKey } from './cache-key';
import { entryBytes, LruPredictionCache } from './lru-prediction-cache';
import { CachedPrediction } from './prediction-cache';

/** A distinct answer per label: its bytes as a UINT8 output. */
const answer = (label: string, version = '2'): CachedPrediction => ({
  outputs: { label: { datatype: 'UINT8', shape: [label.length], data: Uint8Array.from(Buffer.from(label)) } },
  model_version: version,
});

describe('LruPredictionCache', () => {
  const row = (n: number): NamedTensors => ({ x: { datatype: 'FP32', shape: [1], data: Float32Array.from([n]) } });
  const irisKey = (n: number, version = 2): string => cacheKey('iris', version, row(n));
  const penguinKey = (n: number): string => cacheKey('penguins', 1, row(n));

  it('stays under maxBytes of outputs (least recently used out first) and does not keep an answer bigger than the cap', async () => {
    // Arrange: each entry is its key plus 1,000 output bytes; room for two
    const big = (n: number): CachedPrediction => ({ outputs: { y: { datatype: 'UINT8', shape: [1000], data: new Uint8Array(1000).fill(n) } }, model_version: '2' });
    const perEntry = entryBytes(irisKey(1), big(1));
    const sut = new LruPredictionCache({ enabled: true, maxEntries: 100, ttlSeconds: 0, maxBytes: 2 * perEntry + 10 });

    // Act
    await sut.set(irisKey(1), big(1));
    await sut.set(irisKey(2), big(2));
    await sut.get(irisKey(1));
    await sut.set(irisKey(3), big(3));
    await sut.set(irisKey(4), { outputs: { y: { datatype: 'UINT8', shape: [5000], data: new Uint8Array(5000) } }, model_version: '2' });

    // Assert
    expect(perEntry).toBe(irisKey(1).length + 1000);
    expect(await sut.get(irisKey(1))).toBeDefined();
    expect(await sut.get(irisKey(2))).toBeUndefined();
    expect(await sut.get(irisKey(3))).toBeDefined();
    expect(await sut.get(irisKey(4))).toBeUndefined();
    expect(sut.stats('iris').size).toBe(2);
  });

  it('returns what was set, under the same key only', async () => {
    // Arrange
    const sut = new LruPredictionCache({ enabled: true, maxEntries: 10, ttlSeconds: 0 });
    await sut.set(irisKey(1), answer('setosa'));

    // Act
    const hit = await sut.get(irisKey(1));
    const otherVersion = await sut.get(irisKey(1, 1));

    // Assert
    expect(hit).toEqual(answer('setosa'));
    expect(otherVersion).toBeUndefined();
  });

  it('stores an answer at the generation of its lookup only while the model was not cleared since (by itself or with every model)', async () => {
    // Arrange
    const sut = new LruPredictionCache({ enabled: true, maxEntries: 10, ttlSeconds: 0 });
    const [before, penguinBefore] = [await sut.read(irisKey(1)), await sut.read(penguinKey(1))];
    await sut.clear('iris');
    const afterModelClear = await sut.read(irisKey(2));
    await sut.clear();

    // Act
    await sut.set(irisKey(1), answer('old model'), before.generation);
    await sut.set(penguinKey(1), answer('adelie'), penguinBefore.generation);
    await sut.set(irisKey(2), answer('also old'), afterModelClear.generation);
    await sut.set(irisKey(3), answer('current'), (await sut.read(irisKey(3))).generation);

    // Assert
    expect(before).toEqual({ value: undefined, generation: '0.0' });
    expect(await sut.get(irisKey(1))).toBeUndefined();
    expect(await sut.get(penguinKey(1))).toBeUndefined();
    expect(await sut.get(irisKey(2))).toBeUndefined();
    expect(await sut.get(irisKey(3))).toEqual(answer('current'));
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    // Arrange
    const sut = new LruPredictionCache({ enabled: true, maxEntries: 2, ttlSeconds: 0 });
    await sut.set(irisKey(1), answer('a'));
    await sut.set(irisKey(2), answer('b'));
    await sut.get(irisKey(1));

    // Act
    await sut.set(irisKey(3), answer('c'));

    // Assert
    expect(await sut.get(irisKey(2))).toBeUndefined();
    expect(await sut.get(irisKey(1))).toEqual(answer('a'));
    expect(await sut.get(irisKey(3))).toEqual(answer('c'));
    expect(sut.stats('iris').size).toBe(2);
  });

  it('expires entries after ttlSeconds, on its clock', async () => {
    // Arrange
    let now = 1_000;
    const sut = new LruPredictionCache({ enabled: true, maxEntries: 10, ttlSeconds: 0.05, now: () => now });
    await sut.set(irisKey(1), answer('a'));
    await sut.set(irisKey(2), answer('b'));
    now += 49;
    const fresh = await sut.get(irisKey(1));

    // Act
    now += 2;

    // Assert
    expect(fresh).toEqual(answer('a'));
    expect(sut.stats('iris').size).toBe(0);
    expect(await sut.get(irisKey(1))).toBeUndefined();
  });

  it('keeps exact stats per model: hits, misses, hit_rate to 4 decimals, size after eviction and overwrite', async () => {
    // Arrange
    const sut = new LruPredictionCache({ enabled: true, maxEntries: 3, ttlSeconds: 0 });
    await sut.set(penguinKey(1), answer('adelie', '1'));
    for (const n of [1, 2, 3]) await sut.set(irisKey(n), answer(`i${n}`));
    await sut.set(irisKey(3), answer('i3 again'));

    // Act
    for (const n of [1, 2, 3, 4, 5, 6]) await sut.get(irisKey(n));
    await sut.get(penguinKey(1));

    // Assert: the penguin entry was the LRU one, evicted by the third iris entry.
    expect(sut.stats('iris')).toEqual({ hits: 3, misses: 3, hit_rate: 0.5, size: 3 });
    expect(sut.stats('penguins')).toEqual({ hits: 0, misses: 1, hit_rate: 0, size: 0 });
    await sut.get(irisKey(1));
    expect(sut.stats('iris').hit_rate).toBe(0.5714);
    expect(sut.stats('unknown')).toEqual({ hits: 0, misses: 0, hit_rate: 0, size: 0 });
  });

  it('clear(modelId) drops only that model, every version; clear() drops all', async () => {
    // Arrange
    const sut = new LruPredictionCache({ enabled: true, maxEntries: 10, ttlSeconds: 0 });
    await sut.set(irisKey(1, 1), answer('a', '1'));
    await sut.set(irisKey(1, 2), answer('a'));
    await sut.set(penguinKey(1), answer('adelie', '1'));

    // Act
    await sut.clear('iris');
    const afterModelClear = [await sut.get(irisKey(1, 1)), await sut.get(irisKey(1, 2)), await sut.get(penguinKey(1))];
    await sut.clear();

    // Assert
    expect(afterModelClear).toEqual([undefined, undefined, answer('adelie', '1')]);
    expect(await sut.get(penguinKey(1))).toBeUndefined();
    expect(sut.stats('iris').size).toBe(0);
    expect(sut.stats('penguins')).toEqual({ hits: 1, misses: 1, hit_rate: 0.5, size: 0 });
  });

  it('when disabled, never hits, stores nothing and counts nothing', async () => {
    // Arrange
    const sut = new LruPredictionCache({ enabled: false, maxEntries: 0, ttlSeconds: 0 });
    await sut.set(irisKey(1), answer('a'));

    // Act
    const value = await sut.get(irisKey(1));
    await sut.clear('iris');

    // Assert
    expect(sut.enabled).toBe(false);
    expect(value).toBeUndefined();
    expect(sut.stats('iris')).toEqual({ hits: 0, misses: 0, hit_rate: 0, size: 0 });
  });

  it('refuses maxEntries below 1 when enabled', () => {
    // Act
    const act = () => new LruPredictionCache({ enabled: true, maxEntries: 0, ttlSeconds: 0 });

    // Assert
    expect(act).toThrow(RangeError);
  });
});
