import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

/** "true"/"1"/"yes" → true, "false"/"0"/"no" → false; anything else stays a string so validation names it. */
const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};

/** Integers must be written as plain digits: "12abc" or "1e3" is an error, not 12 or 1000. */
const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;

const toNumber = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;

const BYTE_SIZE = /^\d+(\.\d+)?\s*(b|kb|mb|gb)?$/i;

/**
 * Every environment variable the service reads, with the seed's ProductionConfig defaults.
 * Validated once at boot by {@link validateEnvironment}; nothing else reads process.env.
 */
export class EnvironmentVariables {
  @IsOptional() @IsIn(['development', 'production', 'test']) NODE_ENV = 'development';
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) PORT = 8000;
  @IsString() HOST = '0.0.0.0';
  @IsIn(['fastify', 'express']) HTTP_ADAPTER: 'fastify' | 'express' = 'fastify';

  @IsString() MODEL_REPOSITORY = './models';
  @Matches(/^[A-Za-z0-9._-]{1,64}$/) MODEL_ID = 'iris';
  @Matches(/^([1-9]\d{0,8})?$/, { message: 'MODEL_VERSION must be empty or a positive integer' }) MODEL_VERSION = '';
  @Transform(toInt) @IsInt() @Min(1) @Max(4096) MAX_BATCH_SIZE = 32;
  @Transform(toBoolean) @IsBoolean() ENABLE_DYNAMIC_BATCHING = true;
  @Transform(toNumber) @Min(0) @Max(1000) BATCH_MAX_QUEUE_DELAY_MS = 2;
  @Transform(toInt) @IsInt() @Min(1) @Max(64) MAX_CONCURRENT_BATCHES = 1;
  @Transform(toInt) @IsInt() @Min(1) @Max(100000) MAX_BATCH_ITEMS = 100;
  @Transform(toNumber) @Min(0.001) @Max(3600) TIMEOUT_SECONDS = 30;
  @Transform(toInt) @IsInt() @Min(1) MAX_QUEUE = 256;
  @Transform(toInt) @IsInt() @Min(1) MAX_FEATURES = 1000;
  @Transform(toInt) @IsInt() @Min(1) @Max(1000) MAX_DEPTH = 20;
  @Transform(toInt) @IsInt() @Min(1) MAX_STRING_LENGTH = 10000;
  @IsOptional() @IsString() REGISTRY_STATE_FILE = '';

  @Transform(toInt) @IsInt() @Min(16) MAX_MEMORY_MB = 1000;
  /**
   * Most bytes of request bodies in flight (read or being read, until answered), MiB; a request
   * that would pass it gets 503 with Retry-After before its body is read. 0 = no cap. At least
   * the largest body limit (V2_BODY_LIMIT), so any one request can be admitted.
   */
  @Transform(toInt) @IsInt() @Min(0) @Max(1_048_576) MAX_INFLIGHT_MB = 256;
  @Transform(toInt) @IsInt() @Min(0) REQUESTS_PER_MINUTE = 100;
  @Transform(toInt) @IsInt() @Min(0) REQUESTS_PER_HOUR = 1000;

  @Transform(toBoolean) @IsBoolean() ENABLE_CACHING = true;
  @Transform(toInt) @IsInt() @Min(1) CACHE_SIZE = 1000;
  @Transform(toInt) @IsInt() @Min(0) CACHE_TTL_SECONDS = 3600;
  @Transform(toInt) @IsInt() @Min(1) CACHE_MAX_MB = 64;
  /**
   * Requests whose input tensors hold more than this many KiB bypass the prediction cache (no
   * lookup, no entry): hashing an image-sized input and keeping its answer cost more than a
   * repeat is likely to save (measured: ~20 ms of a 4.9 MB request). 0 = every size is cached.
   */
  @Transform(toInt) @IsInt() @Min(0) CACHE_MAX_INPUT_KB = 1024;

  @Transform(toBoolean) @IsBoolean() ENABLE_METRICS = true;
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) METRICS_PORT = 8080;
  /** The KServe V2 gRPC port (inference.GRPCInferenceService and grpc.health.v1); 0 turns gRPC off. */
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) GRPC_PORT = 8001;
  /** Largest gRPC message received or sent, bytes: a 640x640x3 FP32 tensor is 4.9 MB. */
  @Transform(toInt) @IsInt() @Min(1024) @Max(2_147_483_647) GRPC_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

  @IsIn(['api', 'performance']) SERIALIZATION_PRESET: 'api' | 'performance' = 'api';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) LOG_LEVEL = 'info';
  @IsIn(['json', 'pretty']) LOG_FORMAT: 'json' | 'pretty' = 'json';

  @IsString() API_KEYS = '';
  /** With NODE_ENV=production, an empty API_KEYS stops the start unless this says anonymous callers are meant. */
  @Transform(toBoolean) @IsBoolean() ALLOW_ANONYMOUS = false;
  /** Swagger UI and the OpenAPI document (/docs, /docs-json): public, behind the client keys (auth), or off; empty = public in development, auth in production. */
  @IsIn(['', 'public', 'auth', 'off']) DOCS: '' | 'public' | 'auth' | 'off' = '';
  @IsString() ADMIN_API_KEYS = '';
  @IsString() CORS_ORIGINS = '';
  @Matches(BYTE_SIZE, { message: 'BODY_LIMIT must be a size such as 1mb, 512kb or 1048576' }) BODY_LIMIT = '1mb';
  /**
   * Largest body of a /v2 request (JSON or binary tensor data), where BODY_LIMIT holds the rest of
   * the API: a 1024x1024x3 FP32 image is 12.6 MB binary and about 61 MB as JSON at full precision
   * (~19 bytes a value), which 64 MiB takes.
   */
  @Matches(BYTE_SIZE, { message: 'V2_BODY_LIMIT must be a size such as 64mb, 512kb or 1048576' }) V2_BODY_LIMIT = '64mb';
  @Matches(/^(rediss?:\/\/\S+)?$/, { message: 'REDIS_URL must be empty or a redis:// or rediss:// URL' })
  REDIS_URL = '';
  /** Prefix of every Redis key and pub/sub channel: one per deployment sharing a Redis. */
  @Matches(/^[A-Za-z0-9._:{}-]{0,64}$/, { message: 'REDIS_KEY_PREFIX must be at most 64 characters of A-Z a-z 0-9 . _ : { } -' })
  REDIS_KEY_PREFIX = 'nms:';
  /** The longest a Redis connection attempt or command may take, ms: nothing waits on Redis longer. */
  @Transform(toInt) @IsInt() @Min(10) @Max(60000) REDIS_TIMEOUT_MS = 500;
  /** Largest prediction (encoded output tensors) stored in the Redis cache level, KiB; bigger ones stay local. */
  @Transform(toInt) @IsInt() @Min(1) @Max(524288) REDIS_CACHE_MAX_ENTRY_KB = 1024;
  @IsString() TRUST_PROXY = '';
  /** Server processes on this machine sharing the ports (node:cluster): a number, or auto (one per core); more than 1 needs REDIS_URL. */
  @Matches(/^(auto|[1-9]\d?)$/, { message: 'WORKERS must be auto or a number from 1 to 99' }) WORKERS = '1';
  @Transform(toNumber) @Min(0) @Max(600) SHUTDOWN_TIMEOUT_SECONDS = 25;
  @Transform(toNumber) @Min(0) @Max(600) SHUTDOWN_DELAY_SECONDS = 0;

  /** Slow clients (slowloris): the whole header block must arrive within this, else 408 and the connection closes. */
  @Transform(toNumber) @Min(0.1) @Max(600) HEADERS_TIMEOUT_SECONDS = 10;
  /** The whole request (headers and body) must arrive within this, else 408. */
  @Transform(toNumber) @Min(0.1) @Max(3600) REQUEST_TIMEOUT_SECONDS = 60;
  /** An idle keep-alive connection is closed after this (keep it above a load balancer's idle timeout when one pools connections). */
  @Transform(toNumber) @Min(0) @Max(3600) KEEP_ALIVE_TIMEOUT_SECONDS = 5;
  /** Largest request header block, bytes; beyond it 431. */
  @Transform(toInt) @IsInt() @Min(1024) @Max(1_048_576) MAX_HEADER_BYTES = 16_384;
  /** Most concurrent HTTP connections; more are dropped at once (0 = no cap). */
  @Transform(toInt) @IsInt() @Min(0) @Max(1_000_000) MAX_CONNECTIONS = 4096;
}
