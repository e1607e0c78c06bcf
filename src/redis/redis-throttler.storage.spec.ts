import { randomUUID } from 'node:crypto';

import { describeWithRedis, RedisServerProcess } from '../../test/support/redis-server';
import { until } from '../../test/support/until';
import { CounterThrottlerStorage, ThrottlerStorageRecord } from '../common/throttling/counter-throttler.storage';
import type { RedisOperation } from '../metrics/metrics.service';
import { RedisConnection } from './redis-connection';
import { RedisThrottlerStorage } from './redis-throttler.storage';

const MINUTE = 60_000;
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** Counts errors by operation, as MetricsService does. */
class ErrorTally {
  readonly counts = new Map<RedisOperation, number>();
  redisError(operation: RedisOperation): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }
}


describeWithRedis('RedisThrottlerStorage (a real redis-server)', () => {
  let server: RedisServerProcess;
  const connections: RedisConnection[] = [];
  const storages: RedisThrottlerStorage[] = [];

  /** A replica's storage: its own connection to the shared server, under `prefix`. */
  async function replica(prefix: string, errors = new ErrorTally()): Promise<{ sut: RedisThrottlerStorage; connection: RedisConnection; errors: ErrorTally }> {
    const connection = new RedisConnection({ url: server.url, keyPrefix: prefix, timeoutMs: 500 }, errors, quiet);
    connections.push(connection);
    expect(await connection.open(5000)).toBe(true);
    const sut = new RedisThrottlerStorage(connection);
    storages.push(sut);
    return { sut, connection, errors };
  }

  const hits = async (sut: { increment: RedisThrottlerStorage['increment'] }, times: number, key: string, limit = 10, blockDuration = MINUTE, ttl = MINUTE) => {
    const answers: ThrottlerStorageRecord[] = [];
    for (let i = 0; i < times; i += 1) answers.push(await sut.increment(key, ttl, limit, blockDuration, 'minute'));
    return answers;
  };

  beforeAll(async () => {
    server = await RedisServerProcess.start();
  });

  afterEach(() => {
    for (const s of storages.splice(0)) s.onModuleDestroy();
    for (const c of connections.splice(0)) c.onApplicationShutdown();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('allows exactly N hits in a window and blocks the (N+1)-th for the block duration', async () => {
    // Arrange
    const { sut } = await replica(`t-${randomUUID()}:`);

    // Act
    const answers = await hits(sut, 12, 'minute:key:a', 10, 2 * MINUTE);

    // Assert
    expect(answers.slice(0, 10).map((a) => [a.totalHits, a.isBlocked, a.timeToBlockExpire])).toEqual(Array.from({ length: 10 }, (_, i) => [i + 1, false, 0]));
    expect(answers[0].timeToExpire).toBe(60);
    expect(answers[10]).toEqual({ totalHits: 11, timeToExpire: 120, isBlocked: true, timeToBlockExpire: 120 });
    expect(answers[11]).toMatchObject({ totalHits: 11, isBlocked: true });
  });

  it('answers exactly as CounterThrottlerStorage for the same hits, with and without a block', async () => {
    // Arrange
    const { sut } = await replica(`t-${randomUUID()}:`);
    const local = new CounterThrottlerStorage();

    // Act
    const redisAnswers = [...await hits(sut, 8, 'minute:key:blocking', 5, MINUTE), ...await hits(sut, 8, 'minute:key:plain', 5, 0)];
    const localAnswers = [...await hits(local, 8, 'minute:key:blocking', 5, MINUTE), ...await hits(local, 8, 'minute:key:plain', 5, 0)];
    local.onModuleDestroy();

    // Assert
    expect(redisAnswers).toEqual(localAnswers);
  });

  it('is one limit across replicas: 6 hits through one and 5 through another give exactly one refusal', async () => {
    // Arrange
    const prefix = `t-${randomUUID()}:`;
    const a = await replica(prefix);
    const b = await replica(prefix);

    // Act
    const answers = [...await hits(a.sut, 6, 'minute:ip:127.0.0.1'), ...await hits(b.sut, 5, 'minute:ip:127.0.0.1')];

    // Assert
    expect(answers.filter((x) => x.isBlocked)).toHaveLength(1);
    expect(answers[10]).toMatchObject({ totalHits: 11, isBlocked: true });
  });

  it('keeps deployments apart by key prefix', async () => {
    // Arrange
    const a = await replica(`t-${randomUUID()}:`);
    const b = await replica(`t-${randomUUID()}:`);
    await hits(a.sut, 10, 'minute:key:x');

    // Act
    const [answer] = await hits(b.sut, 1, 'minute:key:x');

    // Assert
    expect(answer).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('keeps one small hash per key that expires with its window, and starts a new window after it', async () => {
    // Arrange
    const prefix = `t-${randomUUID()}:`;
    const { sut, connection } = await replica(prefix);
    await hits(sut, 3, 'minute:key:w', 3, 0, 300);

    // Act
    const type = await connection.client.type(`${prefix}throttle:minute:key:w`);
    const ttl = await connection.client.pttl(`${prefix}throttle:minute:key:w`);
    const refused = (await hits(sut, 1, 'minute:key:w', 3, 0, 300))[0];
    await until(async () => (await connection.client.exists(`${prefix}throttle:minute:key:w`)) === 0);
    const next = (await hits(sut, 1, 'minute:key:w', 3, 0, 300))[0];

    // Assert
    expect(type).toBe('hash');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    expect(refused).toMatchObject({ totalHits: 4, isBlocked: true, timeToExpire: 1 });
    expect(next).toEqual({ totalHits: 1, timeToExpire: 1, isBlocked: false, timeToBlockExpire: 0 });
  });

  it('counts in-process while Redis is down (no wait, the limit still holds per replica) and in Redis again once it is back', async () => {
    // Arrange
    const prefix = `t-${randomUUID()}:`;
    const { sut, connection } = await replica(prefix);
    await hits(sut, 2, 'minute:key:f', 3);
    await server.stop();

    // Act
    const started = Date.now();
    const during = await hits(sut, 4, 'minute:key:f', 3);
    const tookMs = Date.now() - started;
    await server.start();
    await until(() => connection.ready);
    const after = await hits(sut, 1, 'minute:key:f', 3);

    // Assert: the fallback counts from zero (the 2 hits made in Redis are not known to it)
    expect(during.map((a) => a.isBlocked)).toEqual([false, false, false, true]);
    expect(tookMs).toBeLessThan(500);
    // A restarted Redis without persistence starts empty.
    expect(after[0]).toMatchObject({ totalHits: 1, isBlocked: false });
  });
});
