import { EventEmitter } from 'node:events';

import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { bodyBytesOf, InflightBodies } from './inflight-bodies';

const LIMITS = { bodyLimitBytes: 1000, v2BodyLimitBytes: 5000 };
const post = (url: string, headers: Record<string, string>) => ({ url, headers });
/** A response: only its 'close' event matters here. */
const response = () => new EventEmitter();

describe('bodyBytesOf', () => {
  it('is the Content-Length of a plain body, 0 without a body', () => {
    // Act / Assert
    expect(bodyBytesOf(post('/v2/models/det/infer', { 'content-length': '4200' }), LIMITS)).toBe(4200);
    expect(bodyBytesOf(post('/v2/models/det', {}), LIMITS)).toBe(0);
    expect(bodyBytesOf(post('/predict', { 'content-length': '0' }), LIMITS)).toBe(0);
  });

  it('is the route\'s limit for a chunked or compressed body (it may grow or inflate up to it)', () => {
    // Act / Assert
    expect(bodyBytesOf(post('/v2/models/det/infer', { 'transfer-encoding': 'chunked' }), LIMITS)).toBe(5000);
    expect(bodyBytesOf(post('/predict', { 'content-length': '10', 'content-encoding': 'gzip' }), LIMITS)).toBe(1000);
  });
});

describe('InflightBodies', () => {
  it('admits bodies up to the cap, refuses the one that would pass it with 503 and Retry-After, and counts nothing for it', () => {
    // Arrange
    let refusals = 0;
    const sut = new InflightBodies(6000, LIMITS, () => { refusals += 1; });
    sut.admit(post('/v2/models/det/infer', { 'content-length': '4000' }), response());

    // Act
    const refused = (() => {
      try {
        sut.admit(post('/v2/models/det/infer', { 'content-length': '2001' }), response());
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    sut.admit(post('/v2/models/det/infer', { 'content-length': '2000' }), response());

    // Assert
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe(ErrorCode.OVERLOADED);
    expect((refused as AppError).retryAfterSeconds).toBe(1);
    expect((refused as AppError).message).toMatch(/MAX_INFLIGHT_MB/);
    expect(sut.inFlightBytes).toBe(6000);
    expect(refusals).toBe(1);
  });

  it('releases a body\'s bytes once its response closes (finished or connection gone), once', () => {
    // Arrange
    const sut = new InflightBodies(6000, LIMITS);
    const res = response();
    sut.admit(post('/v2/models/det/infer', { 'content-length': '4000' }), res);

    // Act
    res.emit('close');
    res.emit('close');

    // Assert
    expect(sut.inFlightBytes).toBe(0);
    sut.admit(post('/v2/models/det/infer', { 'content-length': '5000' }), response());
    expect(sut.inFlightBytes).toBe(5000);
  });

  it('always admits requests without a body', () => {
    // Arrange
    const sut = new InflightBodies(5000, LIMITS);
    sut.admit(post('/v2/models/det/infer', { 'content-length': '5000' }), response());

    // Act / Assert
    expect(() => sut.admit(post('/v2/health/ready', {}), response())).not.toThrow();
  });
});
