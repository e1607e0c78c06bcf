import { randomUUID } from 'node:crypto';

import { describeWithRedis, RedisServerProcess } from '../../../test/support/redis-server';
import { until } from '../../../test/support/until';
import type { RedisOperation } from '../../metrics/metrics.service';
import { RedisConnection } from '../../redis/redis-connection';
import { NamedTensors } from '../tensors/tensor';
import { cacheKey } from './cache-key';
import { LruPredictionCache } from './lru-prediction-cache';
import { CachedPrediction } from './prediction-cache';
import { RedisCacheLevel } from './redis-cache-level';
import { TwoLevelPredictionCache } from './two-level-prediction-cache';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

class ErrorTally {
  readonly counts = new Map<RedisOperation, number>();
  redisError(operation: RedisOperation): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }
}

const row = (n: number): NamedTensors => ({ input: { datatype: 'FP32', shape: [1, 4], data: Float32Array.from([n, 3.5, 1.4, 0.2]) } });
const answer = (n: number, version = '2'): CachedPrediction => ({
  model_version: version,
  outputs: {
    probabilities: { datatype: 'FP32', shape: [1, 3], data: Float32Array.from([n / 10, -0, Number.NaN]) },
    label: { datatype: 'INT64', shape: [1], data: BigInt64Array.from([BigInt(n) - 2n ** 62n]) },
  },
});

describeWithRedis('TwoLevelPredictionCache (a real redis-server)', () => {
  let server: RedisServerProcess;
  const connections: RedisConnection[] = [];

  interface Replica {
    sut: TwoLevelPredictionCache;
    local: LruPredictionCache;
    connection: RedisConnection;
    errors: ErrorTally;
  }

  /** A replica's cache: its own LRU and its own connection, on the deployment `prefix`. */
  async function replica(prefix: string, options: { ttlSeconds?: number; maxEntryBytes?: number } = {}): Promise<Replica> {
    const errors = new ErrorTally();
    const connection = new RedisConnection({ url: server.url, keyPrefix: prefix, timeoutMs: 500 }, errors, quiet);
    connections.push(connection);
    const ttlSeconds = options.ttlSeconds ?? 3600;
    const local = new LruPredictionCache({ enabled: true, maxEntries: 100, ttlSeconds });
    const sut = new TwoLevelPredictionCache(local, new RedisCacheLevel(connection, { ttlSeconds, maxEntryBytes: options.maxEntryBytes ?? 1024 * 1024 }));
    expect(await connection.open(5000)).toBe(true);
    return { sut, local, connection, errors };
  }

  /** The entry keys the deployment holds in Redis. */
  const entries = (r: Replica, prefix: string) => r.connection.client.keys(`${prefix}cache:*`);

  beforeAll(async () => {
    server = await RedisServerProcess.start();
  });

  afterEach(async () => {
    for (const c of connections.splice(0)) c.onApplicationShutdown();
    await server.start();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('an answer cached through one replica is a hit on another, bit for bit, then from that replica\'s own LRU', async () => {
    // Arrange
    const prefix = `p-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const key = cacheKey('iris', 2, row(1));
    await a.sut.set(key, answer(1));
    await until(async () => (await entries(a, prefix)).length === 1, 'the entry in Redis');

    // Act
    const fromRedis = await b.sut.get(key);
    const fromLocal = b.local.lookup(key);

    // Assert
    expect(fromRedis).toEqual(answer(1));
    expect(Object.is((fromRedis!.outputs.probabilities.data as Float32Array)[1], -0)).toBe(true);
    expect(fromLocal).toEqual(answer(1));
    expect(b.sut.stats('iris')).toEqual({ hits: 1, misses: 0, hit_rate: 1, size: 1 });
    expect(await entries(a, prefix)).toEqual([`${prefix}cache:0.0:${key}`]);
  });

  it('counts a miss of both levels once, and a local hit as one hit', async () => {
    // Arrange
    const { sut } = await replica(`p-${randomUUID()}:`);
    const key = cacheKey('iris', 2, row(2));

    // Act
    const miss = await sut.get(key);
    await sut.set(key, answer(2));
    const hit = await sut.get(key);

    // Assert
    expect(miss).toBeUndefined();
    expect(hit).toEqual(answer(2));
    expect(sut.stats('iris')).toEqual({ hits: 1, misses: 1, hit_rate: 0.5, size: 1 });
  });

  it('stores entries in Redis with CACHE_TTL_SECONDS', async () => {
    // Arrange
    const prefix = `p-${randomUUID()}:`;
    const r = await replica(prefix, { ttlSeconds: 30 });
    await r.sut.set(cacheKey('iris', 2, row(3)), answer(3));
    await until(async () => (await entries(r, prefix)).length === 1, 'the entry in Redis');

    // Act
    const [entry] = await entries(r, prefix);
    const ttlMs = await r.connection.client.pttl(entry);

    // Assert
    expect(ttlMs).toBeGreaterThan(25_000);
    expect(ttlMs).toBeLessThanOrEqual(30_000);
  });

  it('keeps an answer larger than REDIS_CACHE_MAX_ENTRY_KB out of Redis (it stays in the LRU)', async () => {
    // Arrange
    const prefix = `p-${randomUUID()}:`;
    const r = await replica(prefix, { maxEntryBytes: 200 });
    const big: CachedPrediction = { model_version: '1', outputs: { y: { datatype: 'FP32', shape: [100], data: new Float32Array(100) } } };
    const small = cacheKey('m', 1, row(4));
    const large = cacheKey('m', 1, row(5));

    // Act
    await r.sut.set(large, big);
    await r.sut.set(small, answer(4));
    await until(async () => (await entries(r, prefix)).length > 0, 'the small entry in Redis');

    // Assert
    expect(await entries(r, prefix)).toEqual([`${prefix}cache:0.0:${small}`]);
    expect(await r.sut.get(large)).toEqual(big);
  });

  it('clear(model) drops every version of that model from Redis and from every replica\'s LRU in O(1), and nothing else', async () => {
    // Arrange
    const prefix = `p-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const iris1 = cacheKey('iris', 1, row(6));
    const iris2 = cacheKey('iris', 2, row(6));
    const penguins = cacheKey('penguins', 1, row(6));
    for (const [key, n] of [[iris1, 1], [iris2, 2], [penguins, 3]] as const) await a.sut.set(key, answer(n));
    await until(async () => (await entries(a, prefix)).length === 3, 'three entries in Redis');
    await b.sut.get(iris2);
    const entriesBefore = await entries(a, prefix);

    // Act
    await a.sut.clear('iris');
    await until(() => b.local.lookup(iris2) === undefined, 'replica B dropping iris from its LRU');

    // Assert: generation bumped, nothing scanned or deleted; the old entries are unreachable and expire by their TTL
    expect(await a.connection.client.get(`${prefix}cache-gen:iris`)).toBe('1');
    expect((await entries(a, prefix)).sort()).toEqual(entriesBefore.sort());
    expect([await a.sut.get(iris1), await a.sut.get(iris2), await b.sut.get(iris2)]).toEqual([undefined, undefined, undefined]);
    expect(await b.sut.get(penguins)).toEqual(answer(3));
    const fresh = cacheKey('iris', 2, row(7));
    await a.sut.set(fresh, answer(7));
    await until(async () => (await entries(a, prefix)).includes(`${prefix}cache:0.1:${fresh}`), 'the new entry under generation 0.1');
  });

  it('does not copy into the LRU a Redis answer that was on its way when the model was cleared (a reload)', async () => {
    // Arrange: the answer is in Redis (through A) but not in B's LRU
    const prefix = `p-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const key = cacheKey('iris', 2, row(8));
    await a.sut.set(key, answer(8));
    await until(async () => (await entries(a, prefix)).length === 1, 'the entry in Redis');

    // Act: B's lookup is sent to Redis, then B clears iris before the answer arrives
    const lookup = b.sut.get(key);
    const cleared = b.sut.clear('iris');
    await Promise.all([lookup, cleared]);

    // Assert
    expect(b.local.lookup(key)).toBeUndefined();
    expect(await b.sut.get(key)).toBeUndefined();
  });

  it('does not store an answer computed before a reload of the model (a clear) and written after it, in either level: the old model\'s answer is never served', async () => {
    // Arrange
    const prefix = `p-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const key = cacheKey('iris', 2, row(11));
    const untouched = cacheKey('iris', 2, row(12));

    // Act: A misses and computes with the old model; the model is reloaded (cleared) meanwhile; then A stores the answer
    const miss = await a.sut.read(key);
    const otherMiss = await a.sut.read(untouched);
    await a.sut.clear('iris');
    await a.sut.set(key, answer(11, 'old model'), miss.generation);
    const fresh = await a.sut.read(untouched);
    await a.sut.set(untouched, answer(12), fresh.generation);
    // (Redis runs A's writes in order: once the later one is there, the earlier one has run.)
    await until(async () => (await entries(a, prefix)).includes(`${prefix}cache:0.1:${untouched}`), 'the answer read after the clear in Redis');

    // Assert
    expect([miss.value, otherMiss.value, fresh.value]).toEqual([undefined, undefined, undefined]);
    expect(await entries(a, prefix)).toEqual([`${prefix}cache:0.1:${untouched}`]);
    expect(a.local.lookup(key)).toBeUndefined();
    expect(await b.sut.get(key)).toBeUndefined();
    expect(await a.sut.get(key)).toBeUndefined();
    expect(await b.sut.get(untouched)).toEqual(answer(12));
  });

  it('does not store in Redis an answer whose lookup was answered before another replica cleared the model', async () => {
    // Arrange
    const prefix = `p-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const key = cacheKey('iris', 2, row(13));
    const miss = await a.sut.read(key);

    // Act
    await b.sut.clear('iris');
    await a.sut.set(key, answer(13, 'old model'), miss.generation);
    // (Redis runs A's commands in order: once this one is answered, the write has run.)
    await a.connection.client.ping();

    // Assert
    expect(await entries(a, prefix)).toEqual([]);
    expect(await b.sut.get(key)).toBeUndefined();
  });

  it('clear() drops every model on every replica', async () => {
    // Arrange
    const prefix = `p-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const key = cacheKey('penguins', 1, row(8));
    await a.sut.set(key, answer(8));
    await until(async () => (await entries(a, prefix)).length === 1, 'the entry in Redis');
    await b.sut.get(key);

    // Act
    await a.sut.clear();
    await until(() => b.local.lookup(key) === undefined, 'replica B dropping its LRU');

    // Assert
    expect(await b.sut.get(key)).toBeUndefined();
  });

  it('with Redis down serves from the LRU alone, at once, never rejecting; uses Redis again once it is back', async () => {
    // Arrange
    const prefix = `p-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const key = cacheKey('iris', 2, row(9));
    await server.stop();

    // Act
    const started = Date.now();
    await a.sut.set(key, answer(9));
    const localHit = await a.sut.get(key);
    const otherReplica = await b.sut.get(key);
    await a.sut.clear('penguins');
    const tookMs = Date.now() - started;
    await server.start();
    await until(() => a.connection.ready && b.connection.ready, 'both replicas reconnected');
    const later = cacheKey('iris', 2, row(10));
    await a.sut.set(later, answer(10));
    await until(async () => (await entries(a, prefix)).length === 1, 'the entry in Redis');

    // Assert
    expect(localHit).toEqual(answer(9));
    expect(otherReplica).toBeUndefined();
    expect(tookMs).toBeLessThan(300);
    expect(await b.sut.get(later)).toEqual(answer(10));
  });
});
