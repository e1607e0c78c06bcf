import {
  ArgumentMetadata,
  BadRequestException,
  Body,
  CallHandler,
  CanActivate,
  ConflictException,
  Controller,
  createParamDecorator,
  ExecutionContext,
  Get,
  Header,
  HttpCode,
  HttpException,
  INestApplication,
  Injectable,
  NestInterceptor,
  NotFoundException,
  OnModuleInit,
  Param,
  ParseIntPipe,
  PipeTransform,
  Post,
  Query,
  Res,
  Scope,
  Sse,
  StreamableFile,
  UnauthorizedException,
  UseGuards,
  UseInterceptors,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { isRejectedByPipes } from '@nestjs/core/router/rejected-by-pipes';
import { RouterExecutionContext } from '@nestjs/core/router/router-execution-context';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { IsInt, IsString, Min } from 'class-validator';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { catchError, EMPTY, map, Observable, of, throwError } from 'rxjs';

import { installLeanRouterExecution, uninstallLeanRouterExecution } from './lean-router-execution';

/** Nest's own implementation, kept before anything installs the lean one. */
const nestCreate = RouterExecutionContext.prototype.create;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** What the routes, guards, pipes and interceptors of the apps saw: reset before each test (tests run one at a time). */
const probe = {
  calls: [] as string[],
  rejectedByPipes: [] as boolean[],
  contexts: [] as Array<{ handler: unknown; cls: unknown; type: string }>,
  pipeMetadata: [] as ArgumentMetadata[],
  subscribed: deferred(),
  tornDown: deferred(),
  fileDestroyed: deferred(),
  socket: undefined as Socket | undefined,
  instances: [] as object[],
};

const ran = <T>(value: T): T => {
  probe.calls.push('handler');
  return value;
};

// ---- guards, pipes and interceptors --------------------------------------------------------

const guard = (name: string, answer: () => boolean | Promise<boolean> | Observable<boolean>): CanActivate => ({
  canActivate: (context: ExecutionContext) => {
    probe.calls.push(`${name}:${context.getType()}`);
    probe.contexts.push({ handler: context.getHandler(), cls: context.getClass(), type: context.getType() });
    return answer();
  },
});

const append = (tag: string): PipeTransform => ({ transform: (value: unknown) => `${String(value)}>${tag}` });
const appendAsync = (tag: string): PipeTransform => ({ transform: async (value: unknown) => `${String(value)}>${tag}` });
const refuse = (message: string): PipeTransform => ({
  transform: () => {
    throw new BadRequestException(message);
  },
});
const refuseAsync = (message: string): PipeTransform => ({ transform: async () => Promise.reject(new BadRequestException(message)) });
const recordMetadata: PipeTransform = {
  transform: (value: unknown, metadata: ArgumentMetadata) => {
    probe.pipeMetadata.push(metadata);
    return value;
  },
};
/** A pipe of PipesController: runs before the route's and the parameter's own. */
const trimStrings: PipeTransform = { transform: (value: unknown) => (typeof value === 'string' ? value.trim() : value) };

const passThrough: NestInterceptor = { intercept: (_context, next) => next.handle() };
const wrapValue: NestInterceptor = { intercept: (_context, next) => next.handle().pipe(map((value: unknown) => ({ wrapped: value }))) };
const shortCircuit: NestInterceptor = { intercept: () => of('short') };
const recover: NestInterceptor = {
  intercept: (_context, next) => next.handle().pipe(catchError((err: Error) => of({ recovered: err.message }))),
};
const recordContext: NestInterceptor = {
  intercept: (context, next) => {
    probe.contexts.push({ handler: context.getHandler(), cls: context.getClass(), type: context.getType() });
    return next.handle();
  },
};
/** Records, for a request that failed, whether the router marked it as rejected by its pipes. */
const recordRejection: NestInterceptor = {
  intercept: (context: ExecutionContext, next: CallHandler) => {
    const req = context.switchToHttp().getRequest<object>();
    return next.handle().pipe(
      catchError((err: unknown) => {
        probe.rejectedByPipes.push(isRejectedByPipes(req));
        return throwError(() => err);
      }),
    );
  },
};

const RequestHeader = createParamDecorator((name: string, context: ExecutionContext) => context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers[name]);
/** A custom param decorator whose factory answers a Promise. */
const ThrowingDecorator = createParamDecorator((message: string): never => {
  throw new BadRequestException(message);
});
const AsyncRequestHeader = createParamDecorator(async (name: string, context: ExecutionContext) => context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers[name]);

class ItemDto {
  @IsString()
  name: string;

  @IsInt()
  @Min(1)
  count: number;
}

/** An Observable that emits nothing until the client goes away, and says when it is subscribed to and torn down. */
const untilClientLeaves = (): Observable<never> =>
  new Observable<never>(() => {
    probe.subscribed.resolve();
    return () => probe.tornDown.resolve();
  });

/** A StreamableFile of a stream that never ends on its own, and says when it is destroyed. */
const watchedFile = (): StreamableFile =>
  new StreamableFile(
    new Readable({
      read() {},
      destroy(err, callback) {
        probe.fileDestroyed.resolve();
        callback(err);
      },
    }),
  );

/** Records the socket of the request (Fastify's request wraps Node's). */
const recordSocket: CanActivate = {
  canActivate: (context: ExecutionContext) => {
    const req = context.switchToHttp().getRequest<{ socket?: Socket; raw?: { socket: Socket } }>();
    probe.socket = req.raw?.socket ?? req.socket;
    return true;
  },
};

const replaceWith = (value: unknown): NestInterceptor => ({ intercept: (_context, next) => next.handle().pipe(map(() => value)) });

/** An Observable that emits a file, then nothing until the client goes away. */
const fileUntilClientLeaves = (): Observable<StreamableFile> =>
  new Observable<StreamableFile>((subscriber) => {
    subscriber.next(watchedFile());
    probe.subscribed.resolve();
    return () => probe.tornDown.resolve();
  });

// ---- controllers ---------------------------------------------------------------------------

@Controller('values')
class ValuesController {
  @Get('plain')
  plain() {
    return { from: 'plain' };
  }

  @Get('promise')
  promise() {
    return Promise.resolve({ from: 'promise' });
  }

  @Get('observable')
  observable() {
    return of({ from: 'first' }, { from: 'observable' });
  }

  @Get('promise-of-observable')
  async promiseOfObservable() {
    return of({ from: 'promise-of-observable' });
  }

  @Get('text')
  text() {
    return 'plain text';
  }

  @Post('echo')
  echo(@Body() body: unknown) {
    return body;
  }

  @Post('accepted')
  @HttpCode(202)
  @Header('X-Custom', 'v')
  accepted() {
    return { accepted: true };
  }

  @Get('async-decorator')
  asyncDecorator(@AsyncRequestHeader('x-user') user: unknown) {
    return { user, isPromise: user instanceof Promise };
  }

  @Get('passthrough')
  passthrough(@Res({ passthrough: true }) res: { header(name: string, value: string): unknown }) {
    res.header('X-Passthrough', 'yes');
    return { passthrough: true };
  }
}

@Controller('guards')
class GuardsController {
  @Get('allow')
  @UseGuards(guard('allow', () => true))
  allow() {
    return ran({ ran: true });
  }

  @Get('allow-promise')
  @UseGuards(guard('allow', () => Promise.resolve(true)))
  allowPromise() {
    return ran({ ran: true });
  }

  @Get('allow-observable')
  @UseGuards(guard('allow', () => of(true)))
  allowObservable() {
    return ran({ ran: true });
  }

  @Get('deny')
  @UseGuards(guard('deny', () => false))
  deny() {
    return ran({ ran: true });
  }

  @Get('deny-promise')
  @UseGuards(guard('deny', () => Promise.resolve(false)))
  denyPromise() {
    return ran({ ran: true });
  }

  @Get('deny-observable')
  @UseGuards(guard('deny', () => of(false)))
  denyObservable() {
    return ran({ ran: true });
  }

  @Get('unauthorized')
  @UseGuards(
    guard('throw', () => {
      throw new UnauthorizedException();
    }),
  )
  unauthorized() {
    return ran({ ran: true });
  }

  @Get('context')
  @UseGuards(guard('context', () => true), guard('context', () => true))
  context() {
    return ran({ ran: true });
  }

  @Get('ordered')
  @UseGuards(guard('first', () => true), guard('second', () => Promise.resolve(true)), guard('third', () => false), guard('fourth', () => true))
  ordered() {
    return ran({ ran: true });
  }

  @Get('ordered-async')
  @UseGuards(guard('first', () => of(true)), guard('second', () => Promise.resolve(false)), guard('third', () => true))
  orderedAsync() {
    return ran({ ran: true });
  }
}

@Controller('pipes')
@UseInterceptors(recordRejection)
@UsePipes(trimStrings)
class PipesController {
  @Get('chain/:id')
  @UsePipes(append('route'))
  chain(@Param('id', append('sync'), appendAsync('async'), append('last')) id: string, @Query('q', appendAsync('query')) q: string) {
    return ran({ id, q });
  }

  @Post('body')
  body(@Body('name', appendAsync('async'), append('sync')) name: string, @Query('q') q: string) {
    return ran({ name, q });
  }

  @Get('int/:n')
  int(@Param('n', ParseIntPipe) n: number) {
    return ran({ n, type: typeof n });
  }

  @Get('refused/:id')
  refused(@Param('id', refuse('bad id')) id: string) {
    return ran({ id });
  }

  @Get('refused-async/:id')
  refusedAsync(@Query('q') q: string, @Param('id', append('first'), refuseAsync('bad id, later')) id: string) {
    return ran({ id, q });
  }

  @Post('metadata/:id')
  metadata(
    @Param('id', recordMetadata) id: string,
    @Query('n', recordMetadata) n: number,
    @Body(recordMetadata) item: ItemDto,
    @RequestHeader('x-user', recordMetadata) user: string,
  ) {
    return ran({ id, n, item, user });
  }

  @Get('handler-error')
  handlerError() {
    ran(undefined);
    throw new ConflictException('from the handler');
  }

  @Post('validated')
  @UsePipes(new ValidationPipe({ transform: true }))
  validated(@Body() item: ItemDto) {
    return ran({ name: item.name, count: item.count, isDto: item instanceof ItemDto });
  }

  @Get('custom')
  custom(@RequestHeader('x-user') user: string, @RequestHeader('x-team', append('piped')) team: string) {
    return ran({ user, team });
  }
}

@Controller('intercepted')
class InterceptedController {
  @Get('wrapped')
  @UseInterceptors(wrapValue)
  wrapped() {
    return { n: 1 };
  }

  @Get('wrapped-observable')
  @UseInterceptors(wrapValue)
  wrappedObservable() {
    return of({ n: 2 });
  }

  @Get('short')
  @UseInterceptors(shortCircuit)
  short() {
    return ran('from the handler');
  }

  @Get('recovered')
  @UseInterceptors(recover)
  recovered() {
    throw new Error('thrown');
  }

  @Get('recovered-async')
  @UseInterceptors(recover)
  async recoveredAsync() {
    throw new Error('rejected');
  }

  @Get('recovered-observable')
  @UseInterceptors(recover)
  recoveredObservable() {
    return throwError(() => new Error('errored'));
  }

  @Get('context')
  @UseInterceptors(recordContext, recordContext)
  context() {
    return { ok: true };
  }
}

@Controller('errors')
class ErrorsController {
  @Get('http')
  http() {
    throw new ConflictException('taken');
  }

  @Get('custom-body')
  customBody() {
    throw new HttpException({ code: 'teapot', detail: 'short and stout' }, 418);
  }

  @Get('plain')
  plain() {
    throw new Error('boom');
  }

  @Get('with-header')
  @Header('X-Custom', 'v')
  withHeader() {
    throw new ConflictException('taken');
  }

  @Get('rejected')
  async rejected() {
    throw new Error('boom');
  }

  @Get('observable-error')
  observableError() {
    return throwError(() => new NotFoundException('gone'));
  }

  @Get('empty')
  empty() {
    return EMPTY;
  }

  @Get('empty-intercepted')
  @UseInterceptors(passThrough)
  emptyIntercepted() {
    return EMPTY;
  }
}

@Controller('streams')
class StreamsController {
  @Get('until-client-leaves')
  untilClientLeaves() {
    return untilClientLeaves();
  }

  @Get('until-client-leaves-intercepted')
  @UseInterceptors(passThrough)
  untilClientLeavesIntercepted() {
    return untilClientLeaves();
  }

  @Get('until-client-leaves-async')
  async untilClientLeavesAsync() {
    return untilClientLeaves();
  }

  @Get('until-client-leaves-async-intercepted')
  @UseInterceptors(passThrough)
  async untilClientLeavesAsyncIntercepted() {
    return untilClientLeaves();
  }

  @Get('file')
  file() {
    return new StreamableFile(Buffer.from('file bytes'), { type: 'application/octet-stream' });
  }

  @Get('file-stream')
  fileStream() {
    return new StreamableFile(Readable.from(['streamed ', 'bytes']));
  }

  @Get('file-observable')
  @UseInterceptors(passThrough)
  fileObservable() {
    return of(new StreamableFile(Buffer.from('observed bytes')));
  }

  @Get('file-replaced')
  @UseInterceptors(replaceWith({ replaced: true }))
  fileReplaced() {
    return of(watchedFile());
  }

  @Get('file-until-client-leaves')
  fileUntilClientLeaves() {
    return fileUntilClientLeaves();
  }

  @Get('file-until-client-leaves-intercepted')
  @UseInterceptors(passThrough)
  fileUntilClientLeavesIntercepted() {
    return fileUntilClientLeaves();
  }

  @Get('plain-watched')
  @UseGuards(recordSocket)
  plainWatched() {
    return { watched: true };
  }

  @Get('observable-watched')
  @UseGuards(recordSocket)
  observableWatched() {
    return of({ watched: true });
  }

  @Get('observable-watched-intercepted')
  @UseGuards(recordSocket)
  @UseInterceptors(passThrough)
  observableWatchedIntercepted() {
    return of({ watched: true });
  }

  @Get('by-hand')
  byHand(@Res() res: { status(code: number): { send(body: string): void } }) {
    res.status(200).send('sent by hand');
  }

  @Sse('events')
  events() {
    return of({ data: 'hello' }, { data: 'world' });
  }
}

/** Booted on its own app by its test (see there). */
@Controller('race')
@UseInterceptors(recordRejection)
class PipeRaceController {
  // Nest reads the parameters last first: the async pipe of `a` is pending when the sync pipe of `b` throws.
  @Get('refused-both')
  refusedBoth(@Query('b', refuse('b refused')) b: string, @Query('a', refuseAsync('a refused')) a: string) {
    return ran({ a, b });
  }

  // Every value is read before any pipe runs: the throwing decorator answers, not the pipe before it.
  @Get('extractor-first')
  extractorFirst(@Query('b', refuse('pipe refused')) b: string, @ThrowingDecorator('decorator refused') x: unknown) {
    return ran({ b, x });
  }
}

/** Request-scoped: its handlers are created per request, with the request's context id. */
@Controller({ path: 'scoped', scope: Scope.REQUEST })
@UseInterceptors(wrapValue)
class ScopedController {
  @Get(':id')
  @UseGuards(guard('scoped', () => Promise.resolve(true)))
  get(@Param('id', ParseIntPipe, appendAsync('async')) id: string) {
    probe.instances.push(this);
    return ran({ id });
  }
}

/** Which RouterExecutionContext#create was in place while the app was initialised (its routes are built before onModuleInit). */
@Injectable()
class InitProbe implements OnModuleInit {
  createAtInit: unknown;

  onModuleInit(): void {
    this.createAtInit = RouterExecutionContext.prototype.create;
  }
}

// ---- the apps and a client ---------------------------------------------------------------

type AdapterName = 'fastify' | 'express';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers that differ from one response to the next whatever the router does. */
const VOLATILE_HEADERS = new Set(['date', 'connection', 'keep-alive']);

/** Every answer, by implementation, then by adapter and request, for the comparison at the end. */
const answers = new Map<boolean, Map<string, Answer>>([
  [false, new Map()],
  [true, new Map()],
]);

const ALL_CONTROLLERS = [ValuesController, GuardsController, PipesController, InterceptedController, ErrorsController, StreamsController, ScopedController];

/** A Nest app of `controllers` on `adapter`, listening on 127.0.0.1, with whichever create is installed. */
async function boot(adapter: AdapterName, controllers: Array<new (...args: never[]) => unknown> = ALL_CONTROLLERS): Promise<{ app: INestApplication; port: number; createAtInit: unknown }> {
  const moduleRef = await Test.createTestingModule({ controllers, providers: [InitProbe] }).compile();
  const app = moduleRef.createNestApplication(adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, port, createAtInit: app.get(InitProbe).createAtInit };
}

async function send(port: number, method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(init.body !== undefined && { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const headers = Object.fromEntries([...response.headers].filter(([name]) => !VOLATILE_HEADERS.has(name)));
  return { status: response.status, headers, body: await response.text() };
}

const json = (answer: Answer): unknown => JSON.parse(answer.body);

/** A GET through `agent` (node:http), to control which connection it goes on. */
function getOn(agent: Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeEach(() => {
  probe.calls = [];
  probe.rejectedByPipes = [];
  probe.contexts = [];
  probe.pipeMetadata = [];
  probe.subscribed = deferred();
  probe.tornDown = deferred();
  probe.fileDestroyed = deferred();
  probe.socket = undefined;
  probe.instances = [];
});

afterAll(() => uninstallLeanRouterExecution());

describe.each([
  ['Nest 11 RouterExecutionContext', false],
  ['lean', true],
])('router execution: %s', (_name, lean) => {
  // Installed for the apps of this implementation only: request-scoped handlers are created per request.
  beforeAll(() => {
    if (lean) installLeanRouterExecution();
  });

  afterAll(() => uninstallLeanRouterExecution());

  describe.each<AdapterName>(['fastify', 'express'])('on %s', (adapter) => {
    let app: INestApplication;
    let port: number;
    let createAtInit: unknown;

    /** Sends a request to this app, and keeps the answer for the comparison of both implementations. */
    const call = async (method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> => {
      const answer = await send(port, method, path, init);
      answers.get(lean)!.set(`${adapter} ${method} ${path} ${JSON.stringify(init)}`, answer);
      return answer;
    };

    beforeAll(async () => {
      ({ app, port, createAtInit } = await boot(adapter));
    });

    afterAll(async () => {
      await app?.close();
    });

    it(`initialises its routes with ${lean ? 'the lean' : "Nest's own"} create`, () => {
      // Assert
      if (lean) expect(createAtInit).not.toBe(nestCreate);
      else expect(createAtInit).toBe(nestCreate);
    });

    describe('handler results', () => {
      it.each([
        ['a plain value', '/values/plain', { from: 'plain' }],
        ['a Promise', '/values/promise', { from: 'promise' }],
        ['an Observable (its last value)', '/values/observable', { from: 'observable' }],
        ['a Promise of an Observable', '/values/promise-of-observable', { from: 'promise-of-observable' }],
      ])('answers 200 with %s', async (_what, path, expected) => {
        // Act
        const answer = await call('GET', path);

        // Assert
        expect(answer.status).toBe(200);
        expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(json(answer)).toEqual(expected);
      });

      it('answers a string as text', async () => {
        // Act
        const answer = await call('GET', '/values/text');

        // Assert
        expect(answer.status).toBe(200);
        expect(answer.body).toBe('plain text');
      });

      it('answers a POST with 201 and the @Body it got', async () => {
        // Act
        const answer = await call('POST', '/values/echo', { body: { hello: 'world', n: [1, 2] } });

        // Assert
        expect(answer.status).toBe(201);
        expect(json(answer)).toEqual({ hello: 'world', n: [1, 2] });
      });

      it('applies @HttpCode and @Header', async () => {
        // Act
        const answer = await call('POST', '/values/accepted');

        // Assert
        expect(answer.status).toBe(202);
        expect(answer.headers['x-custom']).toBe('v');
        expect(json(answer)).toEqual({ accepted: true });
      });

      it('hands the handler what the Promise of a custom param decorator resolves to, with no pipes', async () => {
        // Act
        const answer = await call('GET', '/values/async-decorator', { headers: { 'x-user': 'ada' } });

        // Assert
        expect(answer.status).toBe(200);
        expect(json(answer)).toEqual({ user: 'ada', isPromise: false });
      });

      it('keeps the headers a @Res({ passthrough: true }) handler sets, and sends what it returns', async () => {
        // Act
        const answer = await call('GET', '/values/passthrough');

        // Assert
        expect(answer.status).toBe(200);
        expect(answer.headers['x-passthrough']).toBe('yes');
        expect(json(answer)).toEqual({ passthrough: true });
      });
    });

    describe('guards', () => {
      const forbidden = { message: 'Forbidden resource', error: 'Forbidden', statusCode: 403 };

      it.each([
        ['returns true', '/guards/allow'],
        ['returns Promise<true>', '/guards/allow-promise'],
        ['returns an Observable of true', '/guards/allow-observable'],
      ])('runs the handler when the guard %s', async (_what, path) => {
        // Act
        const answer = await call('GET', path);

        // Assert
        expect(answer.status).toBe(200);
        expect(json(answer)).toEqual({ ran: true });
        expect(probe.calls).toEqual(['allow:http', 'handler']);
      });

      it.each([
        ['returns false', '/guards/deny'],
        ['returns Promise<false>', '/guards/deny-promise'],
        ['returns an Observable of false', '/guards/deny-observable'],
      ])("answers 403 with Nest's body, without running the handler, when the guard %s", async (_what, path) => {
        // Act
        const answer = await call('GET', path);

        // Assert
        expect(answer.status).toBe(403);
        expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(json(answer)).toEqual(forbidden);
        expect(probe.calls).toEqual(['deny:http']);
      });

      it("answers the status of the HttpException a guard throws, without running the handler", async () => {
        // Act
        const answer = await call('GET', '/guards/unauthorized');

        // Assert
        expect(answer.status).toBe(401);
        expect(json(answer)).toEqual({ message: 'Unauthorized', statusCode: 401 });
        expect(probe.calls).toEqual(['throw:http']);
      });

      it('gives every guard an http ExecutionContext of the handler and its class', async () => {
        // Act
        const answer = await call('GET', '/guards/context');

        // Assert
        expect(answer.status).toBe(200);
        const expected = { handler: GuardsController.prototype.context, cls: GuardsController, type: 'http' };
        expect(probe.contexts).toEqual([expected, expected]);
      });

      it.each([
        ['sync and async guards', '/guards/ordered', ['first:http', 'second:http', 'third:http']],
        ['Observable and Promise guards', '/guards/ordered-async', ['first:http', 'second:http']],
      ])('runs %s in order, and stops at the first that refuses', async (_what, path, calls) => {
        // Act
        const answer = await call('GET', path);

        // Assert
        expect(answer.status).toBe(403);
        expect(json(answer)).toEqual(forbidden);
        expect(probe.calls).toEqual(calls);
      });
    });

    describe('pipes', () => {
      it('runs the controller, route and parameter pipes in order, each on the output of the one before, sync or async', async () => {
        // Act
        const answer = await call('GET', '/pipes/chain/x?q=%20hi%20');

        // Assert
        expect(answer.status).toBe(200);
        expect(json(answer)).toEqual({ id: 'x>route>sync>async>last', q: 'hi>route>query' });
      });

      it('transforms a @Body property through async then sync pipes', async () => {
        // Act
        const answer = await call('POST', '/pipes/body?q=%20query%20', { body: { name: ' ada ' } });

        // Assert
        expect(answer.status).toBe(201);
        expect(json(answer)).toEqual({ name: 'ada>async>sync', q: 'query' });
      });

      it('hands the handler what ParseIntPipe made of a @Param', async () => {
        // Act
        const answer = await call('GET', '/pipes/int/42');

        // Assert
        expect(answer.status).toBe(200);
        expect(json(answer)).toEqual({ n: 42, type: 'number' });
      });

      it.each([
        ['ParseIntPipe refuses a @Param', '/pipes/int/abc', 'Validation failed (numeric string is expected)'],
        ['a pipe throws', '/pipes/refused/x', 'bad id'],
        ['an async pipe rejects after another pipe', '/pipes/refused-async/x?q=1', 'bad id, later'],
      ])('answers 400, marks the request as rejected by pipes and does not run the handler when %s', async (_what, path, message) => {
        // Act
        const answer = await call('GET', path);

        // Assert
        expect(answer.status).toBe(400);
        expect(json(answer)).toEqual({ message, error: 'Bad Request', statusCode: 400 });
        expect(probe.calls).toEqual([]);
        expect(probe.rejectedByPipes).toEqual([true]);
      });

      it('answers 400, leaving no unhandled rejection, when an async pipe and a later sync pipe both refuse', async () => {
        // Arrange: an app of its own, booted here so that jest pins a rejection nothing handles on this test.
        const race = await boot(adapter, [PipeRaceController]);

        try {
          // Act
          const answer = await send(race.port, 'GET', '/race/refused-both?a=1&b=2');

          // Assert
          expect(answer.status).toBe(400);
          expect(json(answer)).toEqual({ message: 'b refused', error: 'Bad Request', statusCode: 400 });
          expect(probe.calls).toEqual([]);
          expect(probe.rejectedByPipes).toEqual([true]);
        } finally {
          await race.app.close();
        }
      });

      it('answers the error of a throwing param decorator before any pipe error, as every value is read first', async () => {
        // Arrange
        const race = await boot(adapter, [PipeRaceController]);

        try {
          // Act
          const answer = await send(race.port, 'GET', '/race/extractor-first?b=2');

          // Assert
          expect(answer.status).toBe(400);
          expect(json(answer)).toEqual({ message: 'decorator refused', error: 'Bad Request', statusCode: 400 });
          expect(probe.calls).toEqual([]);
        } finally {
          await race.app.close();
        }
      });

      it('hands every pipe the metadata of its parameter', async () => {
        // Act
        const answer = await call('POST', '/pipes/metadata/7?n=3', { body: { name: 'ada', count: 1 }, headers: { 'x-user': 'grace' } });

        // Assert
        expect(answer.status).toBe(201);
        expect(json(answer)).toEqual({ id: '7', n: '3', item: { name: 'ada', count: 1 }, user: 'grace' });
        expect(probe.pipeMetadata).toHaveLength(4);
        expect(probe.pipeMetadata).toEqual(
          expect.arrayContaining([
            { type: 'param', data: 'id', metatype: String },
            { type: 'query', data: 'n', metatype: Number },
            { type: 'body', data: undefined, metatype: ItemDto },
            { type: 'custom', data: 'x-user', metatype: String },
          ]),
        );
      });

      it('does not mark a request whose handler failed as rejected by pipes', async () => {
        // Act
        const answer = await call('GET', '/pipes/handler-error');

        // Assert
        expect(answer.status).toBe(409);
        expect(probe.calls).toEqual(['handler']);
        expect(probe.rejectedByPipes).toEqual([false]);
      });

      it('hands the handler the DTO ValidationPipe built from a valid body', async () => {
        // Act
        const answer = await call('POST', '/pipes/validated', { body: { name: 'ada', count: 2 } });

        // Assert
        expect(answer.status).toBe(201);
        expect(json(answer)).toEqual({ name: 'ada', count: 2, isDto: true });
      });

      it("answers 400 with class-validator's messages for a bad body, without running the handler", async () => {
        // Act
        const answer = await call('POST', '/pipes/validated', { body: { name: 3, count: 0 } });

        // Assert
        expect(answer.status).toBe(400);
        expect(json(answer)).toEqual({ message: ['name must be a string', 'count must not be less than 1'], error: 'Bad Request', statusCode: 400 });
        expect(probe.calls).toEqual([]);
        expect(probe.rejectedByPipes).toEqual([true]);
      });

      it('hands the handler the values of custom param decorators, through their pipes', async () => {
        // Act
        const answer = await call('GET', '/pipes/custom', { headers: { 'x-user': 'ada', 'x-team': 'core' } });

        // Assert
        expect(answer.status).toBe(200);
        expect(json(answer)).toEqual({ user: 'ada', team: 'core>piped' });
      });
    });

    describe('request-scoped controllers', () => {
      it('runs the guards, pipes and interceptors of a handler created per request, on a new instance each time', async () => {
        // Act
        const first = await call('GET', '/scoped/1');
        const second = await call('GET', '/scoped/2');

        // Assert
        expect(first.status).toBe(200);
        expect(json(first)).toEqual({ wrapped: { id: '1>async' } });
        expect(second.status).toBe(200);
        expect(json(second)).toEqual({ wrapped: { id: '2>async' } });
        expect(probe.instances).toHaveLength(2);
        expect(probe.instances[1]).not.toBe(probe.instances[0]);
        expect(probe.calls).toEqual(['scoped:http', 'handler', 'scoped:http', 'handler']);
      });

      it('answers 400 when a pipe of a request-scoped handler refuses', async () => {
        // Act
        const answer = await call('GET', '/scoped/abc');

        // Assert
        expect(answer.status).toBe(400);
        expect(json(answer)).toEqual({ message: 'Validation failed (numeric string is expected)', error: 'Bad Request', statusCode: 400 });
        expect(probe.calls).toEqual(['scoped:http']);
      });
    });

    describe('interceptors', () => {
      it.each([
        ['a value', '/intercepted/wrapped', { wrapped: { n: 1 } }],
        ['an Observable', '/intercepted/wrapped-observable', { wrapped: { n: 2 } }],
      ])('sends what an interceptor maps the handler returning %s to', async (_what, path, expected) => {
        // Act
        const answer = await call('GET', path);

        // Assert
        expect(answer.status).toBe(200);
        expect(json(answer)).toEqual(expected);
      });

      it('sends what an interceptor answers without next.handle(), and does not run the handler', async () => {
        // Act
        const answer = await call('GET', '/intercepted/short');

        // Assert
        expect(answer.status).toBe(200);
        expect(answer.body).toBe('short');
        expect(probe.calls).toEqual([]);
      });

      it.each([
        ['throws', '/intercepted/recovered', 'thrown'],
        ['rejects', '/intercepted/recovered-async', 'rejected'],
        ['returns an Observable that errors', '/intercepted/recovered-observable', 'errored'],
      ])('sends the value an interceptor catchError()s to when the handler %s', async (_what, path, message) => {
        // Act
        const answer = await call('GET', path);

        // Assert
        expect(answer.status).toBe(200);
        expect(json(answer)).toEqual({ recovered: message });
      });

      it('gives every interceptor an http ExecutionContext of the handler and its class', async () => {
        // Act
        const answer = await call('GET', '/intercepted/context');

        // Assert
        expect(answer.status).toBe(200);
        const expected = { handler: InterceptedController.prototype.context, cls: InterceptedController, type: 'http' };
        expect(probe.contexts).toEqual([expected, expected]);
      });
    });

    describe('errors', () => {
      const internal = { statusCode: 500, message: 'Internal server error' };

      it.each([
        ['throws an HttpException', '/errors/http', 409, { message: 'taken', error: 'Conflict', statusCode: 409 }],
        ['throws an HttpException with its own body', '/errors/custom-body', 418, { code: 'teapot', detail: 'short and stout' }],
        ['returns an Observable erroring with an HttpException', '/errors/observable-error', 404, { message: 'gone', error: 'Not Found', statusCode: 404 }],
        ['with @Header throws an HttpException', '/errors/with-header', 409, { message: 'taken', error: 'Conflict', statusCode: 409 }],
        ['throws an Error', '/errors/plain', 500, internal],
        ['rejects with an Error', '/errors/rejected', 500, internal],
        ['returns an Observable that completes without a value', '/errors/empty', 500, internal],
        ['returns an Observable that completes without a value, through an interceptor', '/errors/empty-intercepted', 500, internal],
      ])("answers as Nest's exception filter does when the handler %s", async (_what, path, status, body) => {
        // Act
        const answer = await call('GET', path);

        // Assert
        expect(answer.status).toBe(status);
        expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(json(answer)).toEqual(body);
      });
    });

    describe('client disconnect', () => {
      it.each([
        ['without interceptors', '/streams/until-client-leaves'],
        ['through an interceptor', '/streams/until-client-leaves-intercepted'],
        ['returned in a Promise', '/streams/until-client-leaves-async'],
        ['returned in a Promise, through an interceptor', '/streams/until-client-leaves-async-intercepted'],
      ])("tears down the handler's Observable %s when the client goes away", async (_what, path) => {
        // Arrange
        const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' });
        req.on('error', () => undefined);
        req.end();
        await probe.subscribed.promise;

        // Act
        req.destroy();

        // Assert
        await expect(probe.tornDown.promise).resolves.toBeUndefined();
      }, 5_000);
    });

    describe('StreamableFile', () => {
      it.each([
        ['of a Buffer', '/streams/file', 'file bytes'],
        ['of a stream', '/streams/file-stream', 'streamed bytes'],
        ['emitted by an Observable, through an interceptor', '/streams/file-observable', 'observed bytes'],
      ])('sends a StreamableFile %s', async (_what, path, body) => {
        // Act
        const answer = await call('GET', path);

        // Assert
        expect(answer.status).toBe(200);
        expect(answer.headers['content-type']).toBe('application/octet-stream');
        expect(answer.body).toBe(body);
      });
    });

    describe('StreamableFile release and client watch cleanup', () => {
      it('destroys the StreamableFile of the handler that an interceptor replaced, once the response is over', async () => {
        // Act
        const answer = await call('GET', '/streams/file-replaced');

        // Assert
        expect(answer.status).toBe(200);
        expect(json(answer)).toEqual({ replaced: true });
        await expect(probe.fileDestroyed.promise).resolves.toBeUndefined();
      }, 5_000);

      it.each([
        ['without interceptors', '/streams/file-until-client-leaves'],
        ['through an interceptor', '/streams/file-until-client-leaves-intercepted'],
      ])('destroys the StreamableFile an Observable emitted %s when the client goes away before it completes', async (_what, path) => {
        // Arrange
        const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' });
        req.on('error', () => undefined);
        req.end();
        await probe.subscribed.promise;

        // Act
        req.destroy();

        // Assert
        await expect(probe.tornDown.promise).resolves.toBeUndefined();
        await expect(probe.fileDestroyed.promise).resolves.toBeUndefined();
      }, 5_000);

      it.each([
        ['without interceptors', '/streams/observable-watched'],
        ['through an interceptor', '/streams/observable-watched-intercepted'],
      ])("stops watching the client's socket once an Observable %s has answered", async (_what, path) => {
        // Arrange: one keep-alive connection; what a plain answer leaves on its socket is the baseline.
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        try {
          await getOn(agent, port, '/streams/plain-watched');
          const socket = probe.socket!;
          const baseline = socket.listenerCount('close');

          // Act
          const answer = await getOn(agent, port, path);

          // Assert
          expect(answer).toEqual({ status: 200, body: '{"watched":true}' });
          expect(probe.socket).toBe(socket);
          expect(socket.listenerCount('close')).toBe(baseline);
        } finally {
          agent.destroy();
        }
      });
    });

    describe("routes left to Nest's own create", () => {
      it('answers a @Res() route that sends by hand', async () => {
        // Act
        const answer = await call('GET', '/streams/by-hand');

        // Assert
        expect(answer.status).toBe(200);
        expect(answer.body).toBe('sent by hand');
      });

      it('streams an @Sse() route', async () => {
        // Act
        const answer = await call('GET', '/streams/events');

        // Assert
        expect(answer.status).toBe(200);
        expect(answer.headers['content-type']).toBe('text/event-stream');
        expect(answer.body).toBe('\nid: 1\ndata: hello\n\nid: 2\ndata: world\n\n');
      });
    });
  });
});

describe('both implementations', () => {
  it("leaves Nest's own create installed once the lean apps are done", () => {
    // Assert
    expect(RouterExecutionContext.prototype.create).toBe(nestCreate);
  });

  it('answered every request with the same status, headers and body', () => {
    // Arrange
    const nest = answers.get(false)!;
    const lean = answers.get(true)!;
    const sentToBoth = [...nest.keys()].filter((key) => lean.has(key));
    const answered = (byRequest: Map<string, Answer>) => Object.fromEntries(sentToBoth.map((key) => [key, byRequest.get(key)]));

    // Assert
    expect(sentToBoth.length).toBeGreaterThan(0);
    expect(answered(lean)).toEqual(answered(nest));
  });
});
