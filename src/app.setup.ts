import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger as PinoLogger } from 'nestjs-pino';
import type { NextFunction, Request, Response } from 'express';

import { writeError } from './common/filters/all-exceptions.filter';
import { requestIdMiddleware } from './common/middleware/request-id.middleware';
import { AllConfig } from './config/app-config';
import { httpMetricsMiddleware } from './metrics/http-metrics.middleware';
import { MetricsService } from './metrics/metrics.service';

/**
 * HTTP wiring shared by main.ts and the e2e tests, so tests exercise exactly what production
 * runs. The app must be created with `{ bodyParser: false }`: the request id comes first, then
 * the JSON parser with BODY_LIMIT, then a handler that turns parser errors into the envelope.
 */
export function configureApp(app: NestExpressApplication): void {
  const config = app.get<ConfigService<AllConfig, true>>(ConfigService);
  const http = config.getOrThrow('app', { infer: true });
  app.useLogger(app.get(PinoLogger));
  app.disable('x-powered-by');
  app.use(requestIdMiddleware);
  app.use(httpMetricsMiddleware(app.get(MetricsService)));
  app.useBodyParser('json', { limit: http.bodyLimit });
  const logger = new Logger('HttpErrors');
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => writeError(err, req, res, logger));
  setupSwagger(app);
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
