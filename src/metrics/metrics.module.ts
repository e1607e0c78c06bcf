import { Global, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';

import { RequestMetrics } from '../common/observability/request-observers';
import { MetricsController } from './metrics.controller';
import { MetricsServer } from './metrics-server';
import { MetricsService } from './metrics.service';

/**
 * Prometheus metrics through @willsoto/nestjs-prometheus: its module registers the /metrics
 * route (our controller, serving this app's registry). The metrics themselves live in
 * MetricsService on a registry of its own per app, not prom-client's global one that the
 * library's metric providers use: several apps share one process in tests, and workers will
 * be aggregated per process. Default process metrics are collected there too.
 */
@Global()
@Module({
  imports: [PrometheusModule.register({ controller: MetricsController, path: 'metrics', defaultMetrics: { enabled: false } })],
  providers: [MetricsService, MetricsServer, { provide: RequestMetrics, useExisting: MetricsService }],
  exports: [MetricsService, MetricsServer, RequestMetrics],
})
export class MetricsModule {}
