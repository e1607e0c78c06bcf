import 'reflect-metadata';

import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';

import { AppModule } from './app.module';
import { installGracefulShutdown } from './common/lifecycle/graceful-shutdown';
import { configureApp } from './app.setup';
import { AllConfig } from './config/app-config';
import { MetricsServer } from './metrics/metrics-server';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, bufferLogs: true });
  configureApp(app);
  const config = app.get<ConfigService<AllConfig, true>>(ConfigService);
  const { port, host, shutdownTimeoutSeconds, shutdownDelaySeconds } = config.getOrThrow('app', { infer: true });
  installGracefulShutdown(app, { timeoutMs: shutdownTimeoutSeconds * 1000, delayMs: shutdownDelaySeconds * 1000 });
  const metrics = config.getOrThrow('metrics', { infer: true });
  await app.listen(port, host);
  if (metrics.enabled && metrics.port !== port) await app.get(MetricsServer).start(metrics.port, host);
  Logger.log(`listening on http://${host}:${port} (docs at /docs)`, 'Bootstrap');
}

bootstrap().catch((err: unknown) => {
  // A bad configuration names every bad variable; print that message, not a stack.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
