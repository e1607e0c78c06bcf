import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';

import { Public } from '../common/decorators/access.decorator';
import { ModelsHealthIndicator } from './indicators/models.health';
import { ProcessHealthIndicator } from './indicators/process.health';
import { RedisHealthIndicator } from './indicators/redis.health';

/** Terminus probes. Never throttled nor behind API keys. */
@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly models: ModelsHealthIndicator,
    private readonly process: ProcessHealthIndicator,
    private readonly redis: RedisHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Full report: each model (healthy/degraded by windowed error rate, latency), memory, repository, Redis (with REDIS_URL)' })
  report() {
    return this.health.check([
      ...this.models.perModel().map((r) => () => r),
      () => this.process.memory(),
      () => this.process.repositoryReadable(),
      ...(this.redis.configured ? [() => this.redis.check()] : []),
    ]);
  }

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process answers (no model or dependency checks)' })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: every active version loaded and warm, the shared registry state read once since start (REDIS_URL), memory under MAX_MEMORY_MB, not shutting down (a later Redis outage does not fail it)' })
  ready() {
    return this.health.check([
      () => this.process.notShuttingDown(),
      () => this.models.allActiveReady(),
      ...(this.models.stateShared ? [() => this.models.stateSynced()] : []),
      () => this.process.memory(),
    ]);
  }
}
