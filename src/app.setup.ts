import { Logger } from '@nestjs/common';
import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface';
import { ConfigService } from '@nestjs/config';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger as PinoLogger } from 'nestjs-pino';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { IncomingMessage } from 'node:http';

import { writeError } from './common/filters/all-exceptions.filter';
import { ShutdownState } from './common/lifecycle/shutdown-state';
import { binaryInferBodyMiddleware, isBinaryInferRequest } from './common/middleware/binary-infer-body.middleware';
import { inputLimitsMiddleware, isUntypedV2Body, jsonContentTypeMiddleware } from './common/validation/input-limits';
import { requestIdMiddleware } from './common/middleware/request-id.middleware';
import { AllConfig } from './config/app-config';
import { predictionLogMiddleware } from './logging/prediction-log.middleware';
import { httpMetricsMiddleware } from './metrics/http-metrics.middleware';
import { MetricsService } from './metrics/metrics.service';
import { SerializationMiddleware } from './serialization/serialization.middleware';

/**
 * HTTP wiring shared by main.ts and the e2e tests, so tests exercise exactly what production
 * runs. The app must be created with `{ bodyParser: false }`: the request id comes first, then
 * the JSON parser with BODY_LIMIT, then a handler that turns parser errors into the envelope.
 */
export function configureApp(app: NestExpressApplication): void {
  const config = app.get<ConfigService<AllConfig, true>>(ConfigService);
  const http = config.getOrThrow('app', { infer: true });
  const limits = config.getOrThrow('limits', { infer: true });
  app.useLogger(app.get(PinoLogger));
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxySetting(http.trustProxy));
  app.use(requestIdMiddleware);
  app.use(app.get(ShutdownState).middleware);
  app.use(predictionLogMiddleware);
  app.use(app.get(SerializationMiddleware).handle);
  app.use(httpMetricsMiddleware(app.get(MetricsService)));
  // No upgrade-insecure-requests: internal callers reach the service over plain HTTP by service
  // name, and Swagger UI's scripts would be "upgraded" to an https that is not there.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  if (http.corsOrigins.length) app.enableCors(corsOptions(http.corsOrigins));
  // V2 binary tensor data extension (tritonclient's default): read raw, split into JSON header + tensor bytes.
  app.useBodyParser('raw', { limit: http.bodyLimit, type: isBinaryInferRequest });
  app.use(binaryInferBodyMiddleware);
  app.use(jsonContentTypeMiddleware);
  app.useBodyParser('json', { limit: http.bodyLimit, type: (req: IncomingMessage) => isJsonBody(req) });
  app.use(inputLimitsMiddleware(limits));
  const logger = new Logger('HttpErrors');
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => writeError(err, req, res, logger));
  setupSwagger(app);
}

/** JSON bodies: application/json or +json, and untyped bodies on /v2 routes (tritonclient sends no Content-Type). */
function isJsonBody(req: IncomingMessage): boolean {
  const media = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return media === 'application/json' || /^application\/[^/]+\+json$/.test(media) || isUntypedV2Body(req);
}

/** TRUST_PROXY → Express `trust proxy`: empty = off (X-Forwarded-For ignored), true/false, a hop count, or addresses/subnets. */
export function trustProxySetting(value: string): boolean | number | string {
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** CORS only for the listed origins; `*` is allowed but never together with credentials. */
export function corsOptions(origins: string[]): CorsOptions {
  const any = origins.includes('*');
  return { origin: any ? '*' : origins, credentials: !any, exposedHeaders: ['X-Request-Id', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'] };
}

function setupSwagger(app: NestExpressApplication): void {
  const document = new DocumentBuilder()
    .setTitle('nest-model-server')
    .setDescription('Production ML model serving: ONNX models over REST. Errors are one JSON envelope `{status, error: {code, message, details}, request_id, timestamp}`.')
    .setVersion('0.1.0')
    .addBearerAuth()
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, document), { jsonDocumentUrl: 'docs-json' });
}
