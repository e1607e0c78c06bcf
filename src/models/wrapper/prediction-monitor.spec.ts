import { Logger } from '@nestjs/common';

import { bootModels } from '../../../test/support/wire-models';
import { DefaultRuntimeFactory } from '../runtimes/default-runtime.factory';
import { MonotonicStatsClock } from './stats-clock';

const SETOSA = { input: { datatype: 'FP32' as const, shape: [1, 4], data: new Float32Array([5.1, 3.5, 1.4, 0.2]) } };

describe('PredictionMonitor debug events', () => {
  afterEach(() => jest.restoreAllMocks());

  it.each([
    ['info', 0],
    ['warn', 0],
    ['debug', 2],
    ['trace', 2],
  ])('at LOG_LEVEL=%s logs %d debug events per prediction (none are built above debug)', async (level, expected) => {
    // Arrange
    const { plane, registry } = await bootModels(new DefaultRuntimeFactory(), { LOG_LEVEL: level });
    const debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);

    // Act
    await plane.infer({ model: 'iris', inputs: SETOSA, requestId: 'req-1' });

    // Assert
    const events = debug.mock.calls.map(([line]) => (line as { event?: string }).event).filter((e) => e?.startsWith('prediction_'));
    expect(events).toHaveLength(expected);
    if (expected) expect(events).toEqual(['prediction_started', 'prediction_completed']);
    await registry.onApplicationShutdown();
  });
});

describe('MonotonicStatsClock', () => {
  it('reads whole nanoseconds that never go back', () => {
    // Arrange
    const clock = new MonotonicStatsClock();

    // Act
    const readings = Array.from({ length: 10_000 }, () => clock.nowNs());

    // Assert
    expect(readings.every(Number.isInteger)).toBe(true);
    expect(readings.every((r, i) => i === 0 || r >= readings[i - 1])).toBe(true);
    expect(readings[0]).toBeGreaterThan(0);
  });
});
