import 'reflect-metadata';

import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';

import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { AllConfig } from './config/app-config';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false });
  configureApp(app);
  app.enableShutdownHooks();
  const { port, host } = app.get<ConfigService<AllConfig, true>>(ConfigService).getOrThrow('app', { infer: true });
  await app.listen(port, host);
  Logger.log(`listening on http://${host}:${port} (docs at /docs)`, 'Bootstrap');
}

bootstrap().catch((err: unknown) => {
  // A bad configuration names every bad variable; print that message, not a stack.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
