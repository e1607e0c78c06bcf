import { Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis, { RedisOptions } from 'ioredis';

import type { RedisOperation } from '../metrics/metrics.service';

export interface RedisConnectionOptions {
  /** REDIS_URL (redis:// or rediss://). */
  url: string;
  /** REDIS_KEY_PREFIX: prepended to every key and channel. */
  keyPrefix: string;
  /** REDIS_TIMEOUT_MS: the longest a connection attempt or a command may take, ms. */
  timeoutMs: number;
  /** CLIENT SETNAME of the command connection (the pub/sub one gets `-sub` appended); default `nms`. */
  clientName?: string;
}

/** Where failed calls are counted (MetricsService fits). */
export interface RedisErrorCounter {
  redisError(operation: RedisOperation): void;
}

/** The part of a logger the connection uses (Nest's Logger fits). */
export interface RedisLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A Lua script defined once on the connection (EVALSHA, EVAL on NOSCRIPT), called with its keys then its arguments. */
export interface RedisScript {
  /** Replies with strings. */
  run(...keysThenArgs: (string | number | Buffer)[]): Promise<unknown>;
  /** Replies with Buffers (binary values). */
  runBuffer(...keysThenArgs: (string | number | Buffer)[]): Promise<unknown>;
}

/** After a command timed out (a Redis that accepts connections but does not answer), calls are not tried for this long. */
const SUSPEND_AFTER_TIMEOUT_MS = 1000;
/** Reconnect attempts back off to at most this (ms), so a Redis that comes back is used again within about a second. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** The URL without its password, for log lines. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'redis://(unparsable URL)';
  }
}

/**
 * Errors that mean Redis cannot be reached now (a timeout, a connection closed or refused), as
 * opposed to a reply error (Redis answered and refused the command: a bug of ours).
 */
export const isConnectionProblem = (e: unknown): boolean => !(e instanceof Error && e.name === 'ReplyError');
const isTimeout = (e: unknown): boolean => e instanceof Error && /timed out/i.test(e.message);
const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The service's Redis (REDIS_URL): one ioredis client for commands and one for pub/sub. Built so
 * that a Redis that is down or hung never makes a request wait long: no offline queue (a command
 * while disconnected fails at once), one retry per command, REDIS_TIMEOUT_MS for connecting and
 * for every command, and after a timeout the connection counts as unavailable for a second (the
 * callers' local fallbacks answer without trying). ioredis reconnects by itself, backing off to 1 s.
 *
 * Outages: the first failure or disconnection logs ONE warning; the return logs one line and
 * calls the {@link onReady} listeners (the registry resynchronises its state). Every failed call
 * is counted by operation (`ml_redis_errors_total`). Channels subscribed with {@link subscribe}
 * are subscribed again on every reconnection before the listeners run, so nothing published
 * after a resync is missed.
 */
export class RedisConnection implements OnApplicationShutdown {
  readonly client: Redis;
  /** REDIS_TIMEOUT_MS: the longest a connection attempt or a command may take, ms. */
  readonly timeoutMs: number;
  private readonly subscriber: Redis;
  private readonly prefix: string;
  private readonly where: string;
  private readonly channels = new Map<string, ((message: string) => void)[]>();
  private readonly readyListeners = new Set<() => void>();
  private readonly replyErrorsLogged = new Set<RedisOperation>();
  private subscribed = false;
  private inOutage = false;
  private suspendedUntil = 0;
  private probe: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    options: RedisConnectionOptions,
    private readonly errors: RedisErrorCounter,
    private readonly logger: RedisLogger = new Logger('Redis'),
    private readonly now: () => number = Date.now,
  ) {
    this.prefix = options.keyPrefix;
    this.timeoutMs = options.timeoutMs;
    this.where = redactedUrl(options.url);
    const shared: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: options.timeoutMs,
      commandTimeout: options.timeoutMs,
      // How long closing waits for the socket before destroying it (ioredis's default is 2 s).
      disconnectTimeout: options.timeoutMs,
      autoResubscribe: false,
      retryStrategy: (times: number) => Math.min(100 * times, MAX_RECONNECT_DELAY_MS),
    };
    const name = options.clientName ?? 'nms';
    this.client = new Redis(options.url, { ...shared, connectionName: name });
    // Off the request path, a (re)subscription may take as long as Redis needs: a client-side
    // timeout there (an event loop busy loading models) would only make the subscription flap.
    this.subscriber = new Redis(options.url, { ...shared, commandTimeout: undefined, connectionName: `${name}-sub` });
    for (const redis of [this.client, this.subscriber]) {
      redis.on('error', (e: unknown) => {
        this.errors.redisError('connect');
        this.outage(reasonOf(e));
      });
      redis.on('close', () => this.outage('connection closed'));
    }
    this.client.on('ready', () => this.maybeReady());
    this.subscriber.on('close', () => { this.subscribed = false; });
    this.subscriber.on('ready', () => void this.resubscribe());
    this.subscriber.on('message', (channel: string, message: string) => {
      for (const handler of this.channels.get(channel) ?? []) handler(message);
    });
  }

  /**
   * Starts connecting and waits until both connections are ready or `waitMs` has passed (a Redis
   * down at start is an outage like any other: the service starts on its fallbacks). Never rejects.
   */
  async open(waitMs: number): Promise<boolean> {
    this.client.connect().catch(() => undefined);
    this.subscriber.connect().catch(() => undefined);
    return this.whenReady(waitMs);
  }

  /** True when both connections are ready (and the channels subscribed) within `waitMs`. */
  whenReady(waitMs: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((ok) => {
      const done = (result: boolean) => {
        clearTimeout(timer);
        this.readyListeners.delete(listener);
        ok(result);
      };
      const listener = () => done(true);
      const timer = setTimeout(() => done(false), waitMs);
      this.readyListeners.add(listener);
    });
  }

  /**
   * True as soon as the command connection is up (now, or within `waitMs`; false after that or
   * once closed), whatever the suspension after a timeout says: for a caller that must ask Redis
   * something once it answers again (what became of a command whose reply was lost). A command
   * sent then is queued behind every earlier one of this connection (including those ioredis
   * sends again after a reconnection), so Redis answers it after having run them.
   */
  whenConnected(waitMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.client.status === 'ready') return Promise.resolve(true);
    return new Promise((ok) => {
      const done = (result: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        ok(result);
      };
      // ('ready' is emitted on the tick after ioredis re-sent the commands left unanswered.)
      const onReady = () => done(!this.closed);
      const timer = setTimeout(() => done(false), waitMs);
      this.client.on('ready', onReady);
    });
  }

  /** Commands can be sent now: connected, and no timeout in the last second. Callers fall back without trying otherwise. */
  get available(): boolean {
    return !this.closed && this.client.status === 'ready' && this.now() >= this.suspendedUntil;
  }

  /** Both connections are up and every channel is subscribed: changes published elsewhere reach this replica. */
  get ready(): boolean {
    return this.available && this.subscribed && this.subscriber.status === 'ready';
  }

  /** The ioredis status of the command connection (for /health). */
  get status(): string {
    return this.client.status;
  }

  /** Where Redis is (the URL without its password), for messages. */
  get location(): string {
    return this.where;
  }

  /** A key or channel name under REDIS_KEY_PREFIX: `key('cache', 'gen')` → `nms:cache:gen`. */
  key(...parts: string[]): string {
    return `${this.prefix}${parts.join(':')}`;
  }

  /** Defines a Lua script once; see {@link RedisScript}. */
  script(name: string, numberOfKeys: number, lua: string): RedisScript {
    this.client.defineCommand(name, { numberOfKeys, lua });
    const commands = this.client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    return {
      run: (...args) => commands[name].call(this.client, ...args),
      runBuffer: (...args) => commands[`${name}Buffer`].call(this.client, ...args),
    };
  }

  /** Delivers the messages of `channel` (under the prefix) to `handler` (beside any other), now and after every reconnection. */
  subscribe(channel: string, handler: (message: string) => void): void {
    const name = this.key(channel);
    this.channels.set(name, [...(this.channels.get(name) ?? []), handler]);
    if (this.subscriber.status === 'ready') void this.resubscribe();
  }

  /**
   * Calls `listener` each time both connections become ready: at the first connection and
   * after every outage (once the channels are subscribed again). Returns the unsubscribe function.
   */
  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  /**
   * Records a failed call: counted by `operation`; a connection problem starts an outage (one
   * warning), a timeout also suspends calls for a second; a reply error (a bug) is logged once per
   * operation.
   */
  failed(operation: RedisOperation, error: unknown): void {
    this.errors.redisError(operation);
    if (!isConnectionProblem(error)) {
      if (!this.replyErrorsLogged.has(operation)) this.logger.error(`Redis ${operation} failed: ${reasonOf(error)}`);
      this.replyErrorsLogged.add(operation);
      return;
    }
    if (isTimeout(error)) {
      this.suspendedUntil = this.now() + SUSPEND_AFTER_TIMEOUT_MS;
      this.startProbe();
    }
    this.outage(`${operation}: ${reasonOf(error)}`);
  }

  /** One PING, in ms; rejects (counted as `ping`) when Redis does not answer within REDIS_TIMEOUT_MS. */
  async ping(): Promise<number> {
    const start = performance.now();
    try {
      await this.client.ping();
      return Math.round((performance.now() - start) * 100) / 100;
    } catch (e) {
      this.failed('ping', e);
      throw e;
    }
  }

  /** Closes both connections at once (nothing is left to flush: every write is best effort or already answered). */
  onApplicationShutdown(): void {
    this.closed = true;
    clearInterval(this.probe);
    this.readyListeners.clear();
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  private outage(reason: string): void {
    if (this.closed || this.inOutage) return;
    this.inOutage = true;
    this.logger.warn(
      `Redis at ${this.where} is unavailable (${reason}): rate limits count per replica, the prediction cache is local, ` +
      'the registry keeps its last known state and admin changes answer 503 until it is back',
    );
  }

  /** Subscribes every channel; a failure (a timeout under load) is tried again a second later while the connection is up. */
  private async resubscribe(): Promise<void> {
    const channels = [...this.channels.keys()];
    try {
      if (channels.length) await this.subscriber.subscribe(...channels);
      this.subscribed = true;
      this.maybeReady();
    } catch (e) {
      this.failed('subscribe', e);
      const retry = setTimeout(() => {
        if (!this.closed && this.subscriber.status === 'ready') void this.resubscribe();
      }, SUSPEND_AFTER_TIMEOUT_MS);
      retry.unref();
    }
  }

  /** Both connections up again: end the outage (one line) and tell the listeners. */
  private maybeReady(): void {
    if (this.closed || this.client.status !== 'ready' || !this.subscribed || this.subscriber.status !== 'ready') return;
    this.suspendedUntil = 0;
    clearInterval(this.probe);
    this.probe = undefined;
    if (this.inOutage) this.logger.log(`Redis at ${this.where} is reachable again; resynchronising`);
    this.inOutage = false;
    for (const listener of [...this.readyListeners]) listener();
  }

  /** While suspended after a timeout (the connection itself still up), a PING a second tells when Redis answers again. */
  private startProbe(): void {
    if (this.probe) return;
    this.probe = setInterval(() => {
      if (this.closed || this.client.status !== 'ready') return;
      this.client.ping().then(() => this.maybeReady(), () => this.errors.redisError('ping'));
    }, SUSPEND_AFTER_TIMEOUT_MS);
    this.probe.unref();
  }
}
