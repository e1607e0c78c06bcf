import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** A server the shutdown drains: stops accepting, resolves once its calls in flight ended or were cut after `timeoutMs`. */
export interface DrainableServer {
  drain(timeoutMs: number): Promise<void>;
}

/** What the drain knows of one accepted HTTP connection. */
interface Connection {
  /** Requests received on it and not yet answered. */
  active: number;
  /** At least one response was sent on it (a keep-alive connection between requests, once idle). */
  served: boolean;
  /** `socket.bytesRead` when its last response ended: more since means a next request has begun. */
  readAtLastAnswer: number;
  acceptedAt: number;
}

/**
 * Whether the process is shutting down, the one time budget of the stop, how many requests are in
 * flight, and the HTTP connections the server accepted. Set by the SIGTERM handler before the
 * server stops accepting connections (and, as a fallback, by Nest's first shutdown hook), so
 * readiness answers 503 at once and the orchestrator stops routing here.
 */
@Injectable()
export class ShutdownState implements OnModuleDestroy {
  /** The clock of the budget and of connection ages (milliseconds); replaceable in tests. */
  now: () => number = () => performance.now();
  private since: number | undefined;
  private deadline: number | undefined;
  private active = 0;
  private acceptedTotal = 0;
  private readonly servers = new Set<DrainableServer>();
  private readonly connections = new Map<Socket, Connection>();
  private readonly responses = new Set<ServerResponse>();

  get shuttingDown(): boolean {
    return this.since !== undefined;
  }

  /** Requests received and not yet answered. */
  get inFlight(): number {
    return this.active;
  }

  /** Connections accepted since start (the drain watches it to know the kernel's accept queue is empty). */
  get accepted(): number {
    return this.acceptedTotal;
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.connections.size;
  }

  /** Shutting down from now: readiness 503, and every answer not yet started (in flight now or later) closes its connection. */
  begin(): void {
    if (this.since !== undefined) return;
    this.since = this.now();
    for (const res of this.responses) if (!res.headersSent) res.setHeader('Connection', 'close');
  }

  /**
   * Starts the stop's one budget (SHUTDOWN_TIMEOUT_SECONDS): the HTTP and gRPC drains and the
   * release of the model sessions all share it, so a stop never takes longer than
   * SHUTDOWN_DELAY_SECONDS + SHUTDOWN_TIMEOUT_SECONDS.
   */
  startBudget(ms: number): void {
    this.begin();
    this.deadline ??= this.now() + ms;
  }

  /** What is left of the budget (ms, ≥ 0), or undefined when no budgeted stop is under way (an app closed by a test). */
  remainingMs(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline - this.now());
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
   * Follows the server's connections and requests (the Node server's own 'connection' and
   * 'request' events, the same under every adapter); while shutting down, answers with
   * `Connection: close` so keep-alive clients reconnect elsewhere instead of reusing a socket
   * that is about to close.
   */
  track(server: Server): void {
    server.on('connection', this.onConnection);
    server.on('request', this.onRequest);
  }

  /**
   * Closes the connections nobody is waiting on: keep-alive connections between requests, and
   * connections that have sent nothing for `silentMs` while no request is in flight (so the event
   * loop was free to read whatever they sent). A connection whose request is in flight, or that
   * was just accepted, is left alone: closing it would reset a client that already connected.
   */
  closeIdleConnections(silentMs: number): void {
    const now = this.now();
    for (const [socket, c] of this.connections) {
      if (c.active > 0) continue;
      const between = c.served && socket.bytesRead === c.readAtLastAnswer;
      if (between || (!c.served && this.active === 0 && socket.bytesRead === 0 && now - c.acceptedAt >= silentMs)) socket.destroy();
    }
  }

  /** Cuts every connection (the budget is spent). */
  closeAllConnections(): void {
    for (const socket of this.connections.keys()) socket.destroy();
  }

  private readonly onConnection = (socket: Socket): void => {
    this.acceptedTotal += 1;
    this.connections.set(socket, { active: 0, served: false, readAtLastAnswer: 0, acceptedAt: this.now() });
    socket.once('close', () => this.connections.delete(socket));
  };

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.active += 1;
    const socket = req.socket;
    const connection = this.connections.get(socket);
    if (connection) connection.active += 1;
    this.responses.add(res);
    res.once('close', () => {
      this.active -= 1;
      this.responses.delete(res);
      if (connection) {
        connection.active -= 1;
        connection.served = true;
        connection.readAtLastAnswer = socket.bytesRead;
      }
    });
    if (this.shuttingDown) res.setHeader('Connection', 'close');
  };
}
