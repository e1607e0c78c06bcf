import { AsyncResource } from 'node:async_hooks';

const INSTALLED = Symbol.for('nest-model-server.asyncResourceBind');

type Bindable = (...args: unknown[]) => unknown;

/**
 * `AsyncResource.bind` and `AsyncResource.prototype.bind` without their deprecated
 * `asyncResource` getter and setter (DEP0172): on Node 20 every call builds both through
 * `util.deprecate`, and Nest calls the static one once per interceptor per request (plus once for
 * the handler), Fastify the instance one once per request body. Profiled at c=32 on /predict,
 * `deprecate` alone was 5.7% of the main thread's CPU. The replacements bind exactly as Node does
 * (the function runs in the resource's async scope, with the caller's `this` unless `thisArg` is
 * given); only the deprecated property is missing. Idempotent; process-wide, installed by the
 * HTTP wiring.
 */
export function installLeanAsyncResourceBind(): void {
  const target = AsyncResource as unknown as Record<symbol, boolean>;
  if (target[INSTALLED]) return;
  target[INSTALLED] = true;
  AsyncResource.bind = function bind<Func extends Bindable>(fn: Func, type?: string, thisArg?: unknown): Func {
    return bindTo(new AsyncResource(type || fn.name || 'bound-anonymous-fn'), fn, thisArg);
  } as typeof AsyncResource.bind;
  AsyncResource.prototype.bind = function bind<Func extends Bindable>(this: AsyncResource, fn: Func, thisArg?: unknown): Func {
    return bindTo(this, fn, thisArg);
  } as typeof AsyncResource.prototype.bind;
}

function bindTo<Func extends Bindable>(resource: AsyncResource, fn: Func, thisArg: unknown): Func {
  if (typeof fn !== 'function') throw new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`);
  const bound = thisArg === undefined
    ? function (this: unknown, ...args: unknown[]) { return resource.runInAsyncScope(fn, this, ...args); }
    : (...args: unknown[]) => resource.runInAsyncScope(fn, thisArg, ...args);
  // Callers that tell callbacks apart by arity (Express error middleware, avvio plugins) see the original's.
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, value: fn.length, writable: false });
  return bound as unknown as Func;
}
