import { ConfigService } from '@nestjs/config';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';

import { EnvironmentVariables } from './environment.variables';

/** The typed, validated configuration, by namespace. Read it with `AppConfig.getOrThrow('models.x', { infer: true })`. */
export interface AllConfig {
  app: {
    env: 'development' | 'production' | 'test';
    port: number;
    host: string;
    /** The HTTP adapter Nest runs on (HTTP_ADAPTER). */
    httpAdapter: 'fastify' | 'express';
    corsOrigins: string[];
    bodyLimit: string;
    /** BODY_LIMIT in bytes. */
    bodyLimitBytes: number;
    /** V2_BODY_LIMIT in bytes: the body limit of the /v2 routes (JSON and binary), BODY_LIMIT's elsewhere. */
    v2BodyLimitBytes: number;
    /** MAX_INFLIGHT_MB in bytes: most bytes of request bodies in flight (0 = no cap). */
    maxInflightBytes: number;
    trustProxy: string;
    shutdownTimeoutSeconds: number;
    shutdownDelaySeconds: number;
    /** Slow and oversized clients: HEADERS_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS, KEEP_ALIVE_TIMEOUT_SECONDS (ms here), MAX_HEADER_BYTES, MAX_CONNECTIONS (0 = no cap). */
    clientLimits: { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number; maxHeaderBytes: number; maxConnections: number };
    /** WORKERS resolved: processes sharing the ports (auto = the cores available). */
    workers: number;
    /** DOCS resolved: empty means public, or auth under NODE_ENV=production. */
    docs: 'public' | 'auth' | 'off';
    logLevel: string;
    logFormat: 'json' | 'pretty';
  };
  models: {
    repository: string;
    defaultModelId: string;
    /** Pins the default model's version; undefined = its active stage. */
    pinnedVersion: number | undefined;
    dynamicBatching: boolean;
    maxBatchSize: number;
    maxQueueDelayMs: number;
    maxConcurrentBatches: number;
    maxBatchItems: number;
    timeoutMs: number;
    maxQueue: number;
    registryStateFile: string;
  };
  limits: {
    maxFeatures: number;
    maxDepth: number;
    maxStringLength: number;
    maxMemoryMb: number;
    requestsPerMinute: number;
    requestsPerHour: number;
  };
  cache: { enabled: boolean; size: number; ttlSeconds: number; maxBytes: number; maxInputBytes: number };
  metrics: { enabled: boolean; port: number };
  /** The gRPC server: `port` 0 = off. */
  grpc: { port: number; maxMessageBytes: number };
  serialization: { preset: 'api' | 'performance' };
  security: { apiKeys: string; adminApiKeys: string };
  /** Scale-out: empty `url` = the embedded default (nothing connects to Redis). */
  redis: { url: string; keyPrefix: string; timeoutMs: number; cacheMaxEntryBytes: number };
}

/** The injectable typed view of {@link AllConfig}. */
export type AppConfig = ConfigService<AllConfig, true>;

/** Thrown at boot when any variable is invalid; the message names every bad variable. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

const describe = (error: ValidationError): string =>
  `${error.property}=${JSON.stringify(error.value)}: ${Object.values(error.constraints ?? {}).join('; ')}`;

/** Validates raw environment variables (unknown ones are ignored) and returns them typed with defaults applied. */
export function validateEnvironment(env: Record<string, string | undefined>): EnvironmentVariables {
  const known = Object.keys(new EnvironmentVariables());
  const present = Object.fromEntries(known.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
  const parsed = plainToInstance(EnvironmentVariables, present, { exposeDefaultValues: true });
  const errors = validateSync(parsed, { skipMissingProperties: false });
  const problems = errors.map(describe);
  if (errors.length === 0 && parsed.NODE_ENV === 'production' && parsed.API_KEYS.trim() === '' && !parsed.ALLOW_ANONYMOUS) {
    problems.push('API_KEYS="": NODE_ENV=production needs client keys (API_KEYS=name:key,...), or ALLOW_ANONYMOUS=true to serve predictions to any caller');
  }
  if (errors.length === 0 && parsed.HEADERS_TIMEOUT_SECONDS > parsed.REQUEST_TIMEOUT_SECONDS) {
    problems.push(`HEADERS_TIMEOUT_SECONDS=${parsed.HEADERS_TIMEOUT_SECONDS}: must not exceed REQUEST_TIMEOUT_SECONDS (${parsed.REQUEST_TIMEOUT_SECONDS}), which covers the headers too`);
  }
  const largestBody = errors.length === 0 ? Math.max(byteSize(parsed.BODY_LIMIT), byteSize(parsed.V2_BODY_LIMIT)) : 0;
  if (errors.length === 0 && parsed.MAX_INFLIGHT_MB > 0 && parsed.MAX_INFLIGHT_MB * 1024 * 1024 < largestBody) {
    problems.push(`MAX_INFLIGHT_MB=${parsed.MAX_INFLIGHT_MB}: must hold at least one body of the largest limit (BODY_LIMIT ${parsed.BODY_LIMIT}, V2_BODY_LIMIT ${parsed.V2_BODY_LIMIT}), or be 0 (no cap)`);
  }
  if (errors.length === 0 && workerCount(parsed.WORKERS) > 1 && parsed.REDIS_URL === '') {
    problems.push(`WORKERS=${parsed.WORKERS}: more than one worker needs REDIS_URL (without it each worker would count its own rate limits, keep its own cache and apply rollouts alone)`);
  }
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return parsed;
}

/** WORKERS → a process count: `auto` is the cores available (os.availableParallelism). */
export function workerCount(workers: string): number {
  return workers === 'auto' ? availableParallelism() : Number(workers);
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** A validated size such as `1mb`, `512kb` or `1048576` in bytes (1 kb = 1024 bytes, as body-parser counts). */
export function byteSize(size: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(size.trim());
  if (!m) throw new Error(`not a size: ${size}`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]);
}

const list = (csv: string): string[] => csv.split(',').map((s) => s.trim()).filter(Boolean);

/**
 * Variables of the seed's configuration this service does not read, with why; set, they are named
 * in a start-up warning instead of being silently ignored.
 */
export const RETIRED_VARIABLES: Readonly<Record<string, string>> = {
  UUID_FORMAT: 'request_id and batch_id are documented strings and no other response field holds a UUID (SerializationService keeps uuid_format for library callers)',
  PARSE_UUIDS: 'no request body field is a UUID to parse (SerializationService.deserialize keeps parse_uuids for library callers)',
};

/** One warning per retired variable that is set (see {@link RETIRED_VARIABLES}). */
export function retiredVariableWarnings(env: Record<string, string | undefined> = process.env): string[] {
  return Object.entries(RETIRED_VARIABLES).filter(([name]) => env[name] !== undefined && env[name] !== '')
    .map(([name, why]) => `${name} is set but not read by this service: ${why}`);
}

/** Builds the namespaced configuration from the environment. Throws {@link ConfigValidationError}. */
export function buildConfig(env: Record<string, string | undefined> = process.env): AllConfig {
  const e = validateEnvironment(env);
  const repository = isAbsolute(e.MODEL_REPOSITORY) ? e.MODEL_REPOSITORY : resolve(e.MODEL_REPOSITORY);
  return {
    app: {
      env: e.NODE_ENV as AllConfig['app']['env'],
      port: e.PORT,
      host: e.HOST,
      httpAdapter: e.HTTP_ADAPTER,
      corsOrigins: list(e.CORS_ORIGINS),
      bodyLimit: e.BODY_LIMIT,
      bodyLimitBytes: byteSize(e.BODY_LIMIT),
      v2BodyLimitBytes: byteSize(e.V2_BODY_LIMIT),
      maxInflightBytes: e.MAX_INFLIGHT_MB * 1024 * 1024,
      trustProxy: e.TRUST_PROXY,
      shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
      shutdownDelaySeconds: e.SHUTDOWN_DELAY_SECONDS,
      workers: workerCount(e.WORKERS),
      docs: e.DOCS || (e.NODE_ENV === 'production' ? 'auth' : 'public'),
      clientLimits: {
        headersTimeoutMs: Math.round(e.HEADERS_TIMEOUT_SECONDS * 1000),
        requestTimeoutMs: Math.round(e.REQUEST_TIMEOUT_SECONDS * 1000),
        keepAliveTimeoutMs: Math.round(e.KEEP_ALIVE_TIMEOUT_SECONDS * 1000),
        maxHeaderBytes: e.MAX_HEADER_BYTES,
        maxConnections: e.MAX_CONNECTIONS,
      },
      logLevel: e.LOG_LEVEL,
      logFormat: e.LOG_FORMAT,
    },
    models: {
      repository,
      defaultModelId: e.MODEL_ID,
      pinnedVersion: e.MODEL_VERSION === '' ? undefined : Number(e.MODEL_VERSION),
      dynamicBatching: e.ENABLE_DYNAMIC_BATCHING,
      maxBatchSize: e.MAX_BATCH_SIZE,
      maxQueueDelayMs: e.BATCH_MAX_QUEUE_DELAY_MS,
      maxConcurrentBatches: e.MAX_CONCURRENT_BATCHES,
      maxBatchItems: e.MAX_BATCH_ITEMS,
      timeoutMs: Math.round(e.TIMEOUT_SECONDS * 1000),
      maxQueue: e.MAX_QUEUE,
      registryStateFile: e.REGISTRY_STATE_FILE || resolve(repository, '.registry-state.json'),
    },
    limits: {
      maxFeatures: e.MAX_FEATURES,
      maxDepth: e.MAX_DEPTH,
      maxStringLength: e.MAX_STRING_LENGTH,
      maxMemoryMb: e.MAX_MEMORY_MB,
      requestsPerMinute: e.REQUESTS_PER_MINUTE,
      requestsPerHour: e.REQUESTS_PER_HOUR,
    },
    cache: { enabled: e.ENABLE_CACHING, size: e.CACHE_SIZE, ttlSeconds: e.CACHE_TTL_SECONDS, maxBytes: e.CACHE_MAX_MB * 1024 * 1024, maxInputBytes: e.CACHE_MAX_INPUT_KB * 1024 },
    metrics: { enabled: e.ENABLE_METRICS, port: e.METRICS_PORT },
    grpc: { port: e.GRPC_PORT, maxMessageBytes: e.GRPC_MAX_MESSAGE_BYTES },
    serialization: { preset: e.SERIALIZATION_PRESET },
    security: { apiKeys: e.API_KEYS, adminApiKeys: e.ADMIN_API_KEYS },
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, timeoutMs: e.REDIS_TIMEOUT_MS, cacheMaxEntryBytes: e.REDIS_CACHE_MAX_ENTRY_KB * 1024 },
  };
}
