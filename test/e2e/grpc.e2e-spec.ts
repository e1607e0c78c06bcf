import { status } from '@grpc/grpc-js';
import { INestApplication } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import request from 'supertest';

import { GrpcServerService } from '../../src/inference/grpc/grpc-server.service';
import { freePort } from './support/child-server';
import { createApp, SETOSA, VIRGINICA } from './support/create-app';
import { GrpcReply, GrpcTestClient } from './support/grpc-client';

const CLIENT = 'grpc-client-key';
const ADMIN = 'grpc-admin-key';
const ENV = { API_KEYS: `svc:${CLIENT}`, ADMIN_API_KEYS: `ops:${ADMIN}`, REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false' };
const AUTH = { authorization: `Bearer ${CLIENT}` };
const ROWS = [Object.values(SETOSA), Object.values(VIRGINICA)];

interface OutputTensor { name: string; datatype: string; shape: number[]; contents: { fp32_contents: number[] } | null }
interface InferResponse { model_name: string; model_version: string; id: string; outputs: OutputTensor[]; raw_output_contents: Buffer[] }

const typedRequest = (rows: number[][], extra: Record<string, unknown> = {}) => ({
  model_name: 'iris',
  inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], contents: { fp32_contents: rows.flat() } }],
  ...extra,
});

const rawRequest = (rows: number[][]) => ({
  model_name: 'iris',
  inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4] }],
  raw_input_contents: [Buffer.from(new Float32Array(rows.flat()).buffer)],
});

/** The floats of a raw_output_contents entry. */
const floats = (bytes: Buffer): number[] => Array.from(new Float32Array(new Uint8Array(bytes).buffer));

/** The status of a failed call; fails the test when the call succeeded. */
function failure(reply: GrpcReply, code: status): string {
  expect(reply.error?.code).toBe(code);
  expect(reply.error?.details).not.toMatch(/\bat .+\.(ts|js):\d+/);
  return reply.error!.details;
}

describe('KServe V2 gRPC (inference.GRPCInferenceService on the real AppModule)', () => {
  let app: INestApplication;
  let client: GrpcTestClient;
  let restProbabilities: number[];

  beforeAll(async () => {
    app = await createApp({ env: { ...ENV, GRPC_PORT: String(await freePort()), HOST: '127.0.0.1' } });
    client = new GrpcTestClient(`127.0.0.1:${app.get(GrpcServerService).port!}`);
    const rest = await request(app.getHttpServer()).post('/v2/models/iris/infer').set('authorization', `Bearer ${CLIENT}`)
      .send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: ROWS.flat() }] });
    expect(rest.status).toBe(200);
    restProbabilities = rest.body.outputs[0].data as number[];
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
  });

  describe('server and model metadata and health', () => {
    it('ServerLive, ServerReady and ServerMetadata answer without a key', async () => {
      expect((await client.call('ServerLive', {})).response).toEqual({ live: true });
      expect((await client.call('ServerReady', {})).response).toEqual({ ready: true });
      const meta = await client.call('ServerMetadata', {});
      expect(meta.response).toMatchObject({ name: 'nest-model-server', extensions: ['model_repository', 'model_configuration', 'statistics', 'classification'] });
    });

    it('ModelReady and ModelMetadata say what the V2 REST routes say', async () => {
      expect((await client.call('ModelReady', { name: 'iris' }, AUTH)).response).toEqual({ ready: true });
      expect((await client.call('ModelReady', { name: 'iris', version: '1' }, AUTH)).response).toEqual({ ready: true });
      const meta = await client.call('ModelMetadata', { name: 'iris' }, AUTH);
      const rest = await request(app.getHttpServer()).get('/v2/models/iris').set('authorization', `Bearer ${CLIENT}`);
      expect(meta.response).toEqual(rest.body);
    });

    it('grpc.health.v1.Health/Check is SERVING for the server and the inference service, NOT_FOUND for others', async () => {
      expect((await client.call('Check', { service: '' }, {}, undefined, client.health)).response).toEqual({ status: 'SERVING' });
      expect((await client.call('Check', { service: 'inference.GRPCInferenceService' }, {}, undefined, client.health)).response).toEqual({ status: 'SERVING' });
      failure(await client.call('Check', { service: 'nope' }, {}, undefined, client.health), status.NOT_FOUND);
    });

    it('scripts/grpc-health-probe.js (the container healthcheck) exits 0 on SERVING and 1 when nothing answers', async () => {
      // Arrange
      const probe = (port: string) => new Promise<{ code: number; out: string }>((done) => {
        execFile(process.execPath, [resolve(__dirname, '../../scripts/grpc-health-probe.js')], { env: { ...process.env, GRPC_PORT: port } }, (error, stdout) => {
          done({ code: error ? Number(error.code ?? 1) : 0, out: stdout });
        });
      });

      // Act
      const serving = await probe(String(app.get(GrpcServerService).port!));
      const nobody = await probe(String(await freePort()));

      // Assert
      expect(serving).toEqual({ code: 0, out: expect.stringContaining(': SERVING') });
      expect(nobody.code).toBe(1);
    });

    it('grpc.health.v1.Health/Watch sends the current status first', async () => {
      const stream = (client.health as unknown as { Watch(r: unknown): NodeJS.EventEmitter & { cancel(): void } }).Watch({ service: '' });
      const first = await new Promise((ok) => stream.once('data', ok));
      stream.on('error', () => undefined);
      stream.cancel();
      expect(first).toEqual({ status: 'SERVING' });
    });
  });

  describe('ModelInfer', () => {
    it('typed contents give the same probabilities as REST /v2/models/iris/infer, with the id echoed and the request id trailing', async () => {
      const reply = await client.call<InferResponse>('ModelInfer', typedRequest(ROWS, { id: 'my-id' }), { ...AUTH, 'x-request-id': 'grpc-req-1' });
      expect(reply.error).toBeUndefined();
      const out = reply.response!;
      expect(out).toMatchObject({ model_name: 'iris', model_version: '2', id: 'my-id', raw_output_contents: [] });
      expect(out.outputs).toHaveLength(1);
      expect(out.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [2, 3] });
      expect(out.outputs[0].contents!.fp32_contents).toEqual(restProbabilities);
      expect(reply.trailers.get('x-request-id')).toEqual(['grpc-req-1']);
    });

    it('raw inputs get raw outputs (tritonclient.grpc), the same probabilities; the id defaults to the request id', async () => {
      const reply = await client.call<InferResponse>('ModelInfer', rawRequest(ROWS), AUTH);
      expect(reply.error).toBeUndefined();
      const out = reply.response!;
      expect(out.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [2, 3], contents: null });
      expect(out.raw_output_contents).toHaveLength(1);
      expect(floats(out.raw_output_contents[0])).toEqual(restProbabilities);
      expect(out.id).toBe(reply.trailers.get('x-request-id')[0]);
    });

    it('a pinned version answers from that version', async () => {
      const reply = await client.call<InferResponse>('ModelInfer', typedRequest(ROWS, { model_version: '1' }), AUTH);
      expect(reply.response?.model_version).toBe('1');
    });

    it('outputs selects outputs; an unknown output is INVALID_ARGUMENT with the REST message', async () => {
      const ok = await client.call<InferResponse>('ModelInfer', typedRequest(ROWS, { outputs: [{ name: 'probabilities' }] }), AUTH);
      expect(ok.response?.outputs.map((o) => o.name)).toEqual(['probabilities']);
      const bad = await client.call('ModelInfer', typedRequest(ROWS, { outputs: [{ name: 'nope' }] }), AUTH);
      const rest = await request(app.getHttpServer()).post('/v2/models/iris/infer').set('authorization', `Bearer ${CLIENT}`)
        .send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: ROWS.flat() }], outputs: [{ name: 'nope' }] });
      expect(failure(bad, status.INVALID_ARGUMENT)).toBe(rest.body.error);
    });

    it('INVALID_ARGUMENT with the REST V2 message for a datatype mismatch (text, integers, raw doubles), a wrong shape and the wrong contents field', async () => {
      const mismatch = await client.call('ModelInfer', { model_name: 'iris', inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, 4], contents: { bytes_contents: ['a', 'b', 'c', 'd'].map((s) => Buffer.from(s)) } }] }, AUTH);
      const rest = await request(app.getHttpServer()).post('/v2/models/iris/infer').set('authorization', `Bearer ${CLIENT}`)
        .send({ inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, 4], data: ['a', 'b', 'c', 'd'] }] });
      expect(rest.status).toBe(400);
      expect(failure(mismatch, status.INVALID_ARGUMENT)).toBe(rest.body.error);
      const shape = await client.call('ModelInfer', { model_name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: [1, 2, 3] } }] }, AUTH);
      expect(failure(shape, status.INVALID_ARGUMENT)).toMatch(/dimension 1 must be 4, got 3/);
      const integers = await client.call('ModelInfer', { model_name: 'iris', inputs: [{ name: 'input', datatype: 'INT32', shape: [1, 4], contents: { int_contents: [5, 3, 1, 0] } }] }, AUTH);
      const restIntegers = await request(app.getHttpServer()).post('/v2/models/iris/infer').set('authorization', `Bearer ${CLIENT}`)
        .send({ inputs: [{ name: 'input', datatype: 'INT32', shape: [1, 4], data: [5, 3, 1, 0] }] });
      expect(restIntegers.status).toBe(400);
      expect(failure(integers, status.INVALID_ARGUMENT)).toBe(restIntegers.body.error);
      expect(restIntegers.body.error).toContain("inputs[0] (input).datatype is 'INT32', but model 'iris' expects 'FP32'");
      const rawDouble = await client.call('ModelInfer', { model_name: 'iris', inputs: [{ name: 'input', datatype: 'FP64', shape: [1, 4] }], raw_input_contents: [Buffer.from(new Float64Array([5, 3, 1, 0]).buffer)] }, AUTH);
      expect(failure(rawDouble, status.INVALID_ARGUMENT)).toContain("inputs[0] (input).datatype is 'FP64', but model 'iris' expects 'FP32'");
      const field = await client.call('ModelInfer', { model_name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp64_contents: [1, 2, 3, 4] } }] }, AUTH);
      expect(failure(field, status.INVALID_ARGUMENT)).toMatch(/contents\.fp64_contents is not the field for FP32 \(use contents\.fp32_contents\)/);
      const rawSize = await client.call('ModelInfer', { ...rawRequest(ROWS), raw_input_contents: [Buffer.alloc(12)] }, AUTH);
      expect(failure(rawSize, status.INVALID_ARGUMENT)).toMatch(/has 12 bytes, 8 FP32 elements need 32/);
    });

    it('NOT_FOUND for an unknown model or version, with the REST message', async () => {
      const model = await client.call('ModelInfer', { ...typedRequest(ROWS), model_name: 'nope' }, AUTH);
      const rest = await request(app.getHttpServer()).post('/v2/models/nope/infer').set('authorization', `Bearer ${CLIENT}`).send({ inputs: [] });
      expect(failure(model, status.NOT_FOUND)).toBe(rest.body.error);
      failure(await client.call('ModelInfer', typedRequest(ROWS, { model_version: '99' }), AUTH), status.NOT_FOUND);
      failure(await client.call('ModelMetadata', { name: 'nope' }, AUTH), status.NOT_FOUND);
      failure(await client.call('ModelInfer', typedRequest(ROWS, { model_version: 'x' }), AUTH), status.INVALID_ARGUMENT);
    });

    it('a deadline already past is DEADLINE_EXCEEDED', async () => {
      const reply = await client.call('ModelInfer', typedRequest(ROWS), AUTH, Date.now() - 1000);
      expect(reply.error?.code).toBe(status.DEADLINE_EXCEEDED);
    });
  });

  describe('API keys from metadata', () => {
    it('UNAUTHENTICATED without a key or with a wrong one; x-api-key works as well as authorization', async () => {
      expect(failure(await client.call('ModelInfer', typedRequest(ROWS)), status.UNAUTHENTICATED)).toMatch(/An API key is required/);
      expect(failure(await client.call('ModelInfer', typedRequest(ROWS), { 'x-api-key': 'wrong' }), status.UNAUTHENTICATED)).toBe('Invalid API key');
      expect((await client.call('ModelInfer', typedRequest(ROWS), { 'x-api-key': CLIENT })).error).toBeUndefined();
    });

    it('repository load and unload need the admin key: PERMISSION_DENIED for a client key; the index is a client call', async () => {
      expect(failure(await client.call('RepositoryModelUnload', { model_name: 'penguins' }, AUTH), status.PERMISSION_DENIED)).toMatch(/needs an admin key/);
      const index = await client.call<{ models: { name: string; version: string; state: string }[] }>('RepositoryIndex', { ready: true }, AUTH);
      expect(index.response!.models.map((m) => `${m.name}/${m.version}`).sort()).toEqual(['bench-mlp/1', 'car-mpg/1', 'iris/1', 'iris/2', 'penguins/1']);
      const admin = { authorization: `Bearer ${ADMIN}` };
      expect((await client.call('RepositoryModelUnload', { model_name: 'penguins' }, admin)).error).toBeUndefined();
      expect((await client.call('ModelReady', { name: 'penguins' }, admin)).response).toEqual({ ready: false });
      failure(await client.call('ModelInfer', { model_name: 'penguins', inputs: [] }, admin), status.UNAVAILABLE);
      expect(failure(await client.call('RepositoryModelLoad', { model_name: 'penguins', parameters: { config: { string_param: '{}' } } }, admin), status.INVALID_ARGUMENT))
        .toMatch(/Load overrides are not supported \(parameters\.config\)/);
      expect((await client.call('RepositoryModelLoad', { model_name: 'penguins' }, admin)).error).toBeUndefined();
      expect((await client.call('ModelReady', { name: 'penguins' }, admin)).response).toEqual({ ready: true });
    });
  });
});

describe('KServe V2 gRPC rate limits: one budget per client across REST and gRPC', () => {
  let app: INestApplication;
  let client: GrpcTestClient;

  beforeAll(async () => {
    app = await createApp({ env: { ...ENV, REQUESTS_PER_MINUTE: '3', GRPC_PORT: String(await freePort()), HOST: '127.0.0.1' } });
    client = new GrpcTestClient(`127.0.0.1:${app.get(GrpcServerService).port!}`);
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
  });

  it('RESOURCE_EXHAUSTED with REST\'s message and retry-after once REST and gRPC calls together pass REQUESTS_PER_MINUTE', async () => {
    const rest = await request(app.getHttpServer()).post('/v2/models/iris/infer').set('authorization', `Bearer ${CLIENT}`)
      .send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: ROWS.flat() }] });
    expect(rest.status).toBe(200);
    expect((await client.call('ModelInfer', typedRequest(ROWS), AUTH)).error).toBeUndefined();
    expect((await client.call('ModelInfer', typedRequest(ROWS), AUTH)).error).toBeUndefined();
    const limited = await client.call('ModelInfer', typedRequest(ROWS), AUTH);
    expect(failure(limited, status.RESOURCE_EXHAUSTED)).toBe('Rate limit exceeded: 3 requests per minute (REQUESTS_PER_MINUTE)');
    expect(Number(limited.trailers.get('retry-after')[0])).toBeGreaterThan(0);
    // Metadata calls are not predictions: not limited.
    expect((await client.call('ModelMetadata', { name: 'iris' }, AUTH)).error).toBeUndefined();
    const restAfter = await request(app.getHttpServer()).post('/v2/models/iris/infer').set('authorization', `Bearer ${CLIENT}`)
      .send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: ROWS.flat() }] });
    expect(restAfter.status).toBe(429);
  });
});

describe('KServe V2 gRPC memory shedding and metrics', () => {
  let app: INestApplication;
  let client: GrpcTestClient;

  beforeAll(async () => {
    // The jest process is far above 16 MB: every prediction is shed, as REST's MemoryGuard sheds it.
    app = await createApp({ env: { ...ENV, MAX_MEMORY_MB: '16', GRPC_PORT: String(await freePort()), HOST: '127.0.0.1' } });
    client = new GrpcTestClient(`127.0.0.1:${app.get(GrpcServerService).port!}`);
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
  });

  it('UNAVAILABLE with REST\'s message above MAX_MEMORY_MB (metadata still answers), each call in grpc_server_handled_total', async () => {
    // Act
    const shed = await client.call('ModelInfer', typedRequest(ROWS), AUTH);
    const metadata = await client.call('ModelMetadata', { name: 'iris' }, AUTH);
    const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;

    // Assert
    expect(failure(shed, status.UNAVAILABLE)).toMatch(/^Server memory \(\d+ MB RSS\) is above MAX_MEMORY_MB; retry later$/);
    expect(Number(shed.trailers.get('retry-after')[0])).toBeGreaterThan(0);
    expect(metadata.error).toBeUndefined();
    const service = 'grpc_service="inference.GRPCInferenceService"';
    expect(text).toContain(`grpc_server_handled_total{${service},grpc_method="ModelInfer",grpc_code="UNAVAILABLE"} 1`);
    expect(text).toContain(`grpc_server_handled_total{${service},grpc_method="ModelMetadata",grpc_code="OK"} 1`);
    expect(text).toMatch(new RegExp(`grpc_server_handling_seconds_count\\{${service},grpc_method="ModelInfer"\\} 1`));
    expect(text).toMatch(/ml_memory_shed_requests_total 1/);
  });
});
