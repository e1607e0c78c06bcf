import { resolve } from 'node:path';

import { buildConfig, ConfigValidationError, retiredVariableWarnings, validateEnvironment } from './app-config';

function captureConfigError(env: Record<string, string | undefined>): ConfigValidationError {
  try {
    buildConfig(env);
  } catch (e) {
    if (e instanceof ConfigValidationError) return e;
    throw e;
  }
  throw new Error('expected buildConfig to throw ConfigValidationError');
}

describe('buildConfig', () => {
  describe('with an empty environment', () => {
    it('applies the seed defaults', () => {
      // Arrange
      const env = {};

      // Act
      const sut = buildConfig(env);

      // Assert
      expect(sut.models.defaultModelId).toBe('iris');
      expect(sut.models.maxBatchSize).toBe(32);
      expect(sut.models.maxBatchItems).toBe(100);
      expect(sut.models.timeoutMs).toBe(30000);
      expect(sut.models.pinnedVersion).toBeUndefined();
      expect(sut.limits.maxMemoryMb).toBe(1000);
      expect(sut.limits.requestsPerMinute).toBe(100);
      expect(sut.limits.requestsPerHour).toBe(1000);
      expect(sut.cache.enabled).toBe(true);
      expect(sut.cache.size).toBe(1000);
      expect(sut.metrics.enabled).toBe(true);
      expect(sut.metrics.port).toBe(8080);
      expect(sut.grpc).toEqual({ port: 8001, maxMessageBytes: 16 * 1024 * 1024 });
      expect(sut.serialization).toEqual({ preset: 'api' });
      expect(sut.app.port).toBe(8000);
      expect(sut.app.bodyLimitBytes).toBe(1024 * 1024);
      expect(sut.app.v2BodyLimitBytes).toBe(64 * 1024 * 1024);
      expect(sut.app.maxInflightBytes).toBe(256 * 1024 * 1024);
    });

    it('resolves the model repository to an absolute path and puts the registry state file in it', () => {
      // Act
      const sut = buildConfig({});

      // Assert
      expect(sut.models.repository).toBe(resolve('./models'));
      expect(sut.models.registryStateFile).toBe(resolve('./models', '.registry-state.json'));
    });

    it('parses values as numbers and booleans, not strings', () => {
      // Act
      const sut = buildConfig({});

      // Assert
      expect(typeof sut.app.port).toBe('number');
      expect(typeof sut.models.maxBatchSize).toBe('number');
      expect(typeof sut.cache.enabled).toBe('boolean');
    });
  });

  describe('with explicit values', () => {
    it('parses integers and converts TIMEOUT_SECONDS to milliseconds', () => {
      // Arrange
      const env = { PORT: '9000', MAX_BATCH_SIZE: '8', MAX_BATCH_ITEMS: '5', TIMEOUT_SECONDS: '2.5', CACHE_SIZE: '7' };

      // Act
      const sut = buildConfig(env);

      // Assert
      expect(sut.app.port).toBe(9000);
      expect(sut.models.maxBatchSize).toBe(8);
      expect(sut.models.maxBatchItems).toBe(5);
      expect(sut.models.timeoutMs).toBe(2500);
      expect(sut.cache.size).toBe(7);
    });

    it.each(['false', '0', 'FALSE', 'no', ' off '])('parses %j as false', (value) => {
      // Act
      const sut = buildConfig({ ENABLE_CACHING: value, ENABLE_METRICS: value });

      // Assert
      expect(sut.cache.enabled).toBe(false);
      expect(sut.metrics.enabled).toBe(false);
    });

    it.each(['true', '1', 'yes', 'on'])('parses %j as true', (value) => {
      // Act
      const sut = buildConfig({ ENABLE_CACHING: value });

      // Assert
      expect(sut.cache.enabled).toBe(true);
    });

    it('splits CORS_ORIGINS on commas and drops blanks', () => {
      // Act
      const sut = buildConfig({ CORS_ORIGINS: ' https://a.example , ,https://b.example' });

      // Assert
      expect(sut.app.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    });

    it('keeps an absolute MODEL_REPOSITORY as given', () => {
      // Act
      const sut = buildConfig({ MODEL_REPOSITORY: '/srv/models' });

      // Assert
      expect(sut.models.repository).toBe('/srv/models');
    });
  });

  describe('MODEL_VERSION', () => {
    it('leaves the version unpinned when empty', () => {
      // Act
      const sut = buildConfig({ MODEL_VERSION: '' });

      // Assert
      expect(sut.models.pinnedVersion).toBeUndefined();
    });

    it('pins the version given as digits', () => {
      // Act
      const sut = buildConfig({ MODEL_VERSION: '3' });

      // Assert
      expect(sut.models.pinnedVersion).toBe(3);
    });

    it.each(['v3', '-1', '1.5'])('rejects %j', (value) => {
      // Act
      const error = captureConfigError({ MODEL_VERSION: value });

      // Assert
      expect(error.problems).toHaveLength(1);
      expect(error.message).toContain('MODEL_VERSION');
    });
  });

  describe('with invalid values', () => {
    it('throws one error naming every bad variable', () => {
      // Arrange
      const env = { PORT: 'abc', MAX_BATCH_SIZE: '0', ENABLE_CACHING: 'maybe', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' };

      // Act
      const error = captureConfigError(env);

      // Assert
      expect(error).toBeInstanceOf(ConfigValidationError);
      expect(error.name).toBe('ConfigValidationError');
      expect(error.problems).toHaveLength(5);
      for (const name of ['PORT', 'MAX_BATCH_SIZE', 'ENABLE_CACHING', 'LOG_LEVEL', 'REDIS_URL']) {
        expect(error.message).toContain(name);
      }
    });

    it('shows the offending value of each bad variable', () => {
      // Act
      const error = captureConfigError({ LOG_LEVEL: 'loud', PORT: 'abc' });

      // Assert
      expect(error.message).toContain('LOG_LEVEL="loud"');
      expect(error.message).toContain('PORT="abc"');
    });

    it.each([
      ['PORT', '12abc'],
      ['MAX_BATCH_SIZE', '12abc'],
      ['MAX_BATCH_ITEMS', '1e3'],
      ['CACHE_SIZE', '1.5'],
      ['PORT', ''],
    ])('rejects %s=%j instead of truncating it', (name, value) => {
      // Act
      const error = captureConfigError({ [name]: value });

      // Assert
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(new RegExp(`^${name}=`));
    });

    it.each([
      ['PORT', '65536'],
      ['MAX_BATCH_SIZE', '4097'],
      ['TIMEOUT_SECONDS', '0'],
      ['MAX_MEMORY_MB', '15'],
      ['SERIALIZATION_PRESET', 'fast'],
      ['NODE_ENV', 'staging'],
      ['MODEL_ID', '../etc'],
      ['BODY_LIMIT', 'huge'],
      ['V2_BODY_LIMIT', '64 megabytes'],
      ['MAX_INFLIGHT_MB', '-1'],
    ])('rejects out-of-range %s=%j', (name, value) => {
      // Act
      const error = captureConfigError({ [name]: value });

      // Assert
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(new RegExp(`^${name}=`));
    });

    it('refuses a MAX_INFLIGHT_MB that could not admit one body of the largest limit, unless 0 (no cap)', () => {
      // Act
      const error = captureConfigError({ MAX_INFLIGHT_MB: '32', V2_BODY_LIMIT: '64mb' });
      const off = buildConfig({ MAX_INFLIGHT_MB: '0', V2_BODY_LIMIT: '64mb' });
      const enough = buildConfig({ MAX_INFLIGHT_MB: '64', V2_BODY_LIMIT: '64mb' });

      // Assert
      expect(error.problems).toEqual(['MAX_INFLIGHT_MB=32: must hold at least one body of the largest limit (BODY_LIMIT 1mb, V2_BODY_LIMIT 64mb), or be 0 (no cap)']);
      expect(off.app.maxInflightBytes).toBe(0);
      expect(enough.app.maxInflightBytes).toBe(64 * 1024 * 1024);
    });

    it('refuses NODE_ENV=production without API_KEYS, naming API_KEYS and the ALLOW_ANONYMOUS opt-out', () => {
      // Act
      const error = captureConfigError({ NODE_ENV: 'production' });

      // Assert
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^API_KEYS="": NODE_ENV=production needs client keys .*ALLOW_ANONYMOUS=true/);
    });

    it('starts in production with API_KEYS, or without them when ALLOW_ANONYMOUS=true; development needs neither', () => {
      // Act / Assert
      expect(buildConfig({ NODE_ENV: 'production', API_KEYS: 'svc:secret' }).app.env).toBe('production');
      expect(buildConfig({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true' }).app.env).toBe('production');
      expect(buildConfig({}).security.apiKeys).toBe('');
    });

    it('accepts redis:// and rediss:// URLs', () => {
      // Act
      const plain = buildConfig({ REDIS_URL: 'redis://cache:6379' });
      const tls = buildConfig({ REDIS_URL: 'rediss://cache:6380/0' });

      // Assert
      expect(plain.redis.url).toBe('redis://cache:6379');
      expect(tls.redis.url).toBe('rediss://cache:6380/0');
    });

    it('reads the Redis key prefix, timeout and cache entry bound, with defaults', () => {
      // Act
      const defaults = buildConfig({});
      const set = buildConfig({ REDIS_KEY_PREFIX: 'prod-eu:', REDIS_TIMEOUT_MS: '150', REDIS_CACHE_MAX_ENTRY_KB: '64' });

      // Assert
      expect(defaults.redis).toEqual({ url: '', keyPrefix: 'nms:', timeoutMs: 500, cacheMaxEntryBytes: 1024 * 1024 });
      expect(set.redis).toEqual({ url: '', keyPrefix: 'prod-eu:', timeoutMs: 150, cacheMaxEntryBytes: 64 * 1024 });
    });

    it('names a bad Redis key prefix or timeout', () => {
      // Act
      const act = () => buildConfig({ REDIS_KEY_PREFIX: 'has space', REDIS_TIMEOUT_MS: '0' });

      // Assert
      expect(act).toThrow(/REDIS_KEY_PREFIX[\s\S]*REDIS_TIMEOUT_MS|REDIS_TIMEOUT_MS[\s\S]*REDIS_KEY_PREFIX/);
    });
  });

  describe('unknown variables', () => {
    it('ignores them, even with values that would be invalid for a known variable', () => {
      // Arrange
      const env = { HOME: '/root', PATH: '/usr/bin', SOME_PORT: 'abc', npm_config_cache: 'x' };

      // Act
      const sut = buildConfig(env);

      // Assert
      expect(sut.app.port).toBe(8000);
    });

    it('does not copy them onto the validated variables', () => {
      // Act
      const sut = validateEnvironment({ NOT_A_SETTING: 'x', PORT: '81' });

      // Assert
      expect(sut).not.toHaveProperty('NOT_A_SETTING');
      expect(sut.PORT).toBe(81);
    });
  });

  describe('WORKERS', () => {
    it('runs one process by default, a number as given, and auto as one per core', () => {
      // Act
      const sut = [buildConfig({}), buildConfig({ WORKERS: '3', REDIS_URL: 'redis://127.0.0.1:6379' }), buildConfig({ WORKERS: 'auto', REDIS_URL: 'redis://127.0.0.1:6379' })];

      // Assert
      expect(sut.map((c) => c.app.workers)).toEqual([1, 3, require('node:os').availableParallelism()]);
    });

    it('refuses more than one worker without REDIS_URL, saying why', () => {
      // Act
      const act = () => buildConfig({ WORKERS: '2' });

      // Assert
      expect(act).toThrow(/WORKERS=2: more than one worker needs REDIS_URL/);
    });

    it.each(['0', 'many', '100'])('refuses WORKERS=%s', (value) => {
      expect(() => buildConfig({ WORKERS: value, REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/WORKERS must be auto or a number from 1 to 99/);
    });
  });

  describe('retired variables of the seed (UUID_FORMAT, PARSE_UUIDS)', () => {
    it('are not read: UUID_FORMAT=object cannot turn request ids into objects', () => {
      // Act
      const sut = validateEnvironment({ UUID_FORMAT: 'object', PARSE_UUIDS: 'true' });

      // Assert
      expect(sut).not.toHaveProperty('UUID_FORMAT');
      expect(sut).not.toHaveProperty('PARSE_UUIDS');
    });

    it('are named in a warning when set, with the reason, and not when unset or empty', () => {
      // Act
      const sut = retiredVariableWarnings({ UUID_FORMAT: 'object', PARSE_UUIDS: '' });

      // Assert
      expect(sut).toEqual([expect.stringMatching(/^UUID_FORMAT is set but not read by this service: request_id and batch_id/)]);
      expect(retiredVariableWarnings({})).toEqual([]);
    });
  });
});

describe('MODEL_VERSION (regression)', () => {
  it('rejects 0, which would make every default-model request 404', () => {
    expect(() => buildConfig({ MODEL_VERSION: '0' })).toThrow(/MODEL_VERSION/);
  });
});
