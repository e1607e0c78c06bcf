import type { CallHandler, ContextType, NestInterceptor } from '@nestjs/common';
import { InterceptorsConsumer } from '@nestjs/core/interceptors/interceptors-consumer';
import { defer, from, isObservable, mergeAll, Observable } from 'rxjs';

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
 * returns a Promise of an Observable. The handler's end of the chain is Nest's own
 * `transformDeferred` (handlers returning values, Promises or Observables, client disconnects).
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
    if (i >= interceptors.length) return this.transformDeferred(next);
    const handler: CallHandler = { handle: () => defer(() => step(i + 1)) };
    const intercepted = interceptors[i].intercept(context, handler);
    return isObservable(intercepted) ? intercepted : from(intercepted).pipe(mergeAll());
  };
  return Promise.resolve(defer(() => step(0)));
}
