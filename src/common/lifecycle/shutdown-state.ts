import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/**
 * Whether the process is shutting down, and how many requests are in flight. Set by the SIGTERM
 * handler before the server stops accepting connections (and, as a fallback, by Nest's first
 * shutdown hook), so readiness answers 503 at once and the orchestrator stops routing here.
 */
@Injectable()
export class ShutdownState implements OnModuleDestroy {
  private since: Date | undefined;
  private active = 0;

  get shuttingDown(): boolean {
    return this.since !== undefined;
  }

  /** Requests received and not yet answered. */
  get inFlight(): number {
    return this.active;
  }

  begin(): void {
    this.since ??= new Date();
  }

  onModuleDestroy(): void {
    this.begin();
  }

  /**
   * Counts requests in flight; while shutting down, answers with `Connection: close` so
   * keep-alive clients reconnect elsewhere instead of reusing a socket that is about to close.
   */
  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    this.active += 1;
    res.once('close', () => { this.active -= 1; });
    if (this.shuttingDown) res.setHeader('Connection', 'close');
    next();
  };
}
