import { INestApplication, Logger } from '@nestjs/common';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';

import { ShutdownState } from './shutdown-state';

export interface GracefulShutdownOptions {
  /** Longest wait for in-flight requests before open connections are cut (SHUTDOWN_TIMEOUT_SECONDS). */
  timeoutMs: number;
  /** Time readiness reports 503 while the server still accepts, so load balancers stop routing here first (SHUTDOWN_DELAY_SECONDS). */
  delayMs: number;
  /** Ends the process; injectable for tests. */
  exit?: (code: number) => void;
}

/**
 * Stops accepting and resolves once every connection has ended, or cuts them after timeoutMs.
 * http.Server#close would also destroy every "idle" socket at once, including sockets the kernel
 * accepted whose request Node has not parsed yet: those clients would see ECONNRESET. So only the
 * listener is closed here, and idle sockets are closed once no request is in flight.
 */
function drain(server: Server, state: ShutdownState, timeoutMs: number, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => { if (state.inFlight === 0) server.closeIdleConnections(); }, 100);
    const cut = setTimeout(() => {
      logger.warn(`drain timeout reached with ${state.inFlight} requests in flight: closing the remaining connections`);
      server.closeAllConnections();
    }, timeoutMs);
    NetServer.prototype.close.call(server, () => {
      clearInterval(poll);
      clearTimeout(cut);
      resolve();
    });
    logger.log('listener closed: new connections are refused');
  });
}

/**
 * SIGTERM/SIGINT → readiness 503 at once → (optional delay) → stop accepting connections (HTTP and
 * every server added to ShutdownState, i.e. gRPC) → let in-flight requests finish (up to
 * timeoutMs) → Nest shutdown hooks release the onnxruntime sessions → exit 0. Replaces enableShutdownHooks, which re-raises the signal and so never exits 0.
 */
export function installGracefulShutdown(app: INestApplication, options: GracefulShutdownOptions): void {
  const logger = new Logger('Shutdown');
  app.get(ShutdownState).track(app.getHttpServer() as Server);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started = false;
  const run = async (signal: string): Promise<void> => {
    if (started) return;
    started = true;
    const state = app.get(ShutdownState);
    state.begin();
    logger.log(`${signal}: readiness now 503; draining ${state.inFlight} in-flight requests (up to ${options.timeoutMs} ms)`);
    try {
      await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      // HTTP and the other servers (gRPC) drain together, before the shutdown hooks release the models.
      await Promise.all([drain(app.getHttpServer() as Server, state, options.timeoutMs, logger), state.drainServers(options.timeoutMs)]);
      await app.close();
      logger.log('shutdown complete');
      exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void run(signal));
}
