import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';

import { Public } from '../common/decorators/access.decorator';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-code';
import { MetricsService } from './metrics.service';

/** GET /metrics in Prometheus text format; 404 when ENABLE_METRICS=false. */
@ApiExcludeController()
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  async scrape(@Res({ passthrough: true }) res: Response): Promise<string> {
    if (!this.metrics.enabled) throw new AppError(ErrorCode.NOT_FOUND, 'Metrics are disabled (ENABLE_METRICS=false)');
    res.setHeader('Content-Type', this.metrics.contentType);
    return this.metrics.exposition();
  }
}
