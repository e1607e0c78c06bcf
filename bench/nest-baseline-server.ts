// The framework limit: a bare NestJS app (no guards, pipes, interceptors, logging or metrics)
// whose POST /predict answers the same fixed body as reference-server.js, on the Express or the
// Fastify adapter. Run as a child process:
//   node -r ts-node/register/transpile-only bench/nest-baseline-server.ts <port> express|fastify
// and prints "listening <port>" once bound.
import 'reflect-metadata';

import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';

@Controller()
class BaselineController {
  @Post('predict')
  @HttpCode(200)
  predict(@Body() body: { model_id?: unknown }) {
    return {
      request_id: randomUUID(),
      model_id: typeof body?.model_id === 'string' ? body.model_id : 'iris',
      model_version: '2',
      prediction: { class: 'setosa', confidence: 0.99996, probabilities: { setosa: 0.99996, versicolor: 0.00004, virginica: 1.5e-16 } },
      timestamp: new Date().toISOString(),
      processing_time_ms: 0,
      cached: false,
      variant: 'stable',
    };
  }

  @Get('health/ready')
  ready() {
    return { status: 'ok' };
  }
}

@Module({ controllers: [BaselineController] })
class BaselineModule {}

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 0);
  const framework = process.argv[3] === 'fastify' ? 'fastify' : 'express';
  const app = framework === 'fastify'
    ? await NestFactory.create(BaselineModule, new FastifyAdapter(), { logger: false })
    : await NestFactory.create(BaselineModule, { logger: false });
  await app.listen(port, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  process.stdout.write(`listening ${address.port}\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
