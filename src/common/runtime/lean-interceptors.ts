import type { CallHandler, ContextType, NestInterceptor } from '@nestjs/common';
import { destroyStreamableFile } from '@nestjs/core/helpers/destroy-streamable-file';
import { InterceptorsConsumer } from '@nestjs/core/interceptors/interceptors-consumer';
import { defer, from, isObservable, mergeAll, Observable, Subscription } from 'rxjs';

const INSTALLED = Symbol.for('nest-model-server.leanInterceptorsConsumer');

type Intercept = InterceptorsConsumer['intercept'];
type Next = Parameters<Intercept>[4];

/**
 * Nest's interceptor chain with the same semantics and a fraction of its cost. Nest 11 builds,
 * per interceptor per request, an async function, `defer(AsyncResource.bind(...))` and a
 * `mergeAll()` around the next step (and one more pair around the chain); profiled on /predict
 * with our three interceptors (logging, latency, serialization), that machinery was the largest
 * framework stage of a request (rxjs + @nestjs/core ~12% of the main thread). Here each step is
 * one `defer` (so the next interceptor, and finally the handler, still run only when the
 * previous one subscribes to `next.handle()`), and a step is flattened only when an interceptor
 * returns a Promise of an Observable. The handler's end of the chain is {@link leanTransformDeferred}:
 * Nest's `transformDeferred` without its `from(Promise.resolve(value))` around a plain value.
 *
 * Left out: the `AsyncResource.bind` per step. Subscriptions happen inside the request's own
 * async chain (the router awaits the chain and subscribes with `lastValueFrom`), so the async
 * context (AsyncLocalStorage, OpenTelemetry's context) seen by interceptors and the handler is the
 * request's either way; lean-interceptors.spec.ts checks this beside the semantics (order,
 * laziness, short-circuits, errors, promise-returning interceptors), run on both implementations.
 *
 * Installed process-wide by the HTTP wiring, like {@link installLeanAsyncResourceBind}; idempotent.
 */
export function installLeanInterceptorsConsumer(): void {
  const prototype = InterceptorsConsumer.prototype as unknown as Record<symbol, boolean> & { intercept: Intercept };
  if (prototype[INSTALLED]) return;
  prototype[INSTALLED] = true;
  prototype.intercept = leanIntercept;
}

/** {@link InterceptorsConsumer.intercept}, leaner: see {@link installLeanInterceptorsConsumer}. */
export function leanIntercept<TContext extends string = ContextType>(
  this: InterceptorsConsumer,
  interceptors: NestInterceptor[],
  args: unknown[],
  instance: object,
  callback: (...args: unknown[]) => unknown,
  next: Next,
  type?: TContext,
): Promise<unknown> {
  if (interceptors.length === 0) return next();
  const context = this.createContext(args, instance, callback);
  context.setType(type as TContext);
  const step = (i: number): Observable<unknown> => {
    if (i >= interceptors.length) return leanTransformDeferred(next);
    const handler: CallHandler = { handle: () => defer(() => step(i + 1)) };
    const intercepted = interceptors[i].intercept(context, handler);
    return isObservable(intercepted) ? intercepted : from(intercepted).pipe(mergeAll());
  };
  return Promise.resolve(defer(() => step(0)));
}

/**
 * {@link InterceptorsConsumer.transformDeferred}, leaner: calls `next` at once (inside the request's
 * async context, as Nest does) and emits what its Promise settles to: an Observable's values, a
 * Promise's value, or the value itself, once, then completes. Nest wraps a plain value in
 * `from(Promise.resolve(value))` (one more Promise and Observable per request); here it is
 * emitted straight from the settled Promise. A subscriber already gone when the Promise settles
 * gets nothing (a StreamableFile is destroyed, as Nest does, since nothing else releases its stream).
 */
export function leanTransformDeferred(next: Next): Observable<unknown> {
  const settled = Promise.resolve(next());
  return new Observable<unknown>((subscriber) => {
    let inner: Subscription | undefined;
    settled
      .then((res) => {
        if (subscriber.closed) {
          destroyStreamableFile(res);
          return;
        }
        // Nest flattens only its own rxjs's Observables and native Promises (`instanceof`).
        if (res instanceof Observable) inner = res.subscribe(subscriber);
        else if (res instanceof Promise) inner = from(res).subscribe(subscriber);
        else {
          subscriber.next(res);
          subscriber.complete();
        }
      })
      .catch((err: unknown) => {
        if (!subscriber.closed) subscriber.error(err);
      });
    return () => inner?.unsubscribe();
  });
}
