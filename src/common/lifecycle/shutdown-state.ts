import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

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
   * Counts the server's requests in flight (the Node server's own 'request' event, the same under
   * every adapter); while shutting down, answers with `Connection: close` so keep-alive clients
   * reconnect elsewhere instead of reusing a socket that is about to close.
   */
  track(server: Server): void {
    server.on('request', this.onRequest);
  }

  private readonly onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    this.active += 1;
    res.once('close', () => { this.active -= 1; });
    if (this.shuttingDown) res.setHeader('Connection', 'close');
  };
}
