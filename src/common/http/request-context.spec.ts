import { contextOf, notePrediction, openContext, resolveRequestId } from './request-context';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('resolveRequestId', () => {
  it.each(['a', 'abc-123', 'trace.id_01-XYZ', '123e4567-e89b-42d3-a456-426614174000', 'x'.repeat(128)])(
    'keeps the sane id %j',
    (incoming) => {
      // Act
      const sut = resolveRequestId(incoming);

      // Assert
      expect(sut).toBe(incoming);
    },
  );

  it.each([
    ['129 characters', 'x'.repeat(129)],
    ['a space', 'abc def'],
    ['an empty string', ''],
    ['a newline (header injection)', 'abc\r\nSet-Cookie: x=1'],
    ['a slash', 'a/b'],
    ['non-ASCII', 'idé'],
    ['a number', 42],
    ['an array (repeated header)', ['abc', 'def']],
    ['undefined', undefined],
    ['null', null],
  ])('replaces %s with a UUID v4', (_, incoming) => {
    // Act
    const sut = resolveRequestId(incoming);

    // Assert
    expect(sut).toMatch(UUID_V4);
  });

  it('generates a different id each time', () => {
    // Act
    const first = resolveRequestId(undefined);
    const second = resolveRequestId(undefined);

    // Assert
    expect(first).not.toBe(second);
  });
});

describe('openContext', () => {
  it('takes a sane X-Request-Id and the arrival time, once per request', () => {
    // Arrange
    const req = { headers: { 'x-request-id': 'abc-123' } };

    // Act
    const sut = openContext(req);
    const again = openContext(req);

    // Assert
    expect(sut.id).toBe('abc-123');
    expect(typeof sut.startedAt).toBe('number');
    expect(again).toBe(sut);
    expect(contextOf(req)).toBe(sut);
  });

  it('generates an id when the header is insane, and opens a context for a request no hook saw', () => {
    // Act
    const insane = openContext({ headers: { 'x-request-id': 'bad id' } });
    const unseen = contextOf({});

    // Assert
    expect(insane.id).toMatch(UUID_V4);
    expect(unseen.id).toMatch(UUID_V4);
  });
});

describe('notePrediction', () => {
  it('keeps the model, version, variant and cached flag of a /predict or V2 answer, and ignores other bodies', () => {
    // Arrange
    const predict = contextOf({});
    const v2 = contextOf({});
    const other = contextOf({});

    // Act
    notePrediction(predict, { model_id: 'iris', model_version: '2', variant: 'canary', cached: true, prediction: {} });
    notePrediction(v2, { model_name: 'iris', model_version: '1', outputs: [] });
    notePrediction(other, { status: 'ok' });

    // Assert
    expect(predict.prediction).toEqual({ model_id: 'iris', model_version: '2', variant: 'canary', cached: true });
    expect(v2.prediction).toEqual({ model_id: 'iris', model_version: '1', variant: undefined, cached: undefined });
    expect(other.prediction).toBeUndefined();
  });
});
