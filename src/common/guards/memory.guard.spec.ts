import { ExecutionContext } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';

import { RecordingRequestMetrics } from '../../../test/support/recording-observers';
import { AllConfig, buildConfig } from '../../config/app-config';
import { PredictionRoute } from '../decorators/prediction-route.decorator';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';
import { MemoryGuard } from './memory.guard';

const MB = 1024 * 1024;
const LIMIT_MB = 100;

class RoutesController {
  @PredictionRoute() predict(): void {}
  health(): void {}
}

@PredictionRoute()
class V2Controller {
  infer(): void {}
}

/** Counts the predictions shed (the rest of the RequestMetrics port is recorded or ignored). */
class CountingMetrics extends RecordingRequestMetrics {
  shed = 0;
  override memoryShed(): void {
    this.shed += 1;
  }
}

type Handler = (...args: never[]) => unknown;

function contextFor(controller: new () => object, handler: Handler): ExecutionContext {
  return {
    getType: () => 'http',
    getClass: () => controller,
    getHandler: () => handler,
    switchToHttp: () => ({ getRequest: () => ({ headers: {} }), getResponse: () => ({}), getNext: () => undefined }),
  } as unknown as ExecutionContext;
}

const predict = contextFor(RoutesController, RoutesController.prototype.predict);
const health = contextFor(RoutesController, RoutesController.prototype.health);
const infer = contextFor(V2Controller, V2Controller.prototype.infer);

/** The AppError `act` throws. */
function thrown(act: () => unknown): AppError {
  try {
    act();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

describe('MemoryGuard', () => {
  let rss: jest.SpyInstance<number, []>;
  let metrics: CountingMetrics;
  let sut: MemoryGuard;

  /** The guard, sampling a process whose RSS is `bytes` at start (fake timers drive the 250 ms sampler). */
  function guardAt(bytes: number): MemoryGuard {
    rss.mockReturnValue(bytes);
    const config = new ConfigService<AllConfig, true>(buildConfig({ MAX_MEMORY_MB: String(LIMIT_MB) }));
    return new MemoryGuard(config, metrics, new Reflector());
  }

  beforeEach(() => {
    jest.useFakeTimers();
    rss = jest.spyOn(process.memoryUsage, 'rss');
    metrics = new CountingMetrics();
  });

  afterEach(() => {
    sut?.onModuleDestroy();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  describe('under MAX_MEMORY_MB', () => {
    beforeEach(() => {
      sut = guardAt(LIMIT_MB * MB - 1);
    });

    it('admits predictions without counting anything', () => {
      // Act
      const allowed = sut.canActivate(predict);

      // Assert
      expect(allowed).toBe(true);
      expect(metrics.shed).toBe(0);
    });

    it('admits gRPC predictions', () => {
      // Act
      const act = () => sut.admitPrediction();

      // Assert
      expect(act).not.toThrow();
    });
  });

  describe('over MAX_MEMORY_MB', () => {
    beforeEach(() => {
      sut = guardAt(LIMIT_MB * MB + 300 * 1024);
    });

    it('sheds a prediction with 503 OVERLOADED, Retry-After and the RSS in MB, counted once', () => {
      // Act
      const error = thrown(() => sut.canActivate(predict));

      // Assert
      expect(error.code).toBe(ErrorCode.OVERLOADED);
      expect(error.message).toBe('Server memory (100 MB RSS) is above MAX_MEMORY_MB; retry later');
      expect(error.retryAfterSeconds).toBe(5);
      expect(metrics.shed).toBe(1);
    });

    it('sheds every handler of a controller marked @PredictionRoute()', () => {
      // Act
      const error = thrown(() => sut.canActivate(infer));

      // Assert
      expect(error.code).toBe(ErrorCode.OVERLOADED);
    });

    it('never sheds other routes (health, metrics, admin), nor counts them', () => {
      // Act
      const allowed = sut.canActivate(health);

      // Assert
      expect(allowed).toBe(true);
      expect(metrics.shed).toBe(0);
    });

    it('sheds gRPC predictions the same way', () => {
      // Act
      const error = thrown(() => sut.admitPrediction());

      // Assert
      expect(error.code).toBe(ErrorCode.OVERLOADED);
      expect(metrics.shed).toBe(1);
    });
  });

  it('follows the RSS sampled every 250 ms, not read per request: sheds after a rise, admits again after a fall', () => {
    // Arrange
    sut = guardAt(10 * MB);
    const readsAtStart = rss.mock.calls.length;

    // Act
    rss.mockReturnValue(200 * MB);
    const beforeSample = sut.canActivate(predict);
    jest.advanceTimersByTime(250);
    const afterRise = thrown(() => sut.canActivate(predict));
    rss.mockReturnValue(50 * MB);
    jest.advanceTimersByTime(249);
    const beforeNextSample = thrown(() => sut.canActivate(predict));
    jest.advanceTimersByTime(1);
    const afterFall = sut.canActivate(predict);

    // Assert
    expect(beforeSample).toBe(true);
    expect(afterRise.code).toBe(ErrorCode.OVERLOADED);
    expect(beforeNextSample.code).toBe(ErrorCode.OVERLOADED);
    expect(afterFall).toBe(true);
    expect(rss.mock.calls.length - readsAtStart).toBe(2);
  });

  it('stops sampling once the module is destroyed', () => {
    // Arrange
    sut = guardAt(10 * MB);

    // Act
    sut.onModuleDestroy();
    rss.mockReturnValue(200 * MB);
    jest.advanceTimersByTime(1000);

    // Assert
    expect(jest.getTimerCount()).toBe(0);
    expect(sut.canActivate(predict)).toBe(true);
  });
});
