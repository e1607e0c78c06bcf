import { ForbiddenException, StreamableFile } from '@nestjs/common';
import type { CanActivate, ExecutionContext, PipeTransform } from '@nestjs/common';
import { FORBIDDEN_MESSAGE } from '@nestjs/core/guards/constants';
import { destroyStreamableFile } from '@nestjs/core/helpers/destroy-streamable-file';
import { STATIC_CONTEXT } from '@nestjs/core/injector/constants';
import { ParamsTokenFactory } from '@nestjs/core/pipes/params-token-factory';
import { markRejectedByPipes } from '@nestjs/core/router/rejected-by-pipes';
import { RouterExecutionContext } from '@nestjs/core/router/router-execution-context';
import { onceClosed } from '@nestjs/core/router/router-response-controller';
import { EmptyError, isObservable, lastValueFrom, Observable, Subscription, tap } from 'rxjs';

/*
 * Nest 11's RouterExecutionContext#create, leaner: the same guards, pipes, interceptors and
 * response handling for a plain handler, with no promise or rxjs machinery a request does not use.
 * See installLeanRouterExecution.
 */

const INSTALLED = Symbol.for('nest-model-server.leanRouterExecution');

type Handler = (...args: unknown[]) => unknown;
type Req = Record<PropertyKey, unknown> & { raw?: { socket?: unknown }; socket?: unknown };
type Res = Record<string, unknown> & { raw?: unknown };
type Next = (...args: unknown[]) => unknown;
type Create = RouterExecutionContext['create'];

/** The parts of RouterExecutionContext this file reads: private in Nest's typings, present in 11.2. */
interface NestInternals {
  create: Create;
  getMetadata(instance: object, callback: Handler, methodName: string, moduleKey: string, requestMethod: unknown, contextType: string): {
    argsLength: number;
    paramtypes: unknown[] | undefined;
    getParamsMetadata(moduleKey: string, contextId?: unknown, inquirerId?: string): ParamProperties[];
    httpStatusCode: number;
    responseHeaders: unknown[];
    hasCustomHeaders: boolean;
  };
  reflectSse(callback: Handler): unknown;
  reflectRenderTemplate(callback: Handler): unknown;
  reflectRedirect(callback: Handler): unknown;
  isResponseHandled(instance: object, methodName: string, params: ParamProperties[]): boolean;
  isPipeable(type: unknown): boolean;
  releaseOnceResponseIsOver(files: StreamableFile[], req: unknown, res: unknown): void;
  contextUtils: {
    mergeParamsMetatypes(params: ParamProperties[], paramtypes: unknown[] | undefined): (ParamProperties & { metatype?: unknown })[];
    warnOnMissingParamtypes(instance: object, methodName: string, paramtypes: unknown[] | undefined, pipes: PipeTransform[], params: ParamProperties[]): void;
  };
  pipesContextCreator: { create(instance: object, callback: Handler, moduleKey: string, contextId?: unknown, inquirerId?: string): PipeTransform[] };
  guardsContextCreator: { create(instance: object, callback: Handler, moduleKey: string, contextId?: unknown, inquirerId?: string): CanActivate[] };
  interceptorsContextCreator: { create(instance: object, callback: Handler, moduleKey: string, contextId?: unknown, inquirerId?: string): unknown[] };
  guardsConsumer: { createContext(args: unknown[], instance: object, callback: Handler): ExecutionContext & { setType(type: string): void } };
  interceptorsConsumer: { intercept(interceptors: unknown[], args: unknown[], instance: object, callback: Handler, next: () => Promise<unknown>, type?: string): Promise<unknown> };
  responseController: {
    setStatus(res: unknown, status: number): void;
    setHeaders(res: unknown, headers: unknown[]): void;
    apply(result: unknown, res: unknown, status?: number): Promise<unknown>;
  };
}

interface ParamProperties {
  index: number;
  type: unknown;
  data: unknown;
  pipes: PipeTransform[];
  extractValue: (req: unknown, res: unknown, next: unknown) => unknown;
}

/** One parameter, resolved once per handler: its pipes (global + its own) only when its type is pipeable. */
interface ParamPlan {
  index: number;
  extractValue: ParamProperties['extractValue'];
  /** Body, query, param, files and custom decorators: settled (a Promise awaited) and piped; others (@Req, @Res...) passed as they are. */
  pipeable: boolean;
  pipes: PipeTransform[];
  metatype: unknown;
  type: string;
  data: unknown;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';

const tokens = new ParamsTokenFactory();

/**
 * Replaces RouterExecutionContext#create (process-wide, idempotent) with {@link leanCreate}.
 * Installed by the HTTP wiring before the app is created, like the lean interceptor chain.
 *
 * Per request, Nest 11.2 builds for every route: an async function for the guards plus
 * GuardsConsumer's, an async function per parameter plus a Promise.all and PipesConsumer's
 * reduce over promises, an async handler thunk, and, in the response step, a ReplaySubject, a
 * switchMap/tap chain and a takeUntil around the result that only matter when the handler itself
 * returns an Observable (to stop it when the client goes away). An allocation-sampling profile of
 * iris /predict put @nestjs/core at 15 KB and rxjs at 9 KB of the ~80 KB a request allocates.
 *
 * Here guards run synchronously until one returns a Promise or Observable; pipes run synchronously
 * until one returns a Promise; and the client-disconnect watch is set up only once the handler has
 * returned an Observable (or, with no interceptors, when the result is one), with the same
 * teardown: the stream is unsubscribed, nothing is sent, and StreamableFiles are destroyed.
 * Handlers with @Sse(), @Render(), @Redirect() or @Res()/@Next() (without passthrough) keep Nest's
 * own create. lean-router-execution.spec.ts runs one table of behaviours on both implementations.
 */
export function installLeanRouterExecution(): void {
  const proto = RouterExecutionContext.prototype as unknown as NestInternals & Record<symbol, Create | undefined>;
  if (proto[INSTALLED]) return;
  const required = ['getMetadata', 'reflectSse', 'reflectRenderTemplate', 'reflectRedirect', 'isResponseHandled', 'isPipeable', 'releaseOnceResponseIsOver'] as const;
  // Another Nest version with other internals keeps its own implementation.
  if (required.some((name) => typeof proto[name] !== 'function')) return;
  const nestCreate = proto.create;
  proto[INSTALLED] = nestCreate;
  proto.create = function create(this: NestInternals, ...args: Parameters<Create>) {
    return leanCreate.call(this, nestCreate, ...args);
  } as Create;
}

/** Puts Nest's own RouterExecutionContext#create back (for tests comparing both). */
export function uninstallLeanRouterExecution(): void {
  const proto = RouterExecutionContext.prototype as unknown as NestInternals & Record<symbol, Create | undefined>;
  const nestCreate = proto[INSTALLED];
  if (!nestCreate) return;
  proto.create = nestCreate;
  proto[INSTALLED] = undefined;
}

function leanCreate(
  this: NestInternals,
  nestCreate: Create,
  instance: object,
  callback: Handler,
  methodName: string,
  moduleKey: string,
  requestMethod: unknown,
  contextId: unknown = STATIC_CONTEXT,
  inquirerId?: string,
): (req: Req, res: Res, next: Next) => Promise<unknown> {
  const fallback = (): ReturnType<typeof leanCreate> =>
    (nestCreate as unknown as (...a: unknown[]) => ReturnType<typeof leanCreate>).call(this, instance, callback, methodName, moduleKey, requestMethod, contextId, inquirerId);
  if (this.reflectSse(callback) || this.reflectRenderTemplate(callback) || this.reflectRedirect(callback)) return fallback();
  const { argsLength, paramtypes, getParamsMetadata, httpStatusCode, responseHeaders, hasCustomHeaders } = this.getMetadata(instance, callback, methodName, moduleKey, requestMethod, 'http');
  if (this.isResponseHandled(instance, methodName, getParamsMetadata(moduleKey))) return fallback();

  const paramsOptions = this.contextUtils.mergeParamsMetatypes(getParamsMetadata(moduleKey, contextId, inquirerId), paramtypes);
  const pipes = this.pipesContextCreator.create(instance, callback, moduleKey, contextId, inquirerId);
  this.contextUtils.warnOnMissingParamtypes(instance, methodName, paramtypes, pipes, paramsOptions.filter(({ type }) => this.isPipeable(type)));
  const guards = this.guardsContextCreator.create(instance, callback, moduleKey, contextId, inquirerId);
  const interceptors = this.interceptorsContextCreator.create(instance, callback, moduleKey, contextId, inquirerId);
  const hasInterceptors = interceptors.length > 0;
  const params: ParamPlan[] = paramsOptions.map((p) => ({
    index: p.index,
    extractValue: p.extractValue,
    pipeable: this.isPipeable(p.type),
    pipes: this.isPipeable(p.type) ? pipes.concat(p.pipes) : [],
    metatype: p.metatype,
    type: tokens.exchangeEnumForString(p.type as never) as string,
    data: p.data,
  }));

  const { guardsConsumer, interceptorsConsumer, responseController } = this;
  const router = this;

  return function lean(req: Req, res: Res, next: Next): Promise<unknown> {
    try {
      const requestArgs = [req, res, next];
      const activated = guards.length ? activate(guards, guardsConsumer.createContext(requestArgs, instance, callback)) : true;
      if (activated === true) return afterGuards(req, res, next, requestArgs);
      if (activated === false) throw new ForbiddenException(FORBIDDEN_MESSAGE);
      return activated.then((ok) => {
        if (!ok) throw new ForbiddenException(FORBIDDEN_MESSAGE);
        return afterGuards(req, res, next, requestArgs);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  };

  function afterGuards(req: Req, res: Res, next: Next, requestArgs: unknown[]): Promise<unknown> {
    responseController.setStatus(res, httpStatusCode);
    if (hasCustomHeaders) responseController.setHeaders(res, responseHeaders);
    const args = new Array<unknown>(argsLength).fill(undefined);
    const call: CallState = { handlerFiles: [], onHandlerObservable: undefined };
    const handler = async (): Promise<unknown> => {
      let pending: Promise<unknown> | undefined;
      try {
        pending = params.length ? applyPipes(params, args, req, res, next) : undefined;
        if (pending) await pending;
      } catch (err) {
        // e.g. for upload interceptors to remove the files they stored
        markRejectedByPipes(req);
        throw err;
      }
      const result = callback.apply(instance, args);
      if (!hasInterceptors) return result;
      // Settled here, so that an Observable a promise resolves to is tapped like one the handler returns as it is.
      const value = isThenable(result) ? await result : result;
      if (!isObservable(value)) return value;
      call.onHandlerObservable?.();
      return value.pipe(tap((emitted) => emitted instanceof StreamableFile && call.handlerFiles.push(emitted)));
    };
    return interceptorsConsumer
      .intercept(interceptors, requestArgs, instance, callback, handler, 'http')
      .then((result) => respond(result, req, res, call));
  }

  async function respond(result: unknown, req: Req, res: Res, call: CallState): Promise<unknown> {
    let value = result;
    if (isObservable(result)) {
      const outcome = await lastValueOrDisconnect(result, req, res, call, !hasInterceptors);
      if (outcome.disconnected) {
        // Nothing is sent to a client that is gone; files that would have been sent are released.
        [outcome.value, ...call.handlerFiles].forEach(destroyStreamableFile);
        return res;
      }
      value = outcome.value;
    }
    router.releaseOnceResponseIsOver(call.handlerFiles.filter((file) => file !== value), req, res);
    try {
      await responseController.apply(value, res, undefined);
    } catch (err) {
      [value, ...call.handlerFiles].forEach(destroyStreamableFile);
      throw err;
    }
    return res;
  }
}

/** What one request's handler reports to its response step. */
interface CallState {
  handlerFiles: StreamableFile[];
  /** Set by the response step: the handler returned an Observable, so start watching the client. */
  onHandlerObservable: (() => void) | undefined;
}

/**
 * Runs the guards in order on one context, synchronously while they answer booleans: true/false
 * when all did, else a Promise of the outcome (GuardsConsumer#tryActivate's rules: a guard may
 * answer a boolean, a Promise or an Observable; the first false stops).
 */
function activate(guards: CanActivate[], context: ExecutionContext & { setType(type: string): void }, from = 0): boolean | Promise<boolean> {
  if (from === 0) context.setType('http');
  for (let i = from; i < guards.length; i += 1) {
    const result = guards[i].canActivate(context);
    if (typeof result === 'boolean') {
      if (!result) return false;
      continue;
    }
    return settleGuard(result).then((ok) => (ok ? activate(guards, context, i + 1) : false));
  }
  return true;
}

async function settleGuard(result: Promise<boolean> | Observable<boolean>): Promise<boolean> {
  // isObservable also recognises an Observable of another copy of rxjs.
  const value: unknown = await result;
  return isObservable(value) ? Boolean(await lastValueFrom(value)) : Boolean(value);
}

/**
 * Every parameter's value through its pipes, into `args`, in Nest's order: every value is read
 * first (a throwing extractor is the error, whatever the pipes would say), then each pipeable
 * parameter is settled (a custom decorator may answer a Promise) and goes through its pipes in
 * order, each pipe on the settled value of the previous and with a metadata object of its own
 * (PipesConsumer's rules). Synchronous while everything answers values; a Promise when something
 * answered one. When a pipe fails, the other parameters still go through theirs, as under Nest's
 * Promise.all, and the first failure answers (their rejections are observed, never unhandled).
 */
function applyPipes(params: ParamPlan[], args: unknown[], req: unknown, res: unknown, next: unknown): Promise<unknown> | undefined {
  const values = new Array<unknown>(params.length);
  let extraction: { error: unknown } | undefined;
  for (let k = 0; k < params.length; k += 1) {
    try {
      values[k] = params[k].extractValue(req, res, next);
    } catch (error) {
      extraction ??= { error };
    }
  }
  if (extraction) throw extraction.error;
  let pending: Promise<unknown>[] | undefined;
  let failure: { error: unknown } | undefined;
  for (let k = 0; k < params.length; k += 1) {
    const p = params[k];
    if (!p.pipeable) {
      args[p.index] = values[k];
      continue;
    }
    let settled: unknown;
    try {
      settled = pipeValue(p, values[k], 0);
    } catch (error) {
      failure ??= { error };
      continue;
    }
    if (isThenable(settled)) (pending ??= []).push(Promise.resolve(settled).then((v) => (args[p.index] = v)));
    else args[p.index] = settled;
  }
  if (failure) {
    for (const promise of pending ?? []) promise.catch(() => undefined);
    throw failure.error;
  }
  return pending && Promise.all(pending);
}

function pipeValue(p: ParamPlan, value: unknown, from: number): unknown {
  let v = value;
  for (let i = from; i < p.pipes.length; i += 1) {
    if (isThenable(v)) return Promise.resolve(v).then((settled) => pipeValue(p, settled, i));
    v = p.pipes[i].transform(v, { metatype: p.metatype, type: p.type, data: p.data } as never);
  }
  return isThenable(v) ? Promise.resolve(v) : v;
}

/**
 * The last value of `result$` (lastValueFrom's rules: an error rejects, completing with no value
 * rejects with EmptyError), or `{disconnected}` when the client goes away while the handler's own
 * Observable runs: watching starts at once when `watchNow` (the result is the handler's
 * Observable), else when the handler reports that it returned one. On disconnect the subscription
 * is torn down, as Nest's takeUntil does.
 */
function lastValueOrDisconnect(result$: Observable<unknown>, req: Req, res: Res, call: CallState, watchNow: boolean): Promise<{ disconnected: boolean; value: unknown }> {
  return new Promise((resolve, reject) => {
    let last: unknown;
    let has = false;
    let done = false;
    let stopWatching: (() => void) | undefined;
    let subscription: Subscription | undefined;
    const finish = (): void => {
      done = true;
      stopWatching?.();
      call.onHandlerObservable = undefined;
    };
    const watch = (): void => {
      if (done || stopWatching) return;
      stopWatching = watchClient(req, res, () => {
        if (done) return;
        finish();
        subscription?.unsubscribe();
        resolve({ disconnected: true, value: has ? last : undefined });
      });
    };
    if (watchNow) {
      watch();
      if (done) return;
    } else {
      call.onHandlerObservable = watch;
    }
    subscription = result$.subscribe({
      next: (v) => {
        last = v;
        has = true;
      },
      error: (err: unknown) => {
        if (done) return;
        finish();
        reject(err);
      },
      complete: () => {
        if (done) return;
        finish();
        if (has) resolve({ disconnected: false, value: last });
        else reject(new EmptyError());
      },
    });
    // The client was already gone when the handler returned its Observable, during subscribe.
    if (done && subscription) subscription.unsubscribe();
  });
}

/** Calls `onClose` once the client connection closes (at once if it has): the source Nest's router watches. Returns a stop function. */
function watchClient(req: Req, res: Res, onClose: () => void): (() => void) | undefined {
  const source = ((req?.raw ?? req) as { socket?: unknown })?.socket ?? res?.raw ?? res;
  if (typeof (source as { once?: unknown })?.once !== 'function') return undefined;
  if ((source as { destroyed?: boolean }).destroyed) {
    onClose();
    return undefined;
  }
  return onceClosed(source as never, onClose);
}
