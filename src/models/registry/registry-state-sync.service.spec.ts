import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { captureAppError } from '../../../test/support/capture-app-error';
import { describeWithRedis, RedisServerProcess } from '../../../test/support/redis-server';
import { until } from '../../../test/support/until';
import { configOf, MODELS_DIR, wireModels } from '../../../test/support/wire-models';
import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import type { RedisOperation } from '../../metrics/metrics.service';
import { RedisConnection } from '../../redis/redis-connection';
import { DefaultRuntimeFactory } from '../runtimes/default-runtime.factory';
import { RedisRegistryStateStore } from './state/redis-registry-state.store';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Replicas in one process: each its own registry (the real bundled ONNX models), rollout service
 * and connection, sharing one real redis-server under one key prefix.
 */
describeWithRedis('RegistryStateSync with replicas sharing Redis', () => {
  jest.setTimeout(60_000);
  let server: RedisServerProcess;
  let prefix: string;
  const running: { connection: RedisConnection; shutdown: () => Promise<void> }[] = [];

  interface ReplicaOptions {
    clientName?: string;
    repository?: string;
    storeLogger?: typeof quiet;
    /** Told of every failed Redis call, by operation. */
    onRedisError?: (operation: RedisOperation) => void;
    /** Called with the connection before the store defines its scripts on it (fault injection). */
    prepare?: (connection: RedisConnection) => void;
    /** Another redis-server than the suite's. */
    redis?: RedisServerProcess;
  }

  async function replica({ clientName = `replica-${randomUUID()}`, repository, storeLogger = quiet, onRedisError = () => undefined, prepare, redis = server }: ReplicaOptions = {}) {
    const config = configOf({ ENABLE_CACHING: 'false', REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, ...(repository ? { MODEL_REPOSITORY: repository } : {}) });
    const connection = new RedisConnection({ url: redis.url, keyPrefix: prefix, timeoutMs: 500, clientName }, { redisError: onRedisError }, quiet);
    prepare?.(connection);
    const store = new RedisRegistryStateStore(connection, storeLogger);
    await connection.open(5000);
    const wired = wireModels(config, new DefaultRuntimeFactory(), undefined, store);
    running.push({ connection, shutdown: () => wired.registry.onApplicationShutdown() });
    await wired.registry.onModuleInit();
    wired.sync.onApplicationBootstrap();
    await wired.registry.whenLoaded();
    await wired.sync.ensureWritable();
    return { ...wired, store, connection };
  }

  const stateOf = (r: Awaited<ReturnType<typeof replica>>) => r.registry.get('iris').routingState();

  beforeAll(async () => {
    Logger.overrideLogger(false);
    server = await RedisServerProcess.start();
  });

  beforeEach(() => {
    prefix = `s-${randomUUID()}:`;
  });

  afterEach(async () => {
    server.resume();
    for (const r of running.splice(0)) {
      r.connection.onApplicationShutdown();
      await r.shutdown();
    }
    await server.start();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('a promotion through one replica is applied by the other within 1 s, and a replica starting later loads it', async () => {
    // Arrange
    const [a, b] = [await replica(), await replica()];

    // Act
    await a.rollout.promote('iris', 1);
    await until(() => b.registry.route('iris').version.version === 1, 'replica B serving version 1', 1000);
    const c = await replica();

    // Assert
    expect(stateOf(b)).toEqual({ active: 1, staging: 2, previous_active: 2, canary: undefined, shadow: undefined });
    expect(stateOf(c)).toEqual(stateOf(a));
    expect(c.registry.route('iris').version.version).toBe(1);
  });

  it('a replica that lacks a version named by the shared state refuses changes instead of writing its partial state over everyone\'s, and applies the state whole once the version is loaded', async () => {
    // Arrange: replica A's repository has an iris version 3 that B's registry does not know
    const [repo, repoB] = [await mkdtemp(join(tmpdir(), 'sync-partial-a-')), await mkdtemp(join(tmpdir(), 'sync-partial-b-'))];
    for (const dir of [repo, repoB]) await cp(join(MODELS_DIR, 'iris'), join(dir, 'iris'), { recursive: true });
    await cp(join(MODELS_DIR, 'iris', '1'), join(repo, 'iris', '3'), { recursive: true });
    const a = await replica({ repository: repo });
    const b = await replica({ repository: repoB });
    try {
      // (A starts on its highest version, 3; promoting 1 makes 3 the staging and previous version everywhere.)
      await a.rollout.promote('iris', 1);
      await until(() => b.registry.get('iris').active === 1, 'replica B applying what it can of the promotion', 1000);

      // Act
      const refused = await b.rollout.setCanary('iris', { version: 2, percentage: 10, sticky: false }).then(() => undefined, (e: AppError) => e);
      await cp(join(MODELS_DIR, 'iris', '1'), join(repoB, 'iris', '3'), { recursive: true });
      await b.rollout.load('iris', 3);

      // Assert
      expect(refused?.code).toBe(ErrorCode.CONFLICT);
      expect(refused?.message).toMatch(/only part of the deployment's routing state of 'iris'.*version 3/);
      expect(stateOf(a)).toMatchObject({ active: 1, staging: 3, previous_active: 3, canary: undefined });
      expect(stateOf(b)).toMatchObject({ active: 1, staging: 3, previous_active: 3, canary: undefined });
    } finally {
      for (const dir of [repo, repoB]) await rm(dir, { recursive: true, force: true });
    }
  });

  it('a canary set through one replica is honoured by the other; a shadow and its end too', async () => {
    // Arrange
    const [a, b] = [await replica(), await replica()];

    // Act
    await b.rollout.setCanary('iris', { version: 1, percentage: 100, sticky: false });
    await until(() => a.registry.get('iris').canary?.version === 1, 'replica A knowing the canary', 1000);
    const routed = a.registry.route('iris');
    await a.rollout.setShadow('iris', { version: 1, percentage: 50 });
    await until(() => b.registry.get('iris').shadow?.percentage === 50, 'replica B knowing the shadow', 1000);
    await b.rollout.clearShadow('iris');
    await until(() => a.registry.get('iris').shadow === undefined, 'replica A ending the shadow', 1000);

    // Assert
    expect([routed.variant, routed.version.version]).toEqual(['canary', 1]);
  });

  it('concurrent changes through two replicas never interleave: each is planned on the state the other committed', async () => {
    // Arrange
    const [a, b] = [await replica(), await replica()];
    const outcomes = new Set<string>();
    const refusedCommits: unknown[] = [];
    for (const store of [a.store, b.store]) {
      const commit = store.commit.bind(store);
      jest.spyOn(store, 'commit').mockImplementation(async (...args) => {
        const result = await commit(...args);
        if (!result.committed) refusedCommits.push(args);
        return result;
      });
    }

    for (let round = 0; round < 8; round += 1) {
      // Act: a canary on version 1 through A while B promotes version 1 (a canary must not be the active version)
      const [canary, promotion] = await Promise.allSettled([
        a.rollout.setCanary('iris', { version: 1, percentage: 10, sticky: false }),
        b.rollout.promote('iris', 1),
      ]);
      await until(() => JSON.stringify(stateOf(a)) === JSON.stringify(stateOf(b)), 'both replicas agreeing', 2000);

      // Assert
      const state = stateOf(a);
      expect(promotion.status).toBe('fulfilled');
      expect(state.active).toBe(1);
      expect(state.canary).toBeUndefined();
      outcomes.add(canary.status === 'fulfilled' ? 'canary first, then ended by the promotion' : 'promotion first, canary refused (409)');
      if (canary.status === 'rejected') expect((canary.reason as { code: string }).code).toBe(ErrorCode.CONFLICT);
      await a.rollout.promote('iris', 2);
      await until(() => b.registry.get('iris').active === 2, 'replica B back on 2', 2000);
    }
    // The two commits of a round raced: compare-and-set refused the later one, which was planned again.
    expect(refusedCommits.length).toBeGreaterThan(0);
    expect(outcomes.size).toBeGreaterThan(0);
  });

  it('an auto-aborted canary on one replica ends on every replica', async () => {
    // Arrange
    const [a, b] = [await replica(), await replica()];
    await a.rollout.setCanary('iris', { version: 1, percentage: 20, sticky: true });
    await until(() => b.registry.get('iris').canary !== undefined, 'replica B knowing the canary', 1000);

    // Act
    await a.rollout.abortCanary(a.registry.get('iris'), 1, 'error rate 0.5 over 50 requests exceeds 0.1');
    await until(() => b.registry.get('iris').canary === undefined, 'replica B ending the canary', 1000);

    // Assert
    expect(stateOf(a).canary).toBeUndefined();
  });

  it('with Redis down keeps serving its last state and refuses changes with 503 naming Redis; once back, changes work and Redis gets the state again', async () => {
    // Arrange
    const [a, b] = [await replica(), await replica()];
    await a.rollout.promote('iris', 1);
    await until(() => b.registry.get('iris').active === 1, 'replica B on version 1', 1000);
    await server.stop();
    await until(() => !a.sync.writable && !b.sync.writable, 'both replicas noticing');

    // Act
    const refused = await captureAppError(a.rollout.rollback('iris'));
    const servedDuring = a.registry.route('iris').version.version;
    await server.start();
    await until(() => a.sync.writable && b.sync.writable, 'both replicas resynchronised');
    const restored = await a.store.snapshot();
    await b.rollout.rollback('iris');
    await until(() => a.registry.get('iris').active === 2, 'replica A rolled back', 1000);

    // Assert
    expect(refused.code).toBe(ErrorCode.DEPENDENCY_UNAVAILABLE);
    expect(refused.message).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable: rollout changes are refused until it is back/);
    expect(servedDuring).toBe(1);
    expect(restored!.models.get('iris')?.state).toMatchObject({ active: 1, staging: 2, previous_active: 2 });
  });

  it('an invalid, hand-edited document in Redis is reported once, and the next change replaces it instead of being refused (409) for ever', async () => {
    // Arrange: a promotion through A (revision 1), then the document is broken by hand; B starts after that
    const a = await replica();
    await a.rollout.promote('iris', 1);
    await a.connection.client.hset(`${prefix}registry:models`, 'iris', '{"active":"one"}');
    const logger = { ...quiet, warn: jest.fn() };
    const b = await replica({ storeLogger: logger });

    // Act: B serves its model.json defaults for iris (active 2) and promotes 1 from there
    const stages = await b.rollout.promote('iris', 1);
    await until(() => a.registry.get('iris').staging === 2 && a.registry.get('iris').previousActive === 2, 'replica A applying the change', 1000);

    // Assert
    expect(stages).toMatchObject({ active_version: '1', staging_version: '2' });
    expect((await b.store.snapshot())!.models.get('iris')).toEqual({ state: { active: 1, staging: 2, previous_active: 2 }, revision: 2 });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/registry state of 'iris' in Redis at .* is invalid: models\.iris\.active must be a positive integer .*the next change of 'iris' replaces it/));
  });

  it('a change refused by compare-and-set after which Redis cannot be read answers 503 naming Redis, not 409', async () => {
    // Arrange: before each of A's commits another replica's change lands (written into Redis directly); Redis stops after the third
    const a = await replica();
    await a.connection.client.hset(`${prefix}registry:models`, 'iris', JSON.stringify({ active: 2 }));
    const commit = a.store.commit.bind(a.store);
    let commits = 0;
    jest.spyOn(a.store, 'commit').mockImplementation(async (...args) => {
      commits += 1;
      await a.connection.client.hincrby(`${prefix}registry:revisions`, 'iris', 1);
      const result = await commit(...args);
      if (commits === 3) await server.stop();
      return result;
    });

    // Act
    const refused = await captureAppError(a.rollout.setCanary('iris', { version: 1, percentage: 10, sticky: false }));

    // Assert
    expect(commits).toBe(3);
    expect(refused.code).toBe(ErrorCode.DEPENDENCY_UNAVAILABLE);
    expect(refused.message).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable/);
    expect(a.registry.get('iris').canary).toBeUndefined();
  });

  it('a commit whose reply comes after REDIS_TIMEOUT_MS (Redis frozen meanwhile) but which was made is answered as made, and applied everywhere', async () => {
    // Arrange: Redis answers again as soon as the commit has timed out
    const failed: RedisOperation[] = [];
    const a = await replica({
      onRedisError: (operation) => {
        failed.push(operation);
        if (operation === 'state_commit') server.resume();
      },
    });
    const b = await replica();
    server.pause();

    // Act
    const stats = await a.rollout.setCanary('iris', { version: 1, percentage: 10, sticky: false });
    await until(() => b.registry.get('iris').canary?.version === 1, 'replica B knowing the canary', 2000);

    // Assert
    expect(failed).toContain('state_commit');
    expect(stats.canary).toEqual({ version: 1, percentage: 10, sticky: false });
    expect(a.registry.get('iris').canary).toEqual({ version: 1, percentage: 10, sticky: false });
    expect(await a.connection.client.hget(`${prefix}registry:revisions`, 'iris')).toBe('1');
  });

  it('a commit whose reply is lost before it reached Redis is answered 503 naming Redis, and nothing changes', async () => {
    // Arrange (fault injection): the commit call times out without the script being sent
    const a = await replica({
      prepare: (connection) => {
        const define = connection.script.bind(connection);
        jest.spyOn(connection, 'script').mockImplementation((name, keys, lua) => {
          const real = define(name, keys, lua);
          return name === 'nmsRegistryCommit' ? { ...real, run: () => Promise.reject(new Error('Command timed out')) } : real;
        });
      },
    });

    // Act
    const refused = await captureAppError(a.rollout.setCanary('iris', { version: 1, percentage: 10, sticky: false }));

    // Assert
    expect(refused.code).toBe(ErrorCode.DEPENDENCY_UNAVAILABLE);
    expect(refused.message).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable: rollout changes are refused/);
    expect(a.registry.get('iris').canary).toBeUndefined();
    expect(await a.connection.client.hget(`${prefix}registry:models`, 'iris')).toBeNull();
  });

  it('a commit whose outcome cannot be read back (Redis frozen past both timeouts) answers 503 saying so; once Redis answers the replica holds what Redis holds', async () => {
    // Arrange
    const [a, b] = [await replica(), await replica()];
    server.pause();

    // Act
    const unknown = await captureAppError(a.rollout.setCanary('iris', { version: 1, percentage: 10, sticky: false }));
    server.resume();
    await until(() => a.registry.get('iris').canary?.version === 1 && b.registry.get('iris').canary?.version === 1, 'both replicas applying the late commit', 5000);
    await until(() => a.sync.writable, 'replica A resynchronised', 5000);
    await a.rollout.clearCanary('iris');

    // Assert
    expect(unknown.code).toBe(ErrorCode.DEPENDENCY_UNAVAILABLE);
    expect(unknown.message).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer in time: whether the change of 'iris' was made is unknown/);
    expect(await a.connection.client.hget(`${prefix}registry:revisions`, 'iris')).toBe('2');
    await until(() => b.registry.get('iris').canary === undefined, 'replica B ending the canary', 1000);
  });

  describe('with a Redis that keeps its data across a restart (append-only file)', () => {
    let durable: RedisServerProcess;
    let dataDir: string;

    beforeEach(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'sync-durable-redis-'));
      durable = await RedisServerProcess.start({ dataDir });
    });

    afterEach(async () => {
      for (const r of running.splice(0)) {
        r.connection.onApplicationShutdown();
        await r.shutdown();
      }
      await durable.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('a canary auto-aborted while Redis is down is not revived when Redis comes back with it: the abort is committed and ends it on every replica', async () => {
      // Arrange
      const [a, b] = [await replica({ redis: durable }), await replica({ redis: durable })];
      await a.rollout.setCanary('iris', { version: 1, percentage: 20, sticky: false });
      await until(() => b.registry.get('iris').canary?.version === 1, 'replica B knowing the canary', 1000);
      await durable.stop();
      await until(() => !a.sync.writable && !b.sync.writable, 'both replicas noticing');

      // Act: the canary's error rate crosses its threshold on A during the outage; Redis comes back with the canary on
      await a.rollout.abortCanary(a.registry.get('iris'), 1, 'error rate 0.5 over 50 requests exceeds 0.1');
      const endedDuring = a.registry.get('iris').canary;
      await durable.start();
      await until(() => a.sync.writable && b.sync.writable, 'both replicas resynchronised');
      await until(() => b.registry.get('iris').canary === undefined, 'replica B ending the canary', 5000);

      // Assert
      expect(endedDuring).toBeUndefined();
      expect(a.registry.get('iris').canary).toBeUndefined();
      expect((await a.store.snapshot())!.models.get('iris')).toEqual({ state: { active: 2 }, revision: 2 });
    });

    it('a canary auto-aborted while Redis is down is dropped, not committed, when the shared canary changed meanwhile: the shared state wins', async () => {
      // Arrange: a canary through A; then, unannounced to A (written into Redis directly), version 1 promoted and the canary ended
      const a = await replica({ redis: durable });
      await a.rollout.setCanary('iris', { version: 1, percentage: 20, sticky: false });
      const promotedMeanwhile = { active: 1, staging: 2, previous_active: 2 };
      await a.connection.client.hset(`${prefix}registry:models`, 'iris', JSON.stringify(promotedMeanwhile));
      await a.connection.client.hset(`${prefix}registry:revisions`, 'iris', 2);
      await durable.stop();
      await until(() => !a.sync.writable, 'replica A noticing');
      const warn = jest.spyOn(Logger.prototype, 'warn');

      // Act
      await a.rollout.abortCanary(a.registry.get('iris'), 1, 'error rate 0.5 over 50 requests exceeds 0.1');
      await durable.start();
      await until(() => a.sync.writable, 'replica A resynchronised');

      // Assert
      expect(stateOf(a)).toMatchObject({ ...promotedMeanwhile, canary: undefined });
      expect((await a.store.snapshot())!.models.get('iris')).toEqual({ state: promotedMeanwhile, revision: 2 });
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^the abort of canary version 1 of 'iris', made on this replica only .*no longer applies to the shared state .*: dropped, the shared state applies$/));
    });
  });

  it('a change committed while a replica was disconnected from Redis is applied once it reconnects', async () => {
    // Arrange
    const [a, b] = [await replica(), await replica({ clientName: 'replica-b' })];
    const clients = String(await a.connection.client.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const id = /id=(\d+) [^\n]* name=replica-b-sub /.exec(clients)![1];
    await a.connection.client.call('CLIENT', 'KILL', 'ID', id);

    // Act: B's subscription is gone until it reconnects; the change is made meanwhile
    await a.rollout.promote('iris', 1);
    const missedByB = b.registry.get('iris').active === 2;
    await until(() => b.registry.get('iris').active === 1, 'replica B catching up after reconnecting', 5000);

    // Assert
    expect(missedByB).toBe(true);
    expect(stateOf(b)).toEqual(stateOf(a));
  });
});
