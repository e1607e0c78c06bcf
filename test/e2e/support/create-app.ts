import { INestApplication, Type } from '@nestjs/common';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { AppModule } from '../../../src/app.module';
import { buildConfig } from '../../../src/config/app-config';
import { configureHttp, createHttpAdapter, httpReady } from '../../../src/http/http-app';
import { GrpcServerService } from '../../../src/inference/grpc/grpc-server.service';
import { ModelRegistryService } from '../../../src/models/registry/model-registry.service';

export const REPO_MODELS = resolve(__dirname, '../../../models');

export interface CreateAppOptions {
  env?: Record<string, string>;
  /** Overrides providers, e.g. a fault-injecting ModelRuntimeFactory. */
  customize?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /** Resolve only once every boot-time model load has finished (default true). */
  waitForModels?: boolean;
  /** Extra controllers beside AppModule's (fault injection). */
  controllers?: Type[];
}

/** The environment before any test changed it; every app starts from it, so settings never leak between apps. */
const BASELINE_ENV = { ...process.env };

/**
 * Boots the real AppModule on the real bundled models with the same HTTP wiring as main.ts, on
 * the adapter HTTP_ADAPTER names (Fastify unless the environment says express: CI runs the e2e
 * suite on both). The environment is reset to the baseline plus `env` for each app. /metrics is
 * served on the app's own port (METRICS_PORT = PORT), as tests read it there. gRPC is off unless
 * `env` gives GRPC_PORT.
 */
export async function createApp({ env = {}, customize, waitForModels = true, controllers = [] }: CreateAppOptions = {}): Promise<INestApplication> {
  // Each app gets its own registry state file, so a promotion in one test never leaks into another.
  const stateFile = join(tmpdir(), `nms-state-${process.pid}-${randomUUID()}.json`);
  // MAX_MEMORY_MB guards a server's own RSS; here it would measure the whole jest process, which
  // hosts every app of the run (it passed 1 GB in CI), so tests that want the guard set it.
  process.env = {
    ...BASELINE_ENV, MODEL_REPOSITORY: REPO_MODELS, LOG_LEVEL: 'silent', REGISTRY_STATE_FILE: stateFile, MAX_MEMORY_MB: '65536',
    PORT: '8000', METRICS_PORT: '8000', GRPC_PORT: '0', ...env,
  };
  const { app: http } = buildConfig(process.env);
  // nestjs-pino keeps its first app's logger for the whole process (one app per process in
  // production); each test app gets its own, so its log lines reach its own destination.
  __resetOutOfContextForTests();
  const builder = Test.createTestingModule({ imports: [AppModule], controllers });
  const moduleRef = await (customize ? customize(builder) : builder).compile();
  const app = moduleRef.createNestApplication(createHttpAdapter(http), { bodyParser: false, logger: false });
  await configureHttp(app, http);
  await app.init();
  await httpReady(app);
  // As main.ts does after HTTP listens (off unless the test gives GRPC_PORT).
  await app.get(GrpcServerService).start();
  if (waitForModels) await app.get(ModelRegistryService).whenLoaded();
  return app;
}

export const SETOSA = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
export const VIRGINICA = { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 };

/** Asserts DESIGN.md's error envelope and returns it. */
export function expectEnvelope(body: unknown, code: string, requestId?: string) {
  const b = body as { status: string; error: { code: string; message: string; details: unknown[] }; request_id: string; timestamp: string };
  expect(b.status).toBe('error');
  expect(b.error.code).toBe(code);
  expect(typeof b.error.message).toBe('string');
  expect(Array.isArray(b.error.details)).toBe(true);
  expect(typeof b.request_id).toBe('string');
  if (requestId) expect(b.request_id).toBe(requestId);
  expect(new Date(b.timestamp).toString()).not.toBe('Invalid Date');
  expect(JSON.stringify(b)).not.toMatch(/\bat .+\.(ts|js):\d+/);
  return b;
}
