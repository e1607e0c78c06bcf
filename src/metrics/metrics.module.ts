import { Global, Module } from '@nestjs/common';

import { MetricsController } from './metrics.controller';
import { MetricsServer } from './metrics-server';
import { MetricsService } from './metrics.service';

/** Prometheus metrics: one service with typed methods, the /metrics route and the optional separate port. */
@Global()
@Module({
  providers: [MetricsService, MetricsServer],
  controllers: [MetricsController],
  exports: [MetricsService, MetricsServer],
})
export class MetricsModule {}
