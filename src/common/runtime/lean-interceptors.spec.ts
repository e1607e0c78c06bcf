import { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { InterceptorsConsumer } from '@nestjs/core/interceptors/interceptors-consumer';
import { AsyncLocalStorage } from 'node:async_hooks';
import { lastValueFrom, map, Observable, of, tap } from 'rxjs';

import { installLeanInterceptorsConsumer, leanIntercept } from './lean-interceptors';

/** Nest's own implementation, kept before anything installs the lean one. */
const nestIntercept = InterceptorsConsumer.prototype.intercept;

class Controller {}
const handlerFn = function handler(): void {};

/** Runs `interceptors` around `next` as the router does: await the chain, then lastValueFrom it. */
async function run(impl: typeof nestIntercept, interceptors: NestInterceptor[], next: () => Promise<unknown>): Promise<unknown> {
  const consumer = new InterceptorsConsumer();
  const result = await impl.call(consumer, interceptors, [{}, {}, undefined], new Controller(), handlerFn, next, 'http');
  return result instanceof Observable ? lastValueFrom(result) : result;
}

const recording = (log: string[], name: string): NestInterceptor => ({
  intercept: (_c: ExecutionContext, next: CallHandler) => {
    log.push(`${name}:before`);
    return next.handle().pipe(tap(() => log.push(`${name}:after`)));
  },
});

describe.each([
  ['Nest 11 InterceptorsConsumer', nestIntercept],
  ['leanIntercept', leanIntercept as typeof nestIntercept],
])('interceptor chain semantics: %s', (_name, impl) => {
  it('runs interceptors outermost first around the handler, and unwinds in reverse', async () => {
    // Arrange
    const log: string[] = [];
    const next = async () => { log.push('handler'); return { ok: true }; };

    // Act
    const value = await run(impl, [recording(log, 'a'), recording(log, 'b'), recording(log, 'c')], next);

    // Assert
    expect(value).toEqual({ ok: true });
    expect(log).toEqual(['a:before', 'b:before', 'c:before', 'handler', 'c:after', 'b:after', 'a:after']);
  });

  it('calls the handler directly when there are no interceptors', async () => {
    // Act
    const value = await run(impl, [], async () => 42);

    // Assert
    expect(value).toBe(42);
  });

  it('lets interceptors transform the value (inner first)', async () => {
    // Arrange
    const wrap = (tag: string): NestInterceptor => ({ intercept: (_c, next) => next.handle().pipe(map((v) => `${tag}(${String(v)})`)) });

    // Act
    const value = await run(impl, [wrap('outer'), wrap('inner')], async () => 'x');

    // Assert
    expect(value).toBe('outer(inner(x))');
  });

  it('runs neither later interceptors nor the handler when an interceptor answers without next.handle()', async () => {
    // Arrange
    const log: string[] = [];
    const shortCircuit: NestInterceptor = { intercept: () => of('cached') };
    const next = async () => { log.push('handler'); return 'fresh'; };

    // Act
    const value = await run(impl, [recording(log, 'a'), shortCircuit, recording(log, 'c')], next);

    // Assert
    expect(value).toBe('cached');
    expect(log).toEqual(['a:before', 'a:after']);
  });

  it('does not run the next interceptor before next.handle() is subscribed to', async () => {
    // Arrange
    const log: string[] = [];
    const lazy: NestInterceptor = {
      intercept: (_c, next) => {
        const inner = next.handle();
        log.push('outer called handle()');
        return inner;
      },
    };

    // Act
    await run(impl, [lazy, recording(log, 'inner')], async () => 'v');

    // Assert
    expect(log).toEqual(['outer called handle()', 'inner:before', 'inner:after']);
  });

  it('flattens an interceptor that returns a Promise of an Observable', async () => {
    // Arrange
    const asyncInterceptor: NestInterceptor = {
      intercept: async (_c, next) => {
        await Promise.resolve();
        return next.handle().pipe(map((v) => `async(${String(v)})`));
      },
    };

    // Act
    const value = await run(impl, [asyncInterceptor], async () => 'v');

    // Assert
    expect(value).toBe('async(v)');
  });

  it('emits the values of a handler that returns an Observable (the last one is the answer)', async () => {
    // Act
    const value = await run(impl, [recording([], 'a')], async () => of(1, 2, 3));

    // Assert
    expect(value).toBe(3);
  });

  it.each([
    ['rejects', async () => { throw new Error('handler failed'); }],
    ['returns a rejected Promise', () => Promise.reject(new Error('handler failed'))],
  ])('passes the error through every interceptor when the handler %s', async (_how, next) => {
    // Arrange
    const seen: string[] = [];
    const observer: NestInterceptor = { intercept: (_c, n) => n.handle().pipe(tap({ error: (e: Error) => seen.push(e.message) })) };

    // Act
    const outcome = run(impl, [observer, observer], next as () => Promise<unknown>);

    // Assert
    await expect(outcome).rejects.toThrow('handler failed');
    expect(seen).toEqual(['handler failed', 'handler failed']);
  });

  it('turns an interceptor that throws synchronously into an error of the chain', async () => {
    // Arrange
    const throwing: NestInterceptor = { intercept: () => { throw new Error('interceptor failed'); } };

    // Act
    const outcome = run(impl, [recording([], 'a'), throwing], async () => 'v');

    // Assert
    await expect(outcome).rejects.toThrow('interceptor failed');
  });

  it('gives every interceptor the same execution context, of the handler and its class', async () => {
    // Arrange
    const contexts: ExecutionContext[] = [];
    const capture: NestInterceptor = { intercept: (c, n) => { contexts.push(c); return n.handle(); } };

    // Act
    await run(impl, [capture, capture], async () => 'v');

    // Assert
    expect(contexts[0]).toBe(contexts[1]);
    expect(contexts[0].getType()).toBe('http');
    expect(contexts[0].getHandler()).toBe(handlerFn);
    expect(contexts[0].getClass()).toBe(Controller);
  });

  it("keeps the request's async context (AsyncLocalStorage) in interceptors and the handler", async () => {
    // Arrange
    const storage = new AsyncLocalStorage<string>();
    const seen: Array<string | undefined> = [];
    const reader: NestInterceptor = {
      intercept: (_c, n) => {
        seen.push(storage.getStore());
        return n.handle().pipe(tap(() => seen.push(storage.getStore())));
      },
    };
    const next = async () => { await Promise.resolve(); seen.push(storage.getStore()); return 'v'; };

    // Act: two requests in flight at once, each in its own context.
    await Promise.all(['request-1', 'request-2'].map((id) => storage.run(id, () => run(impl, [reader, reader], next))));

    // Assert
    expect(seen.filter((s) => s === 'request-1')).toHaveLength(5);
    expect(seen.filter((s) => s === 'request-2')).toHaveLength(5);
  });
});

describe('installLeanInterceptorsConsumer', () => {
  it("replaces Nest's InterceptorsConsumer.intercept once (idempotent)", () => {
    // Act
    installLeanInterceptorsConsumer();
    installLeanInterceptorsConsumer();

    // Assert
    expect(InterceptorsConsumer.prototype.intercept).toBe(leanIntercept);
  });
});
