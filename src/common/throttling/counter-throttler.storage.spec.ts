import { Test } from '@nestjs/testing';
import { ThrottlerModule, ThrottlerStorage } from '@nestjs/throttler';

import { CounterThrottlerStorage } from './counter-throttler.storage';
import type { ThrottlerStorageRecord } from './counter-throttler.storage';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const SWEEP_MS = 10_000;
// Not a multiple of a minute: windows start at a client's first hit, not on clock boundaries.
const T0 = 1_700_000_012_345;
const KEY = 'minute:key:a';

describe('CounterThrottlerStorage', () => {
  let clock: number;
  let sut: CounterThrottlerStorage;

  /** `times` hits on `key` at the current clock; resolves to the last answer. */
  const hit = async (times = 1, key = KEY, ttl = MINUTE, limit = 10, blockDuration = MINUTE): Promise<ThrottlerStorageRecord> => {
    let last: ThrottlerStorageRecord | undefined;
    for (let i = 0; i < times; i += 1) last = await sut.increment(key, ttl, limit, blockDuration, key.split(':')[0]);
    return last as ThrottlerStorageRecord;
  };

  beforeEach(() => {
    // Only timers are faked (for the sweep); promises and Nest's bootstrap need the real microtask queue.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    clock = T0;
    sut = new CounterThrottlerStorage(() => clock, SWEEP_MS);
  });

  afterEach(() => {
    sut.onModuleDestroy();
    jest.useRealTimers();
  });

  describe('limit', () => {
    it('allows exactly N hits in a window and blocks the (N+1)-th (10/min: the 11th is blocked)', async () => {
      // Arrange
      const answers: ThrottlerStorageRecord[] = [];

      // Act
      for (let i = 0; i < 11; i += 1) answers.push(await hit());

      // Assert
      expect(answers.slice(0, 10).map((a) => [a.totalHits, a.isBlocked])).toEqual(
        Array.from({ length: 10 }, (_, i) => [i + 1, false]),
      );
      expect(answers[10]).toEqual({ totalHits: 11, timeToExpire: 60, isBlocked: true, timeToBlockExpire: 60 });
    });

    it('blocks the (N+1)-th hit even when it comes in the last ms of the window', async () => {
      // Arrange
      await hit(10);
      clock = T0 + MINUTE - 1;

      // Act
      const answer = await hit();

      // Assert
      expect(answer.isBlocked).toBe(true);
    });

    it('treats a limit of 1 as one allowed hit per window', async () => {
      // Act
      const first = await hit(1, KEY, MINUTE, 1);
      const second = await hit(1, KEY, MINUTE, 1);

      // Assert
      expect([first.isBlocked, second.isBlocked]).toEqual([false, true]);
    });
  });

  describe('window edges', () => {
    it('counts a hit in the last ms of a window in it, and starts a new window on the first ms of the next', async () => {
      // Arrange
      await hit(5);

      // Act
      clock = T0 + MINUTE - 1;
      const lastMs = await hit();
      clock = T0 + MINUTE;
      const nextWindow = await hit();

      // Assert
      expect(lastMs).toEqual({ totalHits: 6, timeToExpire: 1, isBlocked: false, timeToBlockExpire: 0 });
      expect(nextWindow).toEqual({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
    });

    it('starts the next window at the first hit after the previous one ended, not at a clock boundary', async () => {
      // Arrange
      await hit(10);
      clock = T0 + MINUTE + 25_000;
      await hit();

      // Act
      clock = T0 + 2 * MINUTE + 25_000 - 1;
      const stillInIt = await hit();
      clock = T0 + 2 * MINUTE + 25_000;
      const after = await hit();

      // Assert
      expect(stillInIt.totalHits).toBe(2);
      expect(after.totalHits).toBe(1);
    });
  });

  describe('blockDuration > 0', () => {
    it('keeps the key blocked for blockDuration from the blocking hit, without counting blocked hits, then allows a fresh window', async () => {
      // Arrange
      await hit(3, KEY, MINUTE, 2, 30_000);
      clock = T0 + 30_000 - 1;

      // Act
      const lastBlockedMs = await hit(5, KEY, MINUTE, 2, 30_000);
      clock = T0 + 30_000;
      const released = await hit(1, KEY, MINUTE, 2, 30_000);

      // Assert
      expect(lastBlockedMs).toEqual({ totalHits: 3, timeToExpire: 1, isBlocked: true, timeToBlockExpire: 1 });
      expect(released).toEqual({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
    });

    it('keeps the block past the end of the window when blockDuration is longer than ttl', async () => {
      // Arrange
      await hit(2, KEY, 1_000, 1, 5_000);

      // Act
      clock = T0 + 4_999;
      const stillBlocked = await hit(1, KEY, 1_000, 1, 5_000);
      clock = T0 + 5_000;
      const released = await hit(1, KEY, 1_000, 1, 5_000);

      // Assert
      expect(stillBlocked).toMatchObject({ isBlocked: true, timeToBlockExpire: 1 });
      expect(released).toMatchObject({ isBlocked: false, totalHits: 1 });
    });
  });

  describe('blockDuration <= 0', () => {
    it('refuses hits past the limit one by one, uncounted, and allows again when the window ends', async () => {
      // Arrange
      await hit(2, KEY, MINUTE, 2, 0);
      clock = T0 + 45_500;

      // Act
      const refused = await hit(3, KEY, MINUTE, 2, 0);
      clock = T0 + MINUTE;
      const nextWindow = await hit(1, KEY, MINUTE, 2, 0);

      // Assert
      expect(refused).toEqual({ totalHits: 3, timeToExpire: 15, isBlocked: true, timeToBlockExpire: 15 });
      expect(nextWindow).toEqual({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
    });
  });

  describe('seconds, rounded up', () => {
    it.each([
      [0, 60],
      [1, 60],
      [999, 60],
      [1_000, 59],
      [59_000, 1],
      [59_999, 1],
    ])('reports timeToExpire %i ms into a 60 s window as %i s', async (elapsed, seconds) => {
      // Arrange
      await hit();
      clock = T0 + elapsed;

      // Act
      const answer = await hit();

      // Assert
      expect(answer.timeToExpire).toBe(seconds);
    });

    it.each([
      [0, 2],
      [499, 2],
      [500, 1],
      [1_499, 1],
    ])('reports timeToBlockExpire %i ms into a 1.5 s block as %i s', async (elapsed, seconds) => {
      // Arrange
      await hit(2, KEY, MINUTE, 1, 1_500);
      clock = T0 + elapsed;

      // Act
      const answer = await hit(1, KEY, MINUTE, 1, 1_500);

      // Assert
      expect(answer.timeToBlockExpire).toBe(seconds);
    });
  });

  describe('isolation', () => {
    it('keeps clients apart: one client being blocked leaves another untouched', async () => {
      // Arrange
      await hit(11, 'minute:key:a');

      // Act
      const other = await hit(1, 'minute:key:b');
      const blocked = await hit(1, 'minute:key:a');

      // Assert
      expect(other).toMatchObject({ totalHits: 1, isBlocked: false });
      expect(blocked.isBlocked).toBe(true);
    });

    it('keeps throttlers apart for the same client', async () => {
      // Arrange
      await hit(3, 'minute:key:a', MINUTE, 2, MINUTE);

      // Act
      const hour = await hit(1, 'hour:key:a', HOUR, 5, HOUR);
      const minute = await hit(1, 'minute:key:a', MINUTE, 2, MINUTE);

      // Assert
      expect(hour).toEqual({ totalHits: 1, timeToExpire: 3_600, isBlocked: false, timeToBlockExpire: 0 });
      expect(minute.isBlocked).toBe(true);
      expect(sut.size).toBe(2);
    });
  });

  describe('memory', () => {
    it('holds exactly one record per client, however many hits, windows and blocks it goes through', async () => {
      // Arrange
      await hit();
      const sizeAfterFirstHit = sut.size;

      // Act: 100,000 hits, 7 ms apart, cross many windows and blocks
      for (let i = 0; i < 100_000; i += 1) {
        clock += 7;
        await hit(1, KEY, 1_000, 50, 2_000);
      }

      // Assert
      expect(sizeAfterFirstHit).toBe(1);
      expect(sut.size).toBe(1);
    });

    it('completes 1,000,000 hits on one key with one record and exact counts', async () => {
      // Arrange: 1 ms apart, a 1 s window, 10 allowed per window, no block: 1,000 windows
      let allowed = 0;

      // Act
      for (let i = 0; i < 1_000_000; i += 1) {
        const answer = await sut.increment(KEY, 1_000, 10, 0, 'minute');
        if (!answer.isBlocked) allowed += 1;
        clock += 1;
      }

      // Assert
      expect(allowed).toBe(10_000);
      expect(sut.size).toBe(1);
    });
  });

  describe('sweep', () => {
    it('evicts records whose window ended and keeps live and blocked ones', async () => {
      // Arrange
      await hit(1, 'minute:expired');
      await hit(11, 'minute:blocked', MINUTE, 10, 10 * MINUTE);
      clock = T0 + MINUTE;
      await hit(1, 'minute:live');

      // Act
      jest.advanceTimersByTime(SWEEP_MS);

      // Assert
      expect(sut.size).toBe(2);
      expect((await hit(1, 'minute:blocked')).isBlocked).toBe(true);
      expect((await hit(1, 'minute:expired')).totalHits).toBe(1);
    });

    it('evicts nothing on the request path: expired records wait for the sweep', async () => {
      // Arrange
      await hit(1, 'minute:old');
      clock = T0 + MINUTE;

      // Act
      await hit(1, 'minute:new');
      const beforeSweep = sut.size;
      jest.advanceTimersByTime(SWEEP_MS);

      // Assert
      expect(beforeSweep).toBe(2);
      expect(sut.size).toBe(1);
    });

    it('runs on an unref()ed timer, so it never keeps the process alive', () => {
      // Arrange
      sut.onModuleDestroy();
      const setIntervalSpy = jest.spyOn(global, 'setInterval');

      // Act
      sut = new CounterThrottlerStorage(() => clock, SWEEP_MS);

      // Assert
      const timer = setIntervalSpy.mock.results[0].value as NodeJS.Timeout;
      setIntervalSpy.mockRestore();
      expect(timer.hasRef()).toBe(false);
    });

    it.each([[0], [2 ** 31], [Number.NaN]])('rejects a sweep interval of %p ms', (interval) => {
      // Act / Assert
      expect(() => new CounterThrottlerStorage(() => clock, interval)).toThrow(RangeError);
    });
  });

  describe('onModuleDestroy', () => {
    it('clears the sweep interval and keeps limiting requests still in flight', async () => {
      // Arrange
      await hit(11);
      const timersBefore = jest.getTimerCount();

      // Act
      sut.onModuleDestroy();

      // Assert
      expect(timersBefore).toBe(1);
      expect(jest.getTimerCount()).toBe(0);
      expect((await hit()).isBlocked).toBe(true);
    });

    it('is called by Nest when the instance is the ThrottlerModule storage', async () => {
      // Arrange
      sut.onModuleDestroy();
      sut = new CounterThrottlerStorage();
      const moduleRef = await Test.createTestingModule({
        imports: [ThrottlerModule.forRoot({ throttlers: [{ name: 'minute', ttl: MINUTE, limit: 10 }], storage: sut })],
      }).compile();
      const timersBefore = jest.getTimerCount();

      // Act
      await moduleRef.close();

      // Assert
      expect(moduleRef.get(ThrottlerStorage)).toBe(sut);
      expect(timersBefore).toBe(1);
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
