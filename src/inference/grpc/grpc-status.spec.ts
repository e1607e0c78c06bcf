import { status } from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { peerAddress } from './grpc-call-gate';
import { giveUpSignal, refuseExpired } from './grpc-inference.service';
import { grpcFailureOf, grpcStatusOf } from './grpc-status';

describe('gRPC status of each error code', () => {
  it.each([
    [ErrorCode.VALIDATION_FAILED, status.INVALID_ARGUMENT],
    [ErrorCode.BAD_REQUEST, status.INVALID_ARGUMENT],
    [ErrorCode.MALFORMED_JSON, status.INVALID_ARGUMENT],
    [ErrorCode.BATCH_TOO_LARGE, status.INVALID_ARGUMENT],
    [ErrorCode.MODEL_NOT_FOUND, status.NOT_FOUND],
    [ErrorCode.VERSION_NOT_FOUND, status.NOT_FOUND],
    [ErrorCode.NOT_FOUND, status.NOT_FOUND],
    [ErrorCode.MODEL_NOT_READY, status.UNAVAILABLE],
    [ErrorCode.OVERLOADED, status.UNAVAILABLE],
    [ErrorCode.DEPENDENCY_UNAVAILABLE, status.UNAVAILABLE],
    [ErrorCode.RATE_LIMITED, status.RESOURCE_EXHAUSTED],
    [ErrorCode.INFERENCE_TIMEOUT, status.DEADLINE_EXCEEDED],
    [ErrorCode.UNAUTHORIZED, status.UNAUTHENTICATED],
    [ErrorCode.FORBIDDEN, status.PERMISSION_DENIED],
    [ErrorCode.INFERENCE_FAILED, status.INTERNAL],
    [ErrorCode.INTERNAL, status.INTERNAL],
    [ErrorCode.CONFLICT, status.FAILED_PRECONDITION],
  ])('%s → %s', (code, expected) => {
    expect(grpcStatusOf(code)).toBe(expected);
  });

  it('maps every code', () => {
    for (const code of Object.values(ErrorCode)) expect(() => grpcStatusOf(code)).not.toThrow();
  });

  it('keeps an AppError\'s message and hides an unexpected error\'s', () => {
    expect(grpcFailureOf(AppError.modelNotFound('x'))).toMatchObject({ code: status.NOT_FOUND, message: "Model 'x' not found", unexpected: false });
    expect(grpcFailureOf(new Error('secret at /src/x.ts:1'))).toMatchObject({ code: status.INTERNAL, message: 'Internal server error', unexpected: true });
  });
});

describe('refuseExpired', () => {
  const call = (deadline: Date | number, cancelled = false) => ({ cancelled, getDeadline: () => deadline });

  it('lets a call without a deadline or before it run', () => {
    expect(() => refuseExpired(call(Infinity))).not.toThrow();
    expect(() => refuseExpired(call(new Date(2_000)), 1_000)).not.toThrow();
  });

  it('refuses a call past its deadline or cancelled as INFERENCE_TIMEOUT (DEADLINE_EXCEEDED)', () => {
    expect(() => refuseExpired(call(new Date(1_000)), 1_000)).toThrow(expect.objectContaining({ code: ErrorCode.INFERENCE_TIMEOUT }));
    expect(() => refuseExpired(call(Infinity, true))).toThrow(/cancelled/);
  });
});

describe('giveUpSignal', () => {
  /** A call: an EventEmitter ('cancelled') with a deadline. */
  const call = (deadline: Date | number) => Object.assign(new EventEmitter(), { getDeadline: () => deadline });

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('aborts when the deadline passes, not before', () => {
    // Arrange
    const sut = giveUpSignal(call(new Date(1_500)), 1_000);

    // Act / Assert
    jest.advanceTimersByTime(499);
    expect(sut.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(sut.signal.aborted).toBe(true);
  });

  it('aborts when the call is cancelled, and stops watching once released', () => {
    // Arrange
    const cancelled = call(Infinity);
    const released = call(new Date(1_100));
    const sut = giveUpSignal(cancelled, 1_000);
    const done = giveUpSignal(released, 1_000);

    // Act
    cancelled.emit('cancelled');
    done.release();
    released.emit('cancelled');
    jest.advanceTimersByTime(1_000);

    // Assert
    expect(sut.signal.aborted).toBe(true);
    expect(done.signal.aborted).toBe(false);
    expect(released.listenerCount('cancelled')).toBe(0);
  });
});

describe('peerAddress', () => {
  it.each([
    ['127.0.0.1:5000', '127.0.0.1'],
    ['ipv4:10.0.0.2:5000', '10.0.0.2'],
    ['[::1]:5000', '::1'],
    ['ipv6:[::ffff:10.0.0.2]:1', '::ffff:10.0.0.2'],
  ])('%s → %s', (peer, expected) => {
    expect(peerAddress(peer)).toBe(expected);
  });
});
