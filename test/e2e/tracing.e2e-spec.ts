import { Metadata } from '@grpc/grpc-js';
import { Controller, Get, INestApplication } from '@nestjs/common';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';

import { Public } from '../../src/common/decorators/access.decorator';
import { GrpcServerService } from '../../src/inference/grpc/grpc-server.service';
import { LOG_DESTINATION } from '../../src/logging/log-destination';
import { ModelRuntimeFactory } from '../../src/models/runtimes/model-runtime';
import { everyValue, SpanRecorder } from '../support/span-recorder';
import { ChildServer, freePort, startServer } from './support/child-server';
import { createApp, SETOSA } from './support/create-app';
import { GrpcTestClient } from './support/grpc-client';
import { logCapture } from './support/log-capture';
import { PathFaultRuntimeFactory } from './support/path-fault-runtime';

/** A caller's W3C trace context. */
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const CALLER_TRACEPARENT = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

const idOf = (s: ReadableSpan): string => s.spanContext().spanId;
const traceOf = (s: ReadableSpan): string => s.spanContext().traceId;
const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

/** Fault injection: an answer that cannot be serialized (it contains itself), so an unexpected error in the serialize step. */
@Controller('tracing-cyclic')
class CyclicController {
  @Public()
  @Get()
  cyclic(): Record<string, unknown> {
    const body: Record<string, unknown> = { ok: true };
    body.self = body;
    return body;
  }
}

/**
 * Tracing on the real AppModule and the real bundled models, the spans taken by the SDK's
 * in-memory exporter: the HTTP instrumentation applied to the loaded `http` module (jest's module
 * loader is one the instrumentation's require hook cannot see; the child-process tests below run
 * main.ts as production does, require hook included).
 */
describe('tracing (in-memory exporter)', () => {
  const { stream, lines } = logCapture();
  let recorder: SpanRecorder;
  let app: INestApplication;
  let grpc: GrpcTestClient;

  beforeAll(async () => {
    recorder = new SpanRecorder({ patchLoadedHttp: true });
    app = await createApp({
      controllers: [CyclicController],
      env: { LOG_LEVEL: 'debug', ENABLE_CACHING: 'true', GRPC_PORT: String(await freePort()), HOST: '127.0.0.1' },
      customize: (b) => b
        .overrideProvider(LOG_DESTINATION).useValue(stream)
        // iris version 1 fails every run after its warm-up: a 500 to trace; version 2 (active) is untouched.
        .overrideProvider(ModelRuntimeFactory).useValue(new PathFaultRuntimeFactory('/iris/1/', { kind: 'throw' })),
    });
    grpc = new GrpcTestClient(`127.0.0.1:${app.get(GrpcServerService).port!}`);
  });

  beforeEach(() => {
    recorder.reset();
    lines.length = 0;
  });

  afterAll(async () => {
    grpc?.close();
    await app?.close();
    await recorder?.stop();
  });

  /** The server span of the request that answered with `requestId`. */
  const serverSpanOf = (requestId: string): ReadableSpan => recorder.one('POST /predict', (s) => s.attributes['app.request_id'] === requestId);

  it('one /predict is a server span with predict (cache.lookup, batch.wait, inference) and serialize under it; the response carries its traceparent', async () => {
    // Act
    const res = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: { ...SETOSA, sepal_length: 5.01 } }).expect(200);

    // Assert: the tree
    const server = serverSpanOf(res.headers['x-request-id']);
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.attributes).toMatchObject({ 'http.route': '/predict', 'http.request.method': 'POST', 'http.response.status_code': 200 });
    expect(recorder.childrenOf(server).map((s) => s.name).sort()).toEqual(['predict', 'serialize']);
    const predict = recorder.one('predict');
    expect(predict.attributes).toEqual({ 'model.id': 'iris', 'model.version': '2', 'model.variant': 'stable', 'prediction.requests': 1, 'prediction.cached': false });
    expect(recorder.childrenOf(predict).map((s) => s.name).sort()).toEqual(['batch.wait', 'cache.lookup', 'inference']);
    expect(recorder.one('cache.lookup').attributes).toEqual({ 'cache.hit': false });
    expect(recorder.one('batch.wait').attributes).toMatchObject({ 'batch.size': 1, 'batch.rows': 1 });
    expect(recorder.one('inference').attributes).toMatchObject({ 'model.id': 'iris', 'model.version': '2', 'batch.size': 1, 'batch.rows': 1 });
    expect(new Set(recorder.spans().map(traceOf))).toEqual(new Set([traceOf(server)]));
    // The response's traceparent is the server span's.
    expect(res.headers.traceparent).toBe(`00-${traceOf(server)}-${idOf(server)}-01`);
    // Bounded attributes: no body, no tensor data.
    expect(everyValue(recorder.spans())).not.toMatch(/5\.01|sepal/);
  });

  it("continues an incoming traceparent: the caller's trace id is kept and the response's traceparent continues it", async () => {
    // Act
    const res = await request(app.getHttpServer()).post('/predict').set('traceparent', CALLER_TRACEPARENT).set('tracestate', 'vendor=1')
      .send({ model_id: 'iris', features: SETOSA }).expect(200);

    // Assert
    const server = serverSpanOf(res.headers['x-request-id']);
    expect(traceOf(server)).toBe(CALLER_TRACE);
    expect(parentOf(server)).toBe(CALLER_SPAN);
    expect(server.spanContext().traceState?.get('vendor')).toBe('1');
    const [, trace, span] = TRACEPARENT.exec(res.headers.traceparent)!;
    expect([trace, span]).toEqual([CALLER_TRACE, idOf(server)]);
    expect(recorder.spans().every((s) => traceOf(s) === CALLER_TRACE)).toBe(true);
  });

  it('a prediction refused as invalid is a predict span with status ERROR and VALIDATION_FAILED; the server span names the code', async () => {
    // Act
    const res = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: [1, 2] }).expect(422);

    // Assert
    const predict = recorder.one('predict');
    expect(predict.status.code).toBe(SpanStatusCode.ERROR);
    expect(predict.attributes['error.type']).toBe('VALIDATION_FAILED');
    const server = serverSpanOf(res.headers['x-request-id']);
    expect(parentOf(predict)).toBe(idOf(server));
    expect(server.attributes['app.error_code']).toBe('VALIDATION_FAILED');
    // A 4xx is the caller's problem: the server span's own status stays unset, as the HTTP conventions say.
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('an inference failure (500) fails predict, inference and the server span with the code, never the cause or a stack', async () => {
    // Act
    const res = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', model_version: '1', features: SETOSA }).expect(500);

    // Assert
    const server = serverSpanOf(res.headers['x-request-id']);
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes).toMatchObject({ 'app.error_code': 'INFERENCE_FAILED', 'error.type': 'INFERENCE_FAILED', 'http.response.status_code': 500 });
    const predict = recorder.one('predict');
    expect(predict.status.code).toBe(SpanStatusCode.ERROR);
    expect(predict.attributes).toMatchObject({ 'error.type': 'INFERENCE_FAILED', 'model.version': '1', 'model.variant': 'pinned' });
    expect(recorder.one('inference').status.code).toBe(SpanStatusCode.ERROR);
    expect(everyValue(recorder.spans())).not.toMatch(/injected|\bat .+:\d+/);
  });

  it("every log line of a request carries its trace_id; the completion line the server span's id, the prediction events the predict span's", async () => {
    // Act
    // (Features no earlier test sent: a cache hit would log no prediction_started.)
    const ok = await request(app.getHttpServer()).post('/predict').set('traceparent', CALLER_TRACEPARENT)
      .send({ model_id: 'iris', features: { ...SETOSA, petal_width: 0.25 } }).expect(200);
    const failed = await request(app.getHttpServer()).post('/predict').send({ model_id: 'iris', features: [1, 2] }).expect(422);

    // Assert
    const okLines = lines.filter((l) => l.request_id === ok.headers['x-request-id']);
    expect(okLines.map((l) => l.event ?? l.msg).sort()).toEqual(['prediction_completed', 'prediction_started', 'request_completed']);
    expect(okLines.every((l) => l.trace_id === CALLER_TRACE && l.trace_flags === '01')).toBe(true);
    const completion = okLines.find((l) => l.msg === 'request_completed')!;
    expect(completion.span_id).toBe(idOf(serverSpanOf(ok.headers['x-request-id'])));
    const predict = recorder.one('predict', (s) => traceOf(s) === CALLER_TRACE);
    expect(okLines.filter((l) => l.event).every((l) => l.span_id === idOf(predict))).toBe(true);

    const failedLines = lines.filter((l) => l.request_id === failed.headers['x-request-id']);
    const failedTrace = traceOf(serverSpanOf(failed.headers['x-request-id']));
    expect(failedLines.map((l) => l.event ?? l.msg).sort()).toEqual(['prediction_failed', 'request_completed']);
    expect(failedLines.every((l) => l.trace_id === failedTrace)).toBe(true);
  });

  it("an unexpected error fails the step and the server span, and the filter's error line carries the trace id", async () => {
    // Act
    const res = await request(app.getHttpServer()).get('/tracing-cyclic').expect(500);

    // Assert
    const server = recorder.one('GET /tracing-cyclic');
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes).toMatchObject({ 'app.error_code': 'INTERNAL', 'error.type': 'INTERNAL' });
    const serialize = recorder.one('serialize');
    expect(parentOf(serialize)).toBe(idOf(server));
    expect(serialize.status.code).toBe(SpanStatusCode.ERROR);
    expect(everyValue(recorder.spans())).not.toMatch(/circular|\bat .+:\d+/i);
    const errorLine = lines.find((l) => l.request_id === res.headers['x-request-id'] && typeof l.msg === 'string' && l.msg.startsWith('Unexpected error'));
    expect(errorLine).toMatchObject({ trace_id: traceOf(server), span_id: idOf(server) });
  });

  it('health probes are not traced: no span, no traceparent, no trace id in their line', async () => {
    // Act
    const res = await request(app.getHttpServer()).get('/health/ready').expect(200);

    // Assert
    expect(recorder.spans()).toEqual([]);
    expect(res.headers.traceparent).toBeUndefined();
    expect(lines.find((l) => l.request_id === res.headers['x-request-id'])?.trace_id).toBeUndefined();
  });

  it('other routes are named by their template, never the raw path', async () => {
    // Act
    await request(app.getHttpServer()).get('/models/iris').expect(200);
    await request(app.getHttpServer()).get('/no/such/route').expect(404);

    // Assert
    expect(recorder.one('GET /models/:id').attributes['http.route']).toBe('/models/:id');
    const unmatched = recorder.one('GET');
    expect(unmatched.attributes['http.route']).toBeUndefined();
    expect(unmatched.attributes['app.error_code']).toBe('NOT_FOUND');
  });

  it('gRPC ModelInfer with traceparent metadata continues the trace, with the same spans under its server span', async () => {
    // Act
    const reply = await grpc.call('ModelInfer', {
      model_name: 'iris',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [5.2, 3.5, 1.4, 0.2] } }],
    }, { traceparent: CALLER_TRACEPARENT, 'x-request-id': 'grpc-traced-1' });

    // Assert
    expect(reply.error).toBeUndefined();
    const server = recorder.one('inference.GRPCInferenceService/ModelInfer');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(traceOf(server)).toBe(CALLER_TRACE);
    expect(parentOf(server)).toBe(CALLER_SPAN);
    expect(server.attributes).toMatchObject({ 'rpc.system.name': 'grpc', 'rpc.method': 'inference.GRPCInferenceService/ModelInfer', 'rpc.status_code': 'OK', 'app.request_id': 'grpc-traced-1' });
    expect(recorder.childrenOf(server).map((s) => s.name).sort()).toEqual(['predict', 'serialize']);
    const predict = recorder.one('predict');
    expect(recorder.childrenOf(predict).map((s) => s.name).sort()).toEqual(['batch.wait', 'cache.lookup', 'inference']);
    expect((reply.trailers as Metadata).get('traceparent')).toEqual([`00-${CALLER_TRACE}-${idOf(server)}-01`]);
    const completion = lines.find((l) => l.request_id === 'grpc-traced-1' && l.msg === 'grpc_call_completed');
    expect(completion).toMatchObject({ trace_id: CALLER_TRACE, span_id: idOf(server) });
  });

  it('a failed gRPC call records its status and error code on its span', async () => {
    // Act
    const reply = await grpc.call('ModelInfer', { model_name: 'no-such-model', inputs: [] }, { traceparent: CALLER_TRACEPARENT });

    // Assert
    expect(reply.error).toBeDefined();
    const server = recorder.one('inference.GRPCInferenceService/ModelInfer');
    expect(server.attributes).toMatchObject({ 'rpc.status_code': 'NOT_FOUND', 'app.error_code': 'MODEL_NOT_FOUND' });
    // NOT_FOUND is the caller's problem, not a server fault.
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
  });
});

/** One span as OTLP/HTTP JSON carries it (ids in hex). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

interface OtlpExport {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

/** A tiny OTLP/HTTP collector on 127.0.0.1: keeps every JSON export POSTed to /v1/traces and answers 200, as a collector does. */
class OtlpReceiver {
  readonly exports: OtlpExport[] = [];
  readonly contentTypes = new Set<string>();
  private readonly server: Server;
  private waiters: (() => void)[] = [];

  constructor() {
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') {
          this.contentTypes.add(String(req.headers['content-type']));
          this.exports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport);
          for (const wake of this.waiters.splice(0)) wake();
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  spans(): (OtlpSpan & { service?: string })[] {
    return this.exports.flatMap((e) => e.resourceSpans.flatMap((r) => {
      const service = r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
      return r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ ...span, service })));
    }));
  }

  /** Resolves once `done(spans)` holds, woken by each export (the exporter batches); rejects after `ms`. */
  async until(done: (spans: (OtlpSpan & { service?: string })[]) => boolean, ms = 20_000): Promise<(OtlpSpan & { service?: string })[]> {
    const deadline = Date.now() + ms;
    while (!done(this.spans())) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the collector did not get the spans within ${ms} ms; it has: ${this.spans().map((s) => s.name).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.spans();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const attribute = (span: OtlpSpan, key: string): unknown => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value === undefined ? undefined : Object.values(value)[0];
};

/** SIGTERM, then the exit code (the child drains and exits 0). */
async function stop(child: ChildServer): Promise<number | null> {
  if (child.proc.exitCode !== null) return child.proc.exitCode;
  child.proc.kill('SIGTERM');
  return child.exited;
}

describe('tracing to a real OTLP/HTTP collector (the service as a child process, main.ts as production starts it)', () => {
  const receiver = new OtlpReceiver();
  let endpoint: string;

  beforeAll(async () => {
    endpoint = await receiver.listen();
  });

  afterAll(async () => {
    await receiver.close();
  });

  it('exports the request span tree, with the resource and the caller trace, as OTLP/HTTP JSON', async () => {
    // Arrange
    const child = await startServer({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'nms-e2e', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
    });
    try {
      // Act
      const res = await fetch(`${child.url}/predict`, {
        method: 'POST', headers: { 'content-type': 'application/json', traceparent: CALLER_TRACEPARENT }, body: JSON.stringify({ model_id: 'iris', features: SETOSA }),
      });
      expect(res.status).toBe(200);
      const spans = await receiver.until((all) => ['POST /predict', 'predict', 'inference', 'batch.wait', 'cache.lookup', 'serialize'].every((n) => all.some((s) => s.traceId === CALLER_TRACE && s.name === n)));

      // Assert
      const mine = spans.filter((s) => s.traceId === CALLER_TRACE);
      const byName = (name: string): OtlpSpan => mine.find((s) => s.name === name)!;
      const server = byName('POST /predict');
      expect(server.parentSpanId).toBe(CALLER_SPAN);
      expect(server.kind).toBe(2); // SPAN_KIND_SERVER in OTLP
      expect(attribute(server, 'http.route')).toBe('/predict');
      expect(byName('predict').parentSpanId).toBe(server.spanId);
      expect(byName('serialize').parentSpanId).toBe(server.spanId);
      for (const name of ['cache.lookup', 'batch.wait', 'inference']) expect(byName(name).parentSpanId).toBe(byName('predict').spanId);
      expect(attribute(byName('predict'), 'model.id')).toBe('iris');
      expect(res.headers.get('traceparent')).toBe(`00-${CALLER_TRACE}-${server.spanId}-01`);
      expect(mine.every((s) => s.service === 'nms-e2e')).toBe(true);
      const resource = receiver.exports[0].resourceSpans[0].resource.attributes;
      expect(resource).toEqual(expect.arrayContaining([{ key: 'deployment.environment.name', value: { stringValue: 'test' } }, { key: 'service.version', value: { stringValue: '0.1.0' } }]));
      expect([...receiver.contentTypes]).toEqual(['application/json']);
      // Probes (the harness polled /health/ready) are never exported.
      expect(spans.some((s) => attribute(s, 'url.path') === '/health/ready')).toBe(false);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('is off by default: the response carries no traceparent, even when the request did', async () => {
    // Arrange
    const child = await startServer();
    try {
      // Act
      const res = await fetch(`${child.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: CALLER_TRACEPARENT }, body: JSON.stringify({ model_id: 'iris', features: SETOSA }) });

      // Assert
      expect(res.status).toBe(200);
      expect(res.headers.get('traceparent')).toBeNull();
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('a clean stop (SIGTERM) sends the spans still queued before the process exits', async () => {
    // Arrange: a schedule far longer than the test; only the stop's flush can send them.
    const child = await startServer({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '600000' });
    const res = await fetch(`${child.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model_id: 'iris', features: SETOSA }) });
    const [, traceId] = TRACEPARENT.exec(res.headers.get('traceparent') ?? '') ?? [];
    expect(traceId).toBeDefined();

    // Act
    const code = await stop(child);

    // Assert
    expect(code).toBe(0);
    const spans = await receiver.until((all) => all.some((s) => s.traceId === traceId && s.name === 'predict'));
    expect(spans.filter((s) => s.traceId === traceId).map((s) => s.name)).toEqual(expect.arrayContaining(['POST /predict', 'predict', 'inference']));
  });
});

describe('tracing stopped', () => {
  it("leaves jest's shared `http` module unpatched for the test files that run next", () => {
    expect((Server.prototype.emit as { __wrapped?: boolean }).__wrapped).toBeUndefined();
  });
});
