import type { OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

/**
 * The library's answer type. @nestjs/throttler 6.7 does not export it from its entry point, and
 * deriving it avoids importing from its `dist/` layout.
 */
export type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** Largest delay Node's timers honour; a longer one silently becomes 1 ms. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** State for one key: a counter and the instant (clock ms) it resets. */
interface WindowRecord {
  /** When the current window (or, while blocked, the block) ends; the record is dead at or after this instant. */
  resetAt: number;
  /** Hits counted in the current window; stays at limit + 1 while blocked. */
  hits: number;
  /** Set by the (limit + 1)-th hit when blockDuration > 0; `resetAt` is then the block's end. */
  blocked: boolean;
}

/** Whole seconds until `at`, rounded up, as @nestjs/throttler's own storage reports them. */
const secondsUntil = (at: number, now: number): number => Math.ceil((at - now) / 1000);

/**
 * {@link ThrottlerStorage} with O(1) work per request and one small record per key: an exact
 * fixed-window counter, replacing the library's in-memory storage, which keeps a timestamp per hit
 * and filters them all on every request.
 *
 * Why fixed windows: they are exact (N allowed, the (N+1)-th blocked, every time), whereas a
 * sliding-window counter only estimates and can block before N after a busy window. The price is
 * that a client can get up to 2N hits in a short span around the end of a window.
 *
 * Semantics (ms from the injected clock):
 * - A key's window starts at its first hit, or its first hit after the previous window or block
 *   ended, and lasts `ttl`: hits at `start + ttl - 1` count in it, a hit at `start + ttl` starts a
 *   new window with a count of 1. Windows are per key, not aligned to the clock, so clients do not
 *   all reset at once.
 * - `blockDuration > 0` (the guard passes `ttl` unless configured): hits 1..N are allowed; the
 *   (N+1)-th is blocked and blocks the key for `blockDuration` from that hit. Blocked hits are not
 *   counted. When the block ends, the block ends the window too: the next hit starts a fresh window.
 * - `blockDuration <= 0`: hits beyond N are refused one by one (not counted) until the window ends.
 *
 * The returned `timeToExpire` (until the counter resets) and `timeToBlockExpire` (0 unless
 * blocked) are whole seconds rounded up. While a block is on, both are the time to its end.
 *
 * Records are keyed by `key` alone (the throttler name is not consulted), so the key must differ
 * per throttler, as the library's default key and this app's `clientThrottleKey` both ensure. An
 * expired record is reused by its key's next hit and evicted by a periodic sweep (unref'ed, so it
 * never holds the process open; stopped in {@link onModuleDestroy}).
 *
 * Wiring: the constructor's parameters are a function and a number, which Nest cannot inject, so
 * the class is not `@Injectable()`; hand Nest an instance, e.g. `storage: new CounterThrottlerStorage()`
 * in the ThrottlerModule options, or `{ provide: ..., useFactory: () => new CounterThrottlerStorage() }`.
 * Nest still calls {@link onModuleDestroy} on such provider instances.
 */
export class CounterThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly records = new Map<string, WindowRecord>();
  private sweepTimer: NodeJS.Timeout | undefined;

  /**
   * Starts the sweep.
   * @param now the clock, in ms (epoch or any monotonic origin); `Date.now` by default.
   * @param sweepIntervalMs how often expired records are evicted, in ms (1 to 2^31 - 1; default 60 s).
   * @throws RangeError if `sweepIntervalMs` is out of that range (Node would turn it into 1 ms).
   */
  constructor(
    private readonly now: () => number = Date.now,
    sweepIntervalMs = 60_000,
  ) {
    if (!(sweepIntervalMs >= 1 && sweepIntervalMs <= MAX_TIMER_DELAY_MS)) {
      throw new RangeError(`sweepIntervalMs must be 1..${MAX_TIMER_DELAY_MS} ms, got ${sweepIntervalMs}`);
    }
    this.sweepTimer = setInterval(() => this.evictExpired(), sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /** Number of records held (live, blocked, or expired but not yet swept). Read-only. */
  get size(): number {
    return this.records.size;
  }

  /**
   * Counts one hit for `key` and says whether it is allowed; see the class doc for the exact rules.
   * @param key the client's key for one throttler (must include the throttler's identity).
   * @param ttl window length, ms.
   * @param limit hits allowed per window.
   * @param blockDuration how long the (limit + 1)-th hit blocks the key, ms; <= 0 means no block.
   * @param _throttlerName unused: `key` already identifies the throttler.
   * @returns totalHits (capped at limit + 1), isBlocked, and timeToExpire / timeToBlockExpire in
   *   seconds, rounded up.
   */
  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    return Promise.resolve(this.incrementNow(key, ttl, limit, blockDuration, throttlerName));
  }

  /** {@link increment}'s answer without the Promise: the storage is in-process, so the guard can stay synchronous. */
  incrementNow(key: string, ttl: number, limit: number, blockDuration: number, _throttlerName: string): ThrottlerStorageRecord {
    const now = this.now();
    const record = this.currentWindow(key, ttl, now);
    if (record.blocked) return this.blockedAnswer(record, now);
    return blockDuration > 0 ? this.hitWithBlock(record, now, limit, blockDuration) : this.hitWithoutBlock(record, now, limit);
  }

  /** Stops the sweep. Records are kept, so requests still in flight during shutdown stay limited. */
  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** The key's record with a window open at `now`: created, or reset in place once expired (no allocation). */
  private currentWindow(key: string, ttl: number, now: number): WindowRecord {
    const record = this.records.get(key);
    if (record === undefined) {
      const created: WindowRecord = { resetAt: now + ttl, hits: 0, blocked: false };
      this.records.set(key, created);
      return created;
    }
    if (record.resetAt <= now) {
      record.resetAt = now + ttl;
      record.hits = 0;
      record.blocked = false;
    }
    return record;
  }

  /** Mirrors the library: every hit counts until one exceeds the limit; that hit starts the block. */
  private hitWithBlock(record: WindowRecord, now: number, limit: number, blockDuration: number): ThrottlerStorageRecord {
    record.hits += 1;
    if (record.hits <= limit) return this.allowedAnswer(record, now);
    record.blocked = true;
    // The block replaces the rest of the window, so one deadline serves both and the sweep test stays one comparison.
    record.resetAt = now + blockDuration;
    return this.blockedAnswer(record, now);
  }

  /** Mirrors the library without a block: hits past the limit are refused, not counted, until the window ends. */
  private hitWithoutBlock(record: WindowRecord, now: number, limit: number): ThrottlerStorageRecord {
    if (record.hits >= limit) {
      const toReset = secondsUntil(record.resetAt, now);
      return { totalHits: record.hits + 1, timeToExpire: toReset, isBlocked: true, timeToBlockExpire: toReset };
    }
    record.hits += 1;
    return this.allowedAnswer(record, now);
  }

  private allowedAnswer(record: WindowRecord, now: number): ThrottlerStorageRecord {
    return { totalHits: record.hits, timeToExpire: secondsUntil(record.resetAt, now), isBlocked: false, timeToBlockExpire: 0 };
  }

  private blockedAnswer(record: WindowRecord, now: number): ThrottlerStorageRecord {
    const toReset = secondsUntil(record.resetAt, now);
    return { totalHits: record.hits, timeToExpire: toReset, isBlocked: true, timeToBlockExpire: toReset };
  }

  /** Drops every record whose window and block have ended; runs on the sweep timer, never per request. */
  private evictExpired(): void {
    const now = this.now();
    // Deleting the entry being visited is safe during Map iteration.
    for (const [key, record] of this.records) {
      if (record.resetAt <= now) this.records.delete(key);
    }
  }
}
