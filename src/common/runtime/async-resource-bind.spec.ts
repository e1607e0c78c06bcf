import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';

import { installLeanAsyncResourceBind } from './async-resource-bind';

describe('installLeanAsyncResourceBind', () => {
  beforeAll(() => installLeanAsyncResourceBind());

  it('binds to the async context of the bind call, as Node does (static and instance bind)', async () => {
    // Arrange
    const storage = new AsyncLocalStorage<string>();
    const [viaStatic, viaInstance] = storage.run('request-1', () => [
      AsyncResource.bind(() => storage.getStore()),
      new AsyncResource('test').bind(() => storage.getStore()),
    ]);

    // Act
    const seen = await storage.run('request-2', async () => {
      await Promise.resolve();
      return [viaStatic(), viaInstance()];
    });

    // Assert
    expect(seen).toEqual(['request-1', 'request-1']);
  });

  it("keeps the function's arity and the caller's this (or thisArg), and refuses a non-function", () => {
    // Arrange
    function three(this: unknown, _a: unknown, _b: unknown, _c: unknown) { return this; }
    const self = { name: 'caller' };

    // Act
    const sut = AsyncResource.bind(three);
    const withThis = AsyncResource.bind(three, 'x', self);

    // Assert
    expect(sut.length).toBe(3);
    expect(sut.call(self, 1, 2, 3)).toBe(self);
    expect(withThis.call({ other: true }, 1, 2, 3)).toBe(self);
    expect(() => AsyncResource.bind(42 as unknown as () => void)).toThrow(/"fn" argument must be of type function/);
    expect(Object.getOwnPropertyDescriptor(sut, 'asyncResource')).toBeUndefined();
  });
});
