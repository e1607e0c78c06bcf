import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** A server the shutdown drains: stops accepting, resolves once its calls in flight ended or were cut after `timeoutMs`. */
export interface DrainableServer {
  drain(timeoutMs: number): Promise<void>;
}

/**
 * Whether the process is shutting down, and how many requests are in flight. Set by the SIGTERM
 * handler before the server stops accepting connections (and, as a fallback, by Nest's first
 * shutdown hook), so readiness answers 503 at once and the orchestrator stops routing here.
 */
@Injectable()
export class ShutdownState implements OnModuleDestroy {
  private since: Date | undefined;
  private active = 0;
  private readonly servers = new Set<DrainableServer>();

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

  /**
   * A server besides the HTTP one (gRPC) that the SIGTERM handler drains together with it,
   * before Nest's shutdown hooks release the models. Returns a function that removes it.
   */
  addServer(server: DrainableServer): () => void {
    this.servers.add(server);
    return () => this.servers.delete(server);
  }

  /** Drains every added server at once (stop accepting, let calls in flight finish, cut them after `timeoutMs`). */
  async drainServers(timeoutMs: number): Promise<void> {
    await Promise.all([...this.servers].map((s) => s.drain(timeoutMs)));
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
