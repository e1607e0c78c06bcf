import { status } from '@grpc/grpc-js';

import { ChildServer, startServer } from './support/child-server';
import { GrpcTestClient } from './support/grpc-client';

const row = Array.from({ length: 256 }, (_, i) => Math.cos(i));
const heavy = {
  model_name: 'bench-mlp',
  inputs: [{ name: 'input', datatype: 'FP32', shape: [64, 256] }],
  raw_input_contents: [Buffer.from(new Float32Array(Array.from({ length: 64 }, () => row).flat()).buffer)],
};

describe('gRPC graceful shutdown (child process)', () => {
  jest.setTimeout(120_000);
  let server: ChildServer | undefined;
  let client: GrpcTestClient | undefined;
  afterEach(() => {
    client?.close();
    if (server?.proc.exitCode === null) server.proc.kill('SIGKILL');
  });

  it('SIGTERM with ModelInfer calls in flight: every one is answered OK, exit 0', async () => {
    // Arrange
    server = await startServer({ REQUESTS_PER_MINUTE: '0', REQUESTS_PER_HOUR: '0', ENABLE_CACHING: 'false', MAX_QUEUE: '1000', LOG_LEVEL: 'info' }, { grpc: true });
    client = new GrpcTestClient(`127.0.0.1:${server.grpcPort}`);
    let answered = 0;
    const calls = Array.from({ length: 60 }, () => client!.call('ModelInfer', heavy).then((r) => { answered += 1; return r; }));
    while (answered < 5) await new Promise((r) => setTimeout(r, 5));

    // Act
    server.proc.kill('SIGTERM');
    while (!/gRPC listener closed/.test(server.output()) && server.proc.exitCode === null) await new Promise((r) => setTimeout(r, 1));
    const answeredWhenClosed = answered;
    const replies = await Promise.all(calls);
    const code = await server.exited;

    // Assert: calls were still in flight when the listener closed, and each of them was answered.
    expect(answeredWhenClosed).toBeLessThan(60);
    expect(replies.map((r) => r.error?.code ?? status.OK)).toEqual(Array(60).fill(status.OK));
    const lines = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'grpc_call_completed' && l.method === 'ModelInfer' && l.grpc_status === 'OK')).toHaveLength(60);
    expect(server.output()).toMatch(/gRPC listener closed: new calls are refused/);
    expect(server.output()).toMatch(/released 5 model versions \(onnxruntime sessions\)/);
    expect(code).toBe(0);
    expect(server.output()).not.toMatch(/Unhandled|ERR_/);
  });

  it('with SHUTDOWN_DELAY_SECONDS, grpc.health.v1 says NOT_SERVING at once while ModelInfer is still served', async () => {
    server = await startServer({ SHUTDOWN_DELAY_SECONDS: '2', LOG_LEVEL: 'info' }, { grpc: true });
    client = new GrpcTestClient(`127.0.0.1:${server.grpcPort}`);
    expect((await client.call('Check', { service: '' }, {}, undefined, client.health)).response).toEqual({ status: 'SERVING' });
    server.proc.kill('SIGTERM');
    // Waited for as the server's own log line of the signal, never a fixed sleep.
    while (!/SIGTERM: readiness now 503/.test(server.output())) await new Promise((r) => setTimeout(r, 5));
    expect((await client.call('Check', { service: '' }, {}, undefined, client.health)).response).toEqual({ status: 'NOT_SERVING' });
    expect((await client.call('ServerReady', {})).response).toEqual({ ready: false });
    expect((await client.call('ModelInfer', heavy)).error).toBeUndefined();
    expect(await server.exited).toBe(0);
  });
});
