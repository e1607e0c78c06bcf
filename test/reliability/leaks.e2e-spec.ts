import { INestApplication } from '@nestjs/common';
import { rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';

import { GrpcServerService } from '../../src/inference/grpc/grpc-server.service';
import { createApp } from '../e2e/support/create-app';
import { freePort } from '../e2e/support/child-server';
import { GrpcTestClient } from '../e2e/support/grpc-client';
import { copyModel, GARBAGE, tempRepository, writeVersionFile } from './support/fault-repository';

/**
 * Nothing internal leaves the process (issue 16): every answer about a model that failed to load —
 * REST envelopes, V2 `{error}`, the views (/models, /health, the V2 index), admin load answers and
 * gRPC status messages — is swept for absolute paths, library error text, stack frames and
 * exception class names. The library's text is still in the server log (checked elsewhere).
 */

const ADMIN = 'admin-leak-key';
const ROW = [5.1, 3.5, 1.4, 0.2];

/** What must never appear in an answer: with the repository's own path found by the test. */
function leaks(text: string, repo: string): string[] {
  const found: string[] = [];
  if (text.includes(repo)) found.push(`the repository path ${repo}`);
  const checks: [string, RegExp][] = [
    ['an absolute path', /(?:^|[\s'"(=:,])\/(?:[\w.@-]+\/)+[\w.@-]*/],
    ['a file-system error code', /\b(?:ENOENT|EACCES|EISDIR|EPERM)\b/],
    ["JSON.parse's text", /Unexpected token|Expected double-quoted|at position \d+|Unexpected end of JSON/],
    ["onnxruntime's text", /Protobuf|onnxruntime::|ORT_|Load model from/],
    ['an exception class name', /\b(?:SyntaxError|TypeError|RangeError|ReferenceError|Error:)/],
    ['a stack frame', /\bat\s+[^\n]*?[\w.-]+\.(?:ts|js|cc|cpp|h):\d+/],
  ];
  for (const [what, re] of checks) if (re.test(text)) found.push(what);
  return found;
}

/** Each failing model's reason, in our words: V2 metadata must name it. */
const REASONS: Record<string, RegExp> = {
  ambiguous: /several \.onnx files in ambiguous\/1\/ and none named model\.onnx \(a\.onnx, b\.onnx\)/,
  'bad-json': /model\.json unreadable: not valid JSON/,
  corrupt: /onnxruntime could not load model\.onnx/,
  'no-file': /no model\.onnx in no-file\/1\/ and no other \.onnx file \(it holds weights\.bin\)/,
};

describe('nothing internal in any answer: models that fail to load (real AppModule, REST and gRPC)', () => {
  let app: INestApplication;
  let repo: string;
  let grpc: GrpcTestClient;
  const answers: { what: string; text: string }[] = [];
  const server = () => app.getHttpServer();
  const keep = (what: string, res: { text?: string; body?: unknown }) => { answers.push({ what, text: res.text ?? JSON.stringify(res.body) }); };

  beforeAll(async () => {
    repo = await tempRepository(['iris']);
    // two candidate .onnx files and no model.onnx, model.json not JSON, a model file that is not ONNX, a version folder without one
    // (a folder without model.json is no failure: it is served, its signature from the ONNX file)
    const ambiguous = await copyModel(repo, 'iris', 'ambiguous');
    await unlink(join(ambiguous, 'model.json'));
    for (const file of ['a.onnx', 'b.onnx']) await writeVersionFile(ambiguous, 1, GARBAGE, file);
    const badJson = await copyModel(repo, 'iris', 'bad-json', { versions: [1] });
    await writeFile(join(badJson, 'model.json'), '{ "name": "bad-json", ');
    await writeVersionFile(await copyModel(repo, 'iris', 'corrupt'), 1, GARBAGE);
    await writeVersionFile(await copyModel(repo, 'iris', 'no-file'), 1, 'weights', 'weights.bin');
    app = await createApp({ env: { MODEL_REPOSITORY: repo, ADMIN_API_KEYS: `ops:${ADMIN}`, GRPC_PORT: String(await freePort()), HOST: '127.0.0.1' } });
    grpc = new GrpcTestClient(`127.0.0.1:${app.get(GrpcServerService).port!}`);
  });
  afterAll(async () => {
    grpc?.inference.close();
    grpc?.health.close();
    await app?.close();
    await rm(repo, { recursive: true, force: true });
  });

  it.each(['ambiguous', 'bad-json', 'corrupt', 'no-file'])('%s: predictions, metadata, views and admin loads name the failure in our words only', async (model) => {
    // Act
    const admin = (r: request.Test) => r.set('X-API-Key', ADMIN);
    const calls: [string, request.Test][] = [
      ['POST /predict', request(server()).post('/predict').send({ model_id: model, features: ROW })],
      ['POST /v2 infer', request(server()).post(`/v2/models/${model}/infer`).send({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: ROW }] })],
      ['GET /v2 metadata', request(server()).get(`/v2/models/${model}`)],
      ['GET /v2 ready', request(server()).get(`/v2/models/${model}/ready`)],
      ['GET /models', request(server()).get('/models')],
      ['GET /models/:id', request(server()).get(`/models/${model}`)],
      ['GET /health', request(server()).get('/health')],
      ['GET /health/ready', request(server()).get('/health/ready')],
      ['POST /v2/repository/index', request(server()).post('/v2/repository/index').send({})],
      ['POST admin load', admin(request(server()).post(`/models/${model}/versions/1/load`))],
      ['POST /v2 repository load', admin(request(server()).post(`/v2/repository/models/${model}/load`)).send({})],
    ];
    for (const [what, call] of calls) keep(`${what} (${model})`, await call);
    for (const method of ['ModelInfer', 'ModelMetadata']) {
      const reply = await grpc.call(method, { model_name: model, name: model, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: ROW } }] });
      answers.push({ what: `gRPC ${method} (${model})`, text: reply.error ? reply.error.details : JSON.stringify(reply.response) });
    }

    // Assert: each failure is named somewhere (not hidden), and nothing internal anywhere
    const mine = answers.filter((a) => a.what.endsWith(`(${model})`));
    expect(mine.find((a) => a.what === `GET /v2 metadata (${model})`)!.text).toMatch(REASONS[model]);
    expect(mine.map((a) => ({ what: a.what, leaks: leaks(a.text, repo) })).filter((a) => a.leaks.length)).toEqual([]);
  });
});
