import { Injectable, OnModuleDestroy } from '@nestjs/common';

/**
 * Whether the process is shutting down. Set by the SIGTERM handler in main.ts before the server
 * stops accepting connections (and, as a fallback, by Nest's first shutdown hook), so readiness
 * answers 503 at once and the orchestrator stops routing traffic here.
 */
@Injectable()
export class ShutdownState implements OnModuleDestroy {
  private since: Date | undefined;

  get shuttingDown(): boolean {
    return this.since !== undefined;
  }

  begin(): void {
    this.since ??= new Date();
  }

  onModuleDestroy(): void {
    this.begin();
  }
}
