import { HealthIndicatorService } from '@nestjs/terminus';

import { describeWithRedis, RedisServerProcess } from '../../../test/support/redis-server';
import { until } from '../../../test/support/until';
import { RedisConnection } from '../../redis/redis-connection';
import { RedisHealthIndicator } from './redis.health';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('RedisHealthIndicator without REDIS_URL', () => {
  it('is not configured (the report has no redis entry)', () => {
    // Act
    const sut = new RedisHealthIndicator(new HealthIndicatorService(), null);

    // Assert
    expect(sut.configured).toBe(false);
  });
});

describeWithRedis('RedisHealthIndicator (a real redis-server)', () => {
  let server: RedisServerProcess;
  let connection: RedisConnection;
  let sut: RedisHealthIndicator;

  beforeAll(async () => {
    server = await RedisServerProcess.start();
    connection = new RedisConnection({ url: server.url, keyPrefix: 'h:', timeoutMs: 300 }, { redisError: () => undefined }, quiet);
    await connection.open(5000);
    sut = new RedisHealthIndicator(new HealthIndicatorService(), connection);
  });

  afterAll(async () => {
    connection.onApplicationShutdown();
    await server?.stop();
  });

  it('is up with the PING latency, down naming Redis while it is stopped, up again once it is back', async () => {
    // Act
    const up = await sut.check();
    await server.stop();
    await until(() => !connection.available, 'the connection noticing');
    const down = await sut.check();
    await server.start();
    await until(() => connection.ready, 'the reconnection');
    const back = await sut.check();

    // Assert
    expect(sut.configured).toBe(true);
    expect(up.redis).toEqual({ status: 'up', connection: 'ready', latency_ms: expect.any(Number) });
    expect(down.redis).toMatchObject({ status: 'down', message: expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable: .*admin changes answer 503/) });
    expect(back.redis.status).toBe('up');
  });
});
