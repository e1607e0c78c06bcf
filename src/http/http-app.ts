import { INestApplication } from '@nestjs/common';
import { AbstractHttpAdapter } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ConfigService } from '@nestjs/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Logger as PinoLogger } from 'nestjs-pino';
import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:http';

import { installLeanAsyncResourceBind } from '../common/runtime/async-resource-bind';
import { installLeanInterceptorsConsumer } from '../common/runtime/lean-interceptors';
import { installLeanRouterExecution } from '../common/runtime/lean-router-execution';
import { RequestMetrics } from '../common/observability/request-observers';
import { ApiKeyPolicy, presentedKeyOf, refuseKeyInUrl } from '../common/security/api-key-policy';
import { AllConfig } from '../config/app-config';
import { configureExpress, expressAdapter } from './express.http';
import { configureFastify, fastifyAdapter } from './fastify.http';
import { applyServerLimits } from './client-limits';
import { InflightBodies } from './inflight-bodies';
import { corsOptions } from './http-options';

/** The adapter HTTP_ADAPTER names, built with the options it needs before the app exists. */
export function createHttpAdapter(http: AllConfig['app']): AbstractHttpAdapter {
  return http.httpAdapter === 'express' ? expressAdapter(http) : fastifyAdapter(http);
}

/**
 * HTTP wiring shared by main.ts and the e2e tests, so tests exercise exactly what production
 * runs: the adapter's own file (request context, admission by bytes in flight, body parsing, helmet), then what every adapter
 * shares (logger, CORS, Swagger). Everything else is Nest: guards, pipes, interceptors, the filter.
 * Call before `init()`/`listen()`; an Express app must be created with `{ bodyParser: false }`.
 */
export async function configureHttp(app: INestApplication, http: AllConfig['app']): Promise<void> {
  installLeanAsyncResourceBind();
  installLeanInterceptorsConsumer();
  installLeanRouterExecution();
  app.useLogger(app.get(PinoLogger));
  applyServerLimits(app.getHttpServer() as Server, http.clientLimits);
  const metrics = app.get(RequestMetrics, { strict: false });
  const admission = http.maxInflightBytes > 0 ? new InflightBodies(http.maxInflightBytes, http, () => metrics.admissionRefused()) : undefined;
  if (admission) metrics.watchInflightBodies(() => admission.inFlightBytes);
  if (app.getHttpAdapter().getType() === 'fastify') await configureFastify(app as NestFastifyApplication, http, admission);
  else configureExpress(app as NestExpressApplication, http, admission);
  if (http.corsOrigins.length) app.enableCors(corsOptions(http.corsOrigins));
  if (http.docs !== 'off') {
    gateDocs(app, http.docs === 'auth');
    setupSwagger(app);
  }
}

/** /docs, its assets and /docs-json (Swagger UI is served outside Nest's routes, so no guard sees it). */
const isDocsPath = (url: string | undefined): boolean => url !== undefined && /^\/docs(?:[-/?.]|$)/i.test(url);

/**
 * A key in a /docs URL is refused as everywhere; with DOCS=auth the documentation needs a client
 * key (an admin key works too), checked as the guard checks prediction routes. A refusal is the
 * usual envelope through the exception filter (Nest's error handler).
 */
function gateDocs(app: INestApplication, needsKey: boolean): void {
  const security = app.get(ConfigService<AllConfig, true>).getOrThrow('security', { infer: true });
  const policy = new ApiKeyPolicy(security.apiKeys, security.adminApiKeys);
  const check = (req: { url?: string; headers: Record<string, string | string[] | undefined> }): void => {
    if (!isDocsPath(req.url)) return;
    refuseKeyInUrl(req.url);
    if (needsKey) policy.authorize('client', presentedKeyOf(req.headers.authorization, req.headers['x-api-key']));
  };
  if (app.getHttpAdapter().getType() === 'fastify') {
    const fastify = (app as NestFastifyApplication).getHttpAdapter().getInstance();
    // Nest's error handler (the exception filter) is Fastify's errorHandler once the app is initialised; a hook's done(err) would reach Fastify's default one.
    fastify.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
      try { check(req.raw); done(); } catch (e) { fastify.errorHandler(e as Error & { statusCode?: number }, req, reply); }
    });
  } else {
    (app as NestExpressApplication).use((req: IncomingMessage, _res: unknown, next: (err?: unknown) => void) => {
      try { check(req); next(); } catch (e) { next(e); }
    });
  }
}

/** For tests: after `init()`, Fastify must finish registering its plugins and routes before it answers. */
export async function httpReady(app: INestApplication): Promise<void> {
  const instance = app.getHttpAdapter().getInstance() as { ready?: () => Promise<unknown> };
  if (typeof instance.ready === 'function') await instance.ready();
}

function setupSwagger(app: INestApplication): void {
  const document = new DocumentBuilder()
    .setTitle('nest-model-server')
    .setDescription('Production ML model serving: ONNX models over REST. Errors are one JSON envelope `{status, error: {code, message, details}, request_id, timestamp}`.')
    .setVersion('0.1.0')
    .addBearerAuth()
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, document), { jsonDocumentUrl: 'docs-json' });
}
