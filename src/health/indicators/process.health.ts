import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

import { ShutdownState } from '../../common/lifecycle/shutdown-state';
import { AllConfig } from '../../config/app-config';
import { ModelRepositoryService } from '../../models/repository/model-repository.service';

const MB = 1024 * 1024;

/** Memory against MAX_MEMORY_MB, the repository being readable, and the shutdown flag. */
@Injectable()
export class ProcessHealthIndicator {
  private readonly maxMemoryMb: number;

  constructor(
    private readonly health: HealthIndicatorService,
    private readonly shutdown: ShutdownState,
    private readonly repository: ModelRepositoryService,
    config: ConfigService<AllConfig, true>,
  ) {
    this.maxMemoryMb = config.getOrThrow('limits.maxMemoryMb', { infer: true });
  }

  /** RSS must stay under MAX_MEMORY_MB; heap is reported alongside. */
  memory(): HealthIndicatorResult {
    const { rss, heapUsed, heapTotal } = process.memoryUsage();
    const data = { rss_mb: round(rss / MB), heap_used_mb: round(heapUsed / MB), heap_total_mb: round(heapTotal / MB), max_memory_mb: this.maxMemoryMb };
    const session = this.health.check('memory');
    return rss / MB < this.maxMemoryMb ? session.up(data) : session.down({ ...data, message: 'RSS above MAX_MEMORY_MB' });
  }

  notShuttingDown(): HealthIndicatorResult {
    const session = this.health.check('shutdown');
    return this.shutdown.shuttingDown ? session.down({ message: 'shutting down' }) : session.up();
  }

  async repositoryReadable(): Promise<HealthIndicatorResult> {
    const session = this.health.check('model_repository');
    // The repository's path is the server's business (it stays in the start-up log), not a caller's.
    return (await this.repository.isReadable()) ? session.up() : session.down({ message: 'MODEL_REPOSITORY is not readable' });
  }
}

const round = (n: number): number => Math.round(n * 10) / 10;
