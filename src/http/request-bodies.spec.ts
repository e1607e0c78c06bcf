import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { decodeText, isJsonMedia, parseJson } from './request-bodies';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

describe('request bodies', () => {
  describe('decodeText', () => {
    it.each([
      ['no Content-Type', undefined],
      ['application/json', 'application/json'],
      ['charset=utf-8', 'application/json; charset=utf-8'],
      ['charset="UTF-8"', 'application/json; charset="UTF-8"'],
    ])('reads UTF-8 under %s, as TextDecoder does', (_name, contentType) => {
      // Arrange
      const body = Buffer.from('{"name":"café ☕"}', 'utf8');

      // Act
      const sut = decodeText(body, contentType);

      // Assert
      expect(sut).toBe(new TextDecoder('utf-8').decode(body));
      expect(sut).toBe('{"name":"café ☕"}');
    });

    it('drops a UTF-8 byte-order mark, as TextDecoder does', () => {
      // Arrange
      const body = Buffer.concat([BOM, Buffer.from('{"a":1}')]);

      // Act
      const sut = decodeText(body, 'application/json');

      // Assert
      expect(sut).toBe('{"a":1}');
      expect(sut).toBe(new TextDecoder('utf-8').decode(body));
    });

    it('replaces invalid UTF-8 bytes with U+FFFD, as TextDecoder does', () => {
      // Arrange
      const body = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);

      // Act
      const sut = decodeText(body, 'application/json');

      // Assert
      expect(sut).toBe(new TextDecoder('utf-8').decode(body));
      expect(sut).toContain('\ufffd');
    });

    it('reads another utf-* charset through TextDecoder (utf-16le)', () => {
      // Arrange
      const body = Buffer.from('{"a":"ü"}', 'utf16le');

      // Act
      const sut = decodeText(body, 'application/json; charset=utf-16le');

      // Assert
      expect(sut).toBe('{"a":"ü"}');
    });

    it.each([['latin1', 'application/json; charset=latin1'], ['an unknown utf-*', 'application/json; charset=utf-99']])('refuses %s with 415', (_name, contentType) => {
      // Act
      const act = () => decodeText(Buffer.from('{}'), contentType);

      // Assert
      expect(act).toThrow(AppError);
      expect(act).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_MEDIA_TYPE }));
    });
  });

  describe('isJsonMedia', () => {
    it.each([
      ['application/json', true],
      ['application/json; charset=utf-8', true],
      ['Application/JSON', true],
      ['  application/json ;charset=utf-8', true],
      ['application/vnd.api+json', true],
      ['application/merge-patch+json; charset=utf-8', true],
      ['text/plain', false],
      ['application/jsonx', false],
      ['application/octet-stream', false],
      [undefined, false],
    ])('%s → %s', (contentType, expected) => {
      // Act
      const sut = isJsonMedia(contentType);

      // Assert
      expect(sut).toBe(expected);
    });
  });

  describe('parseJson', () => {
    it('reads an empty body as {}, and objects and arrays after whitespace', () => {
      // Act
      const values = [parseJson(''), parseJson(' \n{"a":1}'), parseJson('[1,2]')];

      // Assert
      expect(values).toEqual([{}, { a: 1 }, [1, 2]]);
    });

    it.each([['a bare number', '42'], ['a string', '"x"'], ['truncated JSON', '{"a":'], ['null', 'null']])('refuses %s with MALFORMED_JSON', (_name, text) => {
      // Act
      const act = () => parseJson(text);

      // Assert
      expect(act).toThrow(expect.objectContaining({ code: ErrorCode.MALFORMED_JSON }));
    });
  });
});
