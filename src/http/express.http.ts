import { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter, NestExpressApplication } from '@nestjs/platform-express';
import { createServer, Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import compression from 'compression';
import helmet from 'helmet';

import { AppError } from '../common/errors/app-error';
import { mapError } from '../common/errors/error-mapper';
import { openContext } from '../common/http/request-context';
import { isV2Path } from '../common/validation/input-limits';
import { AllConfig } from '../config/app-config';
import { answerClientError, nodeServerOptions } from './client-limits';
import { COMPRESSION, helmetOptions, trustProxySetting } from './http-options';
import { InflightBodies } from './inflight-bodies';
import { isBinaryInferRequest, isJsonInferRequest, isJsonMedia, isUntypedV2Body, parseBinaryInferBody, readJsonBody, unsupportedMediaType } from './request-bodies';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Nest's Express adapter, creating its server with Node's limits against slow and oversized clients (client-limits.ts). */
class LimitedExpressAdapter extends ExpressAdapter {
  constructor(private readonly limits: AllConfig['app']['clientLimits']) {
    super();
  }

  override initHttpServer(options: NestApplicationOptions): void {
    if (options?.httpsOptions) return super.initHttpServer(options);
    this.httpServer = createServer(nodeServerOptions(this.limits), this.getInstance());
    if (options?.forceCloseConnections) (this as unknown as { trackOpenConnections(): void }).trackOpenConnections();
  }
}

export const expressAdapter = (http: AllConfig['app']): ExpressAdapter => new LimitedExpressAdapter(http.clientLimits);

/**
 * Express-specific wiring: the request context first, admission by bytes in flight (`admission`,
 * MAX_INFLIGHT_MB), helmet, response compression (see COMPRESSION), the raw parser for V2 binary bodies
 * and body-parser's JSON parser with V2_BODY_LIMIT on /v2 and BODY_LIMIT elsewhere, 415 for other bodies, and body-parser's errors
 * turned into AppErrors before Nest's error handler (which would make every SyntaxError a bare 400).
 * The app must be created with `{ bodyParser: false }`.
 */
export function configureExpress(app: NestExpressApplication, http: AllConfig['app'], admission: InflightBodies | undefined): void {
  // A request the parser refuses (smuggling, oversized headers, a slow client) gets the envelope; Node would answer a bare 400.
  (app.getHttpServer() as Server).on('clientError', answerClientError);
  app.disable('x-powered-by');
  // Prediction answers differ every time; an ETag per response is hashing for nothing.
  app.set('etag', false);
  app.set('trust proxy', trustProxySetting(http.trustProxy));
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Request-Id', openContext(req).id);
    next();
  });
  // MAX_INFLIGHT_MB, before any body parser reads the body.
  if (admission) {
    app.use((req: Request, res: Response, next: NextFunction) => {
      try {
        admission.admit(req, res);
        next();
      } catch (e) {
        next(e);
      }
    });
  }
  app.use(helmet(helmetOptions()));
  app.use(compression({ threshold: COMPRESSION.thresholdBytes, ...COMPRESSION.zlib, brotli: COMPRESSION.brotli, filter: compressible }));
  // Inference bodies are only ever /v2 bodies (V2_BODY_LIMIT), read raw: binary tensor data, and
  // JSON for the tensor fast path (as on Fastify: see readJsonBody).
  app.useBodyParser('raw', { limit: http.v2BodyLimitBytes, type: (req: Request) => isBinaryInferRequest(req) || isJsonInferRequest(req) });
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (!Buffer.isBuffer(req.body)) return next();
    try {
      if (isBinaryInferRequest(req)) req.body = parseBinaryInferBody(req, req, req.body);
      else if (isJsonInferRequest(req)) req.body = readJsonBody(req, req.body);
      next();
    } catch (e) {
      next(e);
    }
  });
  app.use(contentTypeCheck);
  app.useBodyParser('json', { limit: http.v2BodyLimitBytes, type: (req: Request) => isV2Path(req.url) && (isJsonMedia(req.headers['content-type']) || isUntypedV2Body(req)) });
  app.useBodyParser('json', { limit: http.bodyLimit, type: (req: Request) => isJsonMedia(req.headers['content-type']) });
  app.use((err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    const mapped = mapError(err);
    next(mapped.unexpected ? err : new AppError(mapped.code, mapped.message, mapped.details, mapped.retryAfterSeconds));
  });
}

/** Requests that carry a body must say it is JSON (415 otherwise); body-less POSTs (admin actions) pass. */
function contentTypeCheck(req: Request, _res: Response, next: NextFunction): void {
  if (Buffer.isBuffer(req.body) || req.body !== undefined) return next();
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!BODY_METHODS.has(req.method) || !hasBody || isJsonMedia(req.headers['content-type']) || isUntypedV2Body(req)) return next();
  next(unsupportedMediaType(req.headers['content-type']));
}

/** What compression's own filter takes (JSON, text), and the V2 binary tensor data too, as @fastify/compress does. */
function compressible(req: Request, res: Response): boolean {
  return compression.filter(req, res) || /^application\/octet-stream\b/.test(String(res.getHeader('Content-Type') ?? ''));
}
