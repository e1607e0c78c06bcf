import { inputLimitProblems } from './input-limits';

describe('inputLimitProblems', () => {
  const limits = { maxDepth: 4, maxStringLength: 5 };

  it('accepts a body within the limits, including long numeric arrays', () => {
    expect(inputLimitProblems({ features: { input: [Array.from({ length: 1000 }, (_, i) => i)] } }, limits)).toEqual([]);
  });

  it('names the exact path of a long string inside arrays and objects', () => {
    // Act
    const sut = inputLimitProblems({ a: [1, { b: 'toolong' }] }, limits);
    // Assert
    expect(sut).toEqual([{ field: 'body.a[1].b', message: expect.stringMatching(/MAX_STRING_LENGTH \(5\)/) }]);
  });

  it('stops at the first container deeper than maxDepth, without walking further', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    const sut = inputLimitProblems({ deep }, limits);
    expect(sut).toEqual([{ field: 'body.deep[0][0][0]', message: 'nesting exceeds MAX_DEPTH (4)' }]);
  });

  it('names prototype-reaching keys, parsed as own properties by JSON.parse', () => {
    const sut = inputLimitProblems(JSON.parse('{"x":{"__proto__":{"p":1}},"constructor":1}'), limits);
    expect(sut.map((p) => p.field).sort()).toEqual(['body.constructor', 'body.x.__proto__']);
  });
});
