import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';

import { Public } from '../common/decorators/access.decorator';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import type { HttpReply } from '../common/http/http-reply';
import { MetricsService } from './metrics.service';

/**
 * GET /metrics on the main port, registered by PrometheusModule. It answers only when
 * METRICS_PORT equals PORT (the variable that asks for it); otherwise metrics live on the
 * separate METRICS_PORT server and this route is 404, as it is with ENABLE_METRICS=false.
 */
@ApiExcludeController()
@Public()
@Controller()
export class MetricsController extends PrometheusController {
  constructor(private readonly metrics: MetricsService) {
    super();
  }

  @Get()
  override async index(@Res({ passthrough: true }) res: HttpReply): Promise<string> {
    if (!this.metrics.enabled) throw new AppError(ErrorCode.NOT_FOUND, 'Metrics are disabled (ENABLE_METRICS=false)');
    if (!this.metrics.onMainPort) throw new AppError(ErrorCode.NOT_FOUND, 'Metrics are served on METRICS_PORT (set METRICS_PORT=PORT to serve them here)');
    res.header('Content-Type', this.metrics.contentType);
    return this.metrics.exposition();
  }
}
