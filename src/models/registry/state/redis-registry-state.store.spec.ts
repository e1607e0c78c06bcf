import { randomUUID } from 'node:crypto';

import { describeWithRedis, RedisServerProcess } from '../../../../test/support/redis-server';
import { until } from '../../../../test/support/until';
import { RedisConnection } from '../../../redis/redis-connection';
import { ModelRoutingState } from './registry-state';
import { CommitOutcomeUnknownError, ModelStateChange } from './registry-state.store';
import { RedisRegistryStateStore } from './redis-registry-state.store';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const noErrors = { redisError: () => undefined };

describeWithRedis('RedisRegistryStateStore (a real redis-server)', () => {
  let server: RedisServerProcess;
  const connections: RedisConnection[] = [];

  /** A replica's store on the deployment `prefix`, with its own connection. */
  async function replica(prefix: string, logger = { warn: jest.fn(), error: jest.fn() }, prepare?: (connection: RedisConnection) => void) {
    const connection = new RedisConnection({ url: server.url, keyPrefix: prefix, timeoutMs: 500 }, noErrors, quiet);
    connections.push(connection);
    prepare?.(connection);
    const sut = new RedisRegistryStateStore(connection, logger);
    const changes: ModelStateChange[] = [];
    sut.onChange((c) => changes.push(c));
    expect(await connection.open(5000)).toBe(true);
    return { sut, connection, changes, logger };
  }

  /**
   * Fault injection: the commit script's reply is lost — the call rejects as ioredis does after
   * REDIS_TIMEOUT_MS — after `meanwhile` ran and, when `sent`, after the real script ran.
   */
  const losingCommitReplies = (sent: boolean, meanwhile: () => Promise<unknown> = async () => undefined) => (connection: RedisConnection) => {
    const define = connection.script.bind(connection);
    jest.spyOn(connection, 'script').mockImplementation((name, keys, lua) => {
      const real = define(name, keys, lua);
      if (name !== 'nmsRegistryCommit') return real;
      return {
        ...real,
        run: async (...args) => {
          await meanwhile();
          if (sent) await real.run(...args);
          throw new Error('Command timed out');
        },
      };
    });
  };

  const promoted: ModelRoutingState = { active: 1, staging: 2, previous_active: 2, canary: { version: 2, percentage: 12.5, sticky: true } };

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

  it('creates one epoch for the deployment and reads nothing before the first change', async () => {
    // Arrange
    const prefix = `r-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];

    // Act
    const first = await a.sut.snapshot();
    const second = await b.sut.snapshot();

    // Assert
    expect(first!.epoch).toMatch(/^[0-9a-f-]{36}$/);
    expect(second!.epoch).toBe(first!.epoch);
    expect(first!.models.size).toBe(0);
    expect(await a.sut.load()).toMatchObject({ version: 1, models: {} });
  });

  it('commits at the expected revision, announces it to every replica, and reads it back with its revision', async () => {
    // Arrange
    const prefix = `r-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const { epoch } = (await a.sut.snapshot())!;

    // Act
    const result = await a.sut.commit('iris', promoted, { epoch, revision: 0 });
    await until(() => b.changes.length === 1 && a.changes.length === 1, 'the announcement on both replicas');
    const read = await b.sut.snapshot();

    // Assert
    expect(result).toEqual({ committed: true, revision: 1 });
    expect(b.changes[0]).toEqual({ model: 'iris', revision: 1, epoch, state: promoted });
    expect(read!.models.get('iris')).toEqual({ state: promoted, revision: 1 });
    expect((await b.sut.load())!.models).toEqual({ iris: promoted });
  });

  it('refuses a commit at a stale revision or another epoch: nothing is stored or announced', async () => {
    // Arrange
    const prefix = `r-${randomUUID()}:`;
    const a = await replica(prefix);
    const { epoch } = (await a.sut.snapshot())!;
    await a.sut.commit('iris', promoted, { epoch, revision: 0 });
    await until(() => a.changes.length === 1, 'the first announcement');

    // Act
    const stale = await a.sut.commit('iris', { active: 2 }, { epoch, revision: 0 });
    const otherEpoch = await a.sut.commit('iris', { active: 2 }, { epoch: 'another', revision: 1 });
    const next = await a.sut.commit('iris', { active: 2 }, { epoch, revision: 1 });
    await until(() => a.changes.length === 2, 'the second announcement');

    // Assert
    expect([stale, otherEpoch, next]).toEqual([{ committed: false }, { committed: false }, { committed: true, revision: 2 }]);
    expect(a.changes.map((c) => c.revision)).toEqual([1, 2]);
    expect((await a.sut.snapshot())!.models.get('iris')).toEqual({ state: { active: 2 }, revision: 2 });
  });

  it('settles a commit whose reply was lost by reading the model back: made, not made, or refused for another replica\'s change', async () => {
    // Arrange: one deployment per case
    const [made, notMade, other] = [`r-${randomUUID()}:`, `r-${randomUUID()}:`, `r-${randomUUID()}:`];
    const a = await replica(made, undefined, losingCommitReplies(true));
    const b = await replica(notMade, undefined, losingCommitReplies(false));
    const rival = await replica(other);
    const { epoch } = (await rival.sut.snapshot())!;
    const c = await replica(other, undefined, losingCommitReplies(true, () => rival.sut.commit('iris', { active: 2 }, { epoch, revision: 0 })));

    // Act
    const results = await Promise.allSettled([
      a.sut.commit('iris', promoted, { epoch: (await a.sut.snapshot())!.epoch, revision: 0 }),
      b.sut.commit('iris', promoted, { epoch: (await b.sut.snapshot())!.epoch, revision: 0 }),
      c.sut.commit('iris', promoted, { epoch, revision: 0 }),
    ]);

    // Assert
    expect(results[0]).toEqual({ status: 'fulfilled', value: { committed: true, revision: 1 } });
    expect(results[1].status).toBe('rejected');
    const notMadeError = (results[1] as PromiseRejectedResult).reason as Error;
    expect(notMadeError).not.toBeInstanceOf(CommitOutcomeUnknownError);
    expect(notMadeError.message).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+: Command timed out \(the change was not made\)$/);
    expect(results[2]).toEqual({ status: 'fulfilled', value: { committed: false } });
    expect(await rival.connection.client.hget(`${other}registry:models`, 'iris')).toBe('{"active":2}');
  });

  it('lets exactly one of two replicas commit when both change the same model from the same revision', async () => {
    // Arrange
    const prefix = `r-${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const { epoch } = (await a.sut.snapshot())!;

    // Act
    const results = await Promise.all([
      a.sut.commit('iris', { active: 1 }, { epoch, revision: 0 }),
      b.sut.commit('iris', { active: 2, canary: { version: 1, percentage: 5, sticky: false } }, { epoch, revision: 0 }),
    ]);

    // Assert
    expect(results.filter((r) => r.committed)).toEqual([{ committed: true, revision: 1 }]);
  });

  it('keeps models apart: each has its own revision', async () => {
    // Arrange
    const prefix = `r-${randomUUID()}:`;
    const a = await replica(prefix);
    const { epoch } = (await a.sut.snapshot())!;

    // Act
    await a.sut.commit('iris', { active: 1 }, { epoch, revision: 0 });
    const other = await a.sut.commit('penguins', { active: 2 }, { epoch, revision: 0 });

    // Assert
    expect(other).toEqual({ committed: true, revision: 1 });
  });

  it('refuses to commit an invalid state, and skips an invalid document found in Redis, reporting it once and giving its revision', async () => {
    // Arrange
    const prefix = `r-${randomUUID()}:`;
    const a = await replica(prefix);
    const { epoch } = (await a.sut.snapshot())!;
    await a.connection.client.hset(`${prefix}registry:models`, 'hand-edited', '{"active":"two"}', 'broken', '{oops');
    await a.connection.client.hset(`${prefix}registry:revisions`, 'hand-edited', 4);
    await a.sut.commit('iris', { active: 1 }, { epoch, revision: 0 });

    // Act
    const invalid = await a.sut.commit('iris', { active: -1 }, { epoch, revision: 1 }).then(() => undefined, (e: unknown) => e);
    const read = await a.sut.snapshot();
    const again = await a.sut.snapshot();

    // Assert
    expect(String(invalid)).toMatch(/invalid registry state: models\.iris\.active must be a positive integer/);
    expect([...read!.models.keys()]).toEqual(['iris']);
    expect(read!.unusable).toEqual(new Map([['hand-edited', 4], ['broken', 0]]));
    expect(again!.unusable).toEqual(read!.unusable);
    expect(a.logger.warn).toHaveBeenCalledTimes(2);
    expect(a.logger.warn).toHaveBeenCalledWith(expect.stringMatching(/'hand-edited' .* is invalid: models\.hand-edited\.active must be a positive integer.*the next change of 'hand-edited' replaces it/));
    expect(a.logger.warn).toHaveBeenCalledWith(expect.stringMatching(/'broken' .* is not JSON/));
  });

  it('replaces an invalid document by a commit at its revision', async () => {
    // Arrange
    const prefix = `r-${randomUUID()}:`;
    const a = await replica(prefix);
    const { epoch } = (await a.sut.snapshot())!;
    await a.connection.client.hset(`${prefix}registry:models`, 'iris', '{"active":"two"}');
    await a.connection.client.hset(`${prefix}registry:revisions`, 'iris', 3);
    const revision = (await a.sut.snapshot())!.unusable.get('iris')!;

    // Act
    const result = await a.sut.commit('iris', { active: 2 }, { epoch, revision });

    // Assert
    expect(result).toEqual({ committed: true, revision: 4 });
    expect((await a.sut.snapshot())!.models.get('iris')).toEqual({ state: { active: 2 }, revision: 4 });
  });

  it('refuses whole-document saves (a shared store is changed per model)', async () => {
    // Arrange
    const { sut } = await replica(`r-${randomUUID()}:`);

    // Act
    const act = sut.save();

    // Assert
    await expect(act).rejects.toThrow(/per model by commit/);
  });

  it('with Redis down: not writable, snapshot and load answer undefined (load warns), commit rejects naming Redis', async () => {
    // Arrange
    const a = await replica(`r-${randomUUID()}:`);
    const { epoch } = (await a.sut.snapshot())!;
    await server.stop();
    await until(() => !a.connection.available, 'the connection noticing');

    // Act
    const snapshot = await a.sut.snapshot();
    const loaded = await a.sut.load();
    const commit = await a.sut.commit('iris', { active: 1 }, { epoch, revision: 0 }).then(() => undefined, (e: unknown) => e);

    // Assert
    expect(a.sut.writable).toBe(false);
    expect(snapshot).toBeUndefined();
    expect(loaded).toBeUndefined();
    expect(a.logger.warn).toHaveBeenCalledWith(expect.stringMatching(/Redis at redis:\/\/127\.0\.0\.1:\d+ cannot be read at start/));
    expect(String(commit)).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable/);
  });

  it('gets a new epoch when Redis lost its data (a restart without persistence)', async () => {
    // Arrange
    const a = await replica(`r-${randomUUID()}:`);
    const before = (await a.sut.snapshot())!.epoch;
    await server.stop();
    await server.start();
    await until(() => a.connection.ready, 'the reconnection');

    // Act
    const after = (await a.sut.snapshot())!.epoch;

    // Assert
    expect(after).not.toBe(before);
  });
});
