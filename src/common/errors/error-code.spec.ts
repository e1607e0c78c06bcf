import { ErrorCode, statusOf } from './error-code';

describe('statusOf', () => {
  const expected: Record<ErrorCode, number> = {
    [ErrorCode.BAD_REQUEST]: 400,
    [ErrorCode.MALFORMED_JSON]: 400,
    [ErrorCode.BATCH_TOO_LARGE]: 400,
    [ErrorCode.UNAUTHORIZED]: 401,
    [ErrorCode.FORBIDDEN]: 403,
    [ErrorCode.NOT_FOUND]: 404,
    [ErrorCode.MODEL_NOT_FOUND]: 404,
    [ErrorCode.VERSION_NOT_FOUND]: 404,
    [ErrorCode.REQUEST_TIMEOUT]: 408,
    [ErrorCode.CONFLICT]: 409,
    [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
    [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
    [ErrorCode.EXPECTATION_FAILED]: 417,
    [ErrorCode.VALIDATION_FAILED]: 422,
    [ErrorCode.MODEL_LOAD_FAILED]: 422,
    [ErrorCode.RATE_LIMITED]: 429,
    [ErrorCode.HEADERS_TOO_LARGE]: 431,
    [ErrorCode.INTERNAL]: 500,
    [ErrorCode.INFERENCE_FAILED]: 500,
    [ErrorCode.MODEL_NOT_READY]: 503,
    [ErrorCode.OVERLOADED]: 503,
    [ErrorCode.DEPENDENCY_UNAVAILABLE]: 503,
    [ErrorCode.INFERENCE_TIMEOUT]: 504,
  };

  it.each(Object.entries(expected))('maps %s to %i', (code, status) => {
    // Act
    const actual = statusOf(code as ErrorCode);

    // Assert
    expect(actual).toBe(status);
  });

  it('has an expected status for every code of the enum', () => {
    // Arrange
    const codes = Object.values(ErrorCode);

    // Act
    const mapped = codes.map((code) => statusOf(code));

    // Assert
    expect(Object.keys(expected).sort()).toEqual([...codes].sort());
    expect(mapped.every((s) => s >= 400 && s < 600)).toBe(true);
  });

  it('throws for a value outside the enum', () => {
    // Act
    const act = () => statusOf('TEAPOT' as ErrorCode);

    // Assert
    expect(act).toThrow('unmapped error code TEAPOT');
  });
});
