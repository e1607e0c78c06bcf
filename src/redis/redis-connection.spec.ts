import { randomUUID } from 'node:crypto';

import { describeWithRedis, RedisServerProcess } from '../../test/support/redis-server';
import { until } from '../../test/support/until';
import type { RedisOperation } from '../metrics/metrics.service';
import { RedisConnection, redactedUrl } from './redis-connection';

class RecordingLogger {
  readonly lines: { level: 'log' | 'warn' | 'error'; message: string }[] = [];
  log(message: string): void { this.lines.push({ level: 'log', message }); }
  warn(message: string): void { this.lines.push({ level: 'warn', message }); }
  error(message: string): void { this.lines.push({ level: 'error', message }); }
  of(level: 'log' | 'warn' | 'error'): string[] { return this.lines.filter((l) => l.level === level).map((l) => l.message); }
}

class ErrorTally {
  readonly counts = new Map<RedisOperation, number>();
  redisError(operation: RedisOperation): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }
}


describe('redactedUrl', () => {
  it('hides the password and keeps the rest', () => {
    // Act
    const sut = redactedUrl('redis://app:s3cret@cache:6379/2');

    // Assert
    expect(sut).toBe('redis://app:***@cache:6379/2');
    expect(redactedUrl('redis://cache:6379')).toBe('redis://cache:6379');
  });
});

describeWithRedis('RedisConnection (a real redis-server)', () => {
  let server: RedisServerProcess;
  let sut: RedisConnection | undefined;

  beforeAll(async () => {
    server = await RedisServerProcess.start();
  });

  afterEach(async () => {
    sut?.onApplicationShutdown();
    sut = undefined;
    // A test may have stopped or paused it.
    server.resume();
    await server.start();
  });

  afterAll(async () => {
    await server?.stop();
  });

  const connect = async (logger = new RecordingLogger(), errors = new ErrorTally(), timeoutMs = 300) => {
    sut = new RedisConnection({ url: server.url, keyPrefix: `c-${randomUUID()}:`, timeoutMs }, errors, logger);
    expect(await sut.open(5000)).toBe(true);
    return { connection: sut, logger, errors };
  };

  it('prefixes keys and channels with REDIS_KEY_PREFIX', () => {
    // Act
    const connection = new RedisConnection({ url: server.url, keyPrefix: 'prod:', timeoutMs: 300 }, new ErrorTally(), new RecordingLogger());

    // Assert
    expect(connection.key('cache', 'gen', 'iris')).toBe('prod:cache:gen:iris');
    connection.onApplicationShutdown();
  });

  it('warns once per outage however many calls fail, logs the return once, and tells the ready listeners', async () => {
    // Arrange
    const { connection, logger, errors } = await connect();
    let readies = 0;
    connection.onReady(() => { readies += 1; });
    await server.stop();

    // Act
    for (let i = 0; i < 20; i += 1) connection.failed('throttle', new Error("Stream isn't writeable and enableOfflineQueue options is false"));
    await until(() => !connection.available);
    await new Promise((r) => setTimeout(r, 1200));
    await server.start();
    await until(() => connection.ready);

    // Assert
    expect(logger.of('warn')).toHaveLength(1);
    expect(logger.of('warn')[0]).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable .*admin changes answer 503/);
    expect(logger.of('log')).toEqual([expect.stringMatching(/is reachable again; resynchronising/)]);
    expect(readies).toBe(1);
    expect(errors.counts.get('throttle')).toBe(20);
    expect(errors.counts.get('connect')).toBeGreaterThan(0);
  });

  it('never makes a caller wait past REDIS_TIMEOUT_MS on a hung Redis, then treats it as unavailable until it answers', async () => {
    // Arrange
    const { connection, logger } = await connect(new RecordingLogger(), new ErrorTally(), 200);
    server.pause();

    // Act
    const started = Date.now();
    const error = await connection.client.get('x').then(() => undefined, (e: unknown) => e);
    const waitedMs = Date.now() - started;
    connection.failed('cache_get', error);
    const availableWhileHung = connection.available;
    server.resume();
    await until(() => connection.available);

    // Assert
    expect(String(error)).toMatch(/timed out/);
    expect(waitedMs).toBeLessThan(1000);
    expect(availableWhileHung).toBe(false);
    expect(logger.of('warn')).toHaveLength(1);
  });

  it('whenConnected: true at once on an open connection even while calls are suspended after a timeout; waits for a reconnection; false after its wait', async () => {
    // Arrange
    const { connection } = await connect();
    connection.failed('state_commit', new Error('Command timed out'));
    const suspended = connection.available;
    const whileSuspended = await connection.whenConnected(0);
    await server.stop();
    await until(() => connection.status !== 'ready', 'the connection noticing');

    // Act
    const whileDown = await connection.whenConnected(50);
    const back = connection.whenConnected(10_000);
    await server.start();

    // Assert
    expect([suspended, whileSuspended, whileDown]).toEqual([false, true, false]);
    expect(await back).toBe(true);
    expect(connection.status).toBe('ready');
  });

  it('delivers the messages of subscribed channels, again after Redis restarts', async () => {
    // Arrange
    const { connection } = await connect();
    const received: string[] = [];
    connection.subscribe('events', (m) => received.push(m));
    await until(() => connection.ready);
    await connection.client.publish(connection.key('events'), 'one');
    await until(() => received.length === 1);
    await server.stop();
    await server.start();
    await until(() => connection.ready);

    // Act
    await connection.client.publish(connection.key('events'), 'two');
    await until(() => received.length === 2);

    // Assert
    expect(received).toEqual(['one', 'two']);
  });

  it('starts without Redis: open resolves false after its wait, never rejects', async () => {
    // Arrange
    await server.stop();
    const connection = new RedisConnection({ url: server.url, keyPrefix: 'x:', timeoutMs: 200 }, new ErrorTally(), new RecordingLogger());
    sut = connection;

    // Act
    const opened = await connection.open(300);

    // Assert
    expect(opened).toBe(false);
    expect(connection.available).toBe(false);
  });
});
