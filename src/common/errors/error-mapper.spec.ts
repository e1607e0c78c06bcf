import { BadRequestException, HttpException, HttpStatus, InternalServerErrorException, NotFoundException } from '@nestjs/common';

import { AppError } from './app-error';
import { ErrorCode } from './error-code';
import { mapError } from './error-mapper';

describe('mapError', () => {
  describe('a body that does not decode under its Content-Encoding', () => {
    it.each(['Z_BUF_ERROR', 'Z_DATA_ERROR', 'ERR__ERROR_FORMAT_PADDING_1'])('maps body-parser\'s 400-wrapped zlib error %s to 400 BAD_REQUEST, not 500', (code) => {
      // Arrange: what body-parser's createError(400, zlibError) produces
      const zlib = Object.assign(new Error('unexpected end of file'), { code, status: 400, statusCode: 400, expose: true });

      // Act
      const sut = mapError(zlib);

      // Assert
      expect(sut).toEqual({ status: 400, code: 'BAD_REQUEST', message: 'Request body does not decode under its Content-Encoding', details: [], unexpected: false });
    });

    it('maps a body read the client aborted (Fastify: the socket error with a 4xx statusCode) to 400, not an unexpected 500', () => {
      // Arrange
      const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 });

      // Act
      const sut = mapError(aborted);

      // Assert
      expect(sut).toMatchObject({ status: 400, code: 'BAD_REQUEST', unexpected: false });
    });

    it("keeps a library refusal's own 4xx status with the status's words, not its text (the static files' 403 for a dot-segment path was told its body could not be read)", () => {
      // Arrange: what send (under @fastify/static) throws, with a path in its message
      const forbidden = Object.assign(new Error('Forbidden: /srv/app/node_modules/swagger-ui-dist/../x'), { status: 403, statusCode: 403, expose: true });

      // Act
      const sut = mapError(forbidden);

      // Assert
      expect(sut).toEqual({ status: 403, code: 'FORBIDDEN', message: 'Forbidden', details: [], unexpected: false });
    });

    it('leaves other errors with a code to the generic 500', () => {
      expect(mapError(Object.assign(new Error('x'), { code: 'ECONNRESET' })).status).toBe(500);
    });
  });

  describe('AppError', () => {
    it('keeps code, message, details and retry-after, with the status of its code', () => {
      // Arrange
      const error = new AppError(ErrorCode.MODEL_NOT_READY, "Model 'iris' is LOADING", [{ field: 'model_id', message: 'not ready' }], 5);

      // Act
      const sut = mapError(error);

      // Assert
      expect(sut).toEqual({
        status: 503,
        code: ErrorCode.MODEL_NOT_READY,
        message: "Model 'iris' is LOADING",
        details: [{ field: 'model_id', message: 'not ready' }],
        retryAfterSeconds: 5,
        unexpected: false,
      });
    });

    it('maps a validation error to 422 with every detail', () => {
      // Arrange
      const error = AppError.validation([
        { field: 'features.a', message: 'is required' },
        { field: 'features.b', message: 'must be a number, got string' },
      ]);

      // Act
      const sut = mapError(error);

      // Assert
      expect(sut.status).toBe(422);
      expect(sut.code).toBe(ErrorCode.VALIDATION_FAILED);
      expect(sut.details).toHaveLength(2);
      expect(sut.message).toContain('features.a is required');
    });

    it('maps MODEL_NOT_FOUND to 404', () => {
      // Act
      const sut = mapError(AppError.modelNotFound('nope'));

      // Assert
      expect(sut.status).toBe(404);
      expect(sut.code).toBe(ErrorCode.MODEL_NOT_FOUND);
      expect(sut.message).toBe("Model 'nope' not found");
    });
  });

  describe('body-parser errors', () => {
    it('maps entity.parse.failed to 400 MALFORMED_JSON', () => {
      // Arrange
      const error = Object.assign(new SyntaxError('Unexpected token } in JSON at position 9'), { type: 'entity.parse.failed', status: 400 });

      // Act
      const sut = mapError(error);

      // Assert
      expect(sut.status).toBe(400);
      expect(sut.code).toBe(ErrorCode.MALFORMED_JSON);
      expect(sut.message).not.toContain('Unexpected token');
      expect(sut.unexpected).toBe(false);
    });

    it('maps a plain {type, status} object the same way', () => {
      // Act
      const sut = mapError({ type: 'entity.parse.failed', status: 400 });

      // Assert
      expect(sut.status).toBe(400);
      expect(sut.code).toBe(ErrorCode.MALFORMED_JSON);
    });

    it('maps entity.too.large to 413 PAYLOAD_TOO_LARGE naming the limit', () => {
      // Act
      const sut = mapError({ type: 'entity.too.large', status: 413, limit: 100 });

      // Assert
      expect(sut.status).toBe(413);
      expect(sut.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
      expect(sut.message).toContain('100 bytes');
      expect(sut.unexpected).toBe(false);
    });

    it.each(['encoding.unsupported', 'charset.unsupported'])('maps %s to 415', (type) => {
      // Act
      const sut = mapError({ type, status: 415, charset: 'latin9' });

      // Assert
      expect(sut.status).toBe(415);
      expect(sut.code).toBe(ErrorCode.UNSUPPORTED_MEDIA_TYPE);
      expect(sut.message).toContain("'latin9'");
    });

    it('maps request.aborted to 400 BAD_REQUEST', () => {
      // Act
      const sut = mapError({ type: 'request.aborted', status: 400 });

      // Assert
      expect(sut.status).toBe(400);
      expect(sut.code).toBe(ErrorCode.BAD_REQUEST);
    });

    it('does not treat an object with a type but no status as a body-parser error', () => {
      // Act
      const sut = mapError({ type: 'entity.parse.failed' });

      // Assert
      expect(sut.status).toBe(500);
      expect(sut.code).toBe(ErrorCode.INTERNAL);
    });
  });

  describe('Nest HttpException', () => {
    it('maps NotFoundException to 404 NOT_FOUND with its message', () => {
      // Act
      const sut = mapError(new NotFoundException('Cannot GET /nope'));

      // Assert
      expect(sut).toEqual({ status: 404, code: ErrorCode.NOT_FOUND, message: 'Cannot GET /nope', details: [], unexpected: false });
    });

    it('joins an array of messages', () => {
      // Act
      const sut = mapError(new BadRequestException(['a must be a string', 'b is required']));

      // Assert
      expect(sut.status).toBe(400);
      expect(sut.code).toBe(ErrorCode.BAD_REQUEST);
      expect(sut.message).toBe('a must be a string; b is required');
    });

    it('uses a string response body as the message', () => {
      // Act
      const sut = mapError(new HttpException('slow down', HttpStatus.TOO_MANY_REQUESTS));

      // Assert
      expect(sut.status).toBe(429);
      expect(sut.code).toBe(ErrorCode.RATE_LIMITED);
      expect(sut.message).toBe('slow down');
    });

    it('maps an unlisted 4xx status to BAD_REQUEST and keeps the status', () => {
      // Act
      const sut = mapError(new HttpException('teapot', 418));

      // Assert
      expect(sut.status).toBe(418);
      expect(sut.code).toBe(ErrorCode.BAD_REQUEST);
      expect(sut.unexpected).toBe(false);
    });

    it('marks a 5xx HttpException as unexpected', () => {
      // Act
      const sut = mapError(new InternalServerErrorException());

      // Assert
      expect(sut.status).toBe(500);
      expect(sut.code).toBe(ErrorCode.INTERNAL);
      expect(sut.unexpected).toBe(true);
    });

    it("answers a 5xx HttpException's text generically (a library's words, e.g. Nest wrapping an adapter failure, stay in the log)", () => {
      // Act
      const sut = mapError(new HttpException("Attempted to send payload of invalid type 'object'. Expected a string or Buffer.", 500));

      // Assert
      expect(sut.message).toBe('Internal server error');
      expect(sut.unexpected).toBe(true);
    });
  });

  describe('unknown errors', () => {
    it('maps a plain Error to a generic 500 that leaks neither message nor stack', () => {
      // Arrange
      const error = new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2');

      // Act
      const sut = mapError(error);

      // Assert
      expect(sut.status).toBe(500);
      expect(sut.code).toBe(ErrorCode.INTERNAL);
      expect(sut.unexpected).toBe(true);
      expect(sut.details).toEqual([]);
      expect(sut.message).toBe('Internal server error');
      expect(JSON.stringify(sut)).not.toContain('hunter2');
      expect(JSON.stringify(sut)).not.toContain(error.stack!.split('\n')[1].trim());
    });

    it.each([undefined, null, 'boom', 42, { message: 'secret' }])('maps the thrown value %j to a generic 500', (thrown) => {
      // Act
      const sut = mapError(thrown);

      // Assert
      expect(sut.status).toBe(500);
      expect(sut.code).toBe(ErrorCode.INTERNAL);
      expect(sut.message).toBe('Internal server error');
    });
  });
});

describe('mapError for unlisted body-parser errors (regression)', () => {
  it('keeps their own 4xx status instead of a 500', () => {
    const sut = mapError({ type: 'request.size.invalid', status: 400 });
    expect(sut).toMatchObject({ status: 400, code: ErrorCode.BAD_REQUEST, unexpected: false });
  });
});
