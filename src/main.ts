// First, before Nest and the HTTP adapters load: tracing (when OTEL_* turn it on) must hook `http` before they require it.
import { tracing } from './tracing/register';

import 'reflect-metadata';

import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { AppModule } from './app.module';
import { installGracefulShutdown } from './common/lifecycle/graceful-shutdown';
import { runPrimary } from './cluster/primary';
import { buildConfig, retiredVariableWarnings } from './config/app-config';
import { configureHttp, createHttpAdapter } from './http/http-app';
import { GrpcServerService } from './inference/grpc/grpc-server.service';
import { MetricsServer } from './metrics/metrics-server';
import { ModelRegistryService } from './models/registry/model-registry.service';

async function bootstrap(): Promise<void> {
  // Validated here too (and again by the config module): the adapter is built before the app.
  const config = buildConfig();
  // WORKERS > 1: this process only forks and watches the workers, each of which runs the rest.
  if (config.app.workers > 1 && cluster.isPrimary) return runPrimary(config);
  const { port, host, shutdownTimeoutSeconds, shutdownDelaySeconds } = config.app;
  const app = await NestFactory.create(AppModule, createHttpAdapter(config.app), { bodyParser: false, bufferLogs: true });
  for (const warning of retiredVariableWarnings()) Logger.warn(warning, 'Config');
  for (const warning of [...tracing.warnings, ...tracing.lateWarnings()]) Logger.warn(warning, 'Tracing');
  if (tracing.enabled) Logger.log(tracing.summary, 'Tracing');
  await configureHttp(app, config.app);
  installGracefulShutdown(app, { timeoutMs: shutdownTimeoutSeconds * 1000, delayMs: shutdownDelaySeconds * 1000, exit: exitAfterFlush });
  if (cluster.isWorker) {
    // A worker takes connections only once its models are loaded: the kernel hands connections to
    // every listening worker, and a (re)started one would answer 503 until then while the others could serve.
    await app.init();
    await app.get(ModelRegistryService).whenLoaded();
  }
  await app.listen(port, host);
  // (Under WORKERS the primary serves METRICS_PORT with every worker's metrics summed.)
  if (config.metrics.enabled && config.metrics.port !== port && !cluster.isWorker) await app.get(MetricsServer).start(config.metrics.port, host);
  // After HTTP listens; GRPC_PORT=0 leaves it off.
  await app.get(GrpcServerService).start();
  // The bound port (PORT=0 takes a free one: test harnesses read it from this line).
  const bound = (app.getHttpServer() as Server).address() as AddressInfo;
  Logger.log(`listening on http://${host}:${bound.port} (${config.app.httpAdapter}; docs at /docs)`, 'Bootstrap');
}

/**
 * A clean stop (exit 0) first sends the spans still queued, for at most a second (the grace the
 * stop budget keeps past SHUTDOWN_TIMEOUT_SECONDS); a failed or overdue stop exits at once.
 */
function exitAfterFlush(code: number): void {
  if (code !== 0 || !tracing.enabled) process.exit(code);
  void tracing.shutdown(1000).then(() => process.exit(code));
}

bootstrap().catch((err: unknown) => {
  // A bad configuration names every bad variable; print that message, not a stack.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
