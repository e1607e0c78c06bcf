import { INestApplication, Logger } from '@nestjs/common';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';

import { ShutdownState } from './shutdown-state';

export interface GracefulShutdownOptions {
  /**
   * The stop's one budget (SHUTDOWN_TIMEOUT_SECONDS), counted after the delay: the HTTP and gRPC
   * drains and the release of the model sessions all fit in it; past it (plus a second of grace)
   * the process exits 1 whatever is still running.
   */
  timeoutMs: number;
  /** Time readiness reports 503 while the server still accepts, so load balancers stop routing here first (SHUTDOWN_DELAY_SECONDS). */
  delayMs: number;
  /** Ends the process; injectable for tests. */
  exit?: (code: number) => void;
  /** Waits `ms` (the delay); injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  /** The signals that start the stop (tests pass none and call the returned handler). */
  signals?: readonly NodeJS.Signals[];
}

/** How often the drain looks for connections to close, ms. */
const SWEEP_MS = 100;
/** A connection accepted but silent this long, with nothing in flight, is closed (it has sent nothing, so nothing is lost). */
const SILENT_MS = 1000;
/** At most this many event-loop turns spent taking connections from the kernel's accept queue. */
const MAX_ACCEPT_TURNS = 50;
/** Past the budget, this long for the last steps before the process exits 1. */
const HARD_STOP_GRACE_MS = 1000;

/** One turn of the event loop including its poll phase (where the listening socket's queued connections are accepted). */
const nextLoopTurn = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/**
 * Stops accepting HTTP connections without resetting any client that already connected, and
 * resolves once every connection has ended, or cuts them after `timeoutMs`:
 *
 * 1. Connections the kernel completed but Node has not accepted yet would be reset by closing the
 *    listener, so the drain first lets event-loop turns pass until one accepts nothing new.
 * 2. Only the listener is closed (http.Server#close would also destroy every "idle" socket,
 *    including accepted sockets whose request has not been read yet: ECONNRESET for clients).
 * 3. Every response now carries `Connection: close`; keep-alive connections between requests are
 *    closed; an accepted connection that has sent nothing is given its chance to (closed only once
 *    it has been silent for a second with nothing in flight).
 */
export async function drainHttp(server: Server, state: ShutdownState, timeoutMs: number, logger: Logger): Promise<void> {
  for (let turn = 0; turn < MAX_ACCEPT_TURNS; turn += 1) {
    const before = state.accepted;
    await nextLoopTurn();
    if (state.accepted === before) break;
  }
  await new Promise<void>((resolve) => {
    const sweep = setInterval(() => state.closeIdleConnections(SILENT_MS), SWEEP_MS);
    const cut = setTimeout(() => {
      logger.warn(`drain timeout reached with ${state.inFlight} requests in flight: closing the remaining connections`);
      state.closeAllConnections();
      server.closeAllConnections();
    }, timeoutMs);
    NetServer.prototype.close.call(server, () => {
      clearInterval(sweep);
      clearTimeout(cut);
      resolve();
    });
    state.closeIdleConnections(SILENT_MS);
    logger.log('listener closed: new connections are refused');
  });
}

/**
 * SIGTERM/SIGINT → readiness 503 at once → (optional delay) → one budget starts → stop accepting
 * (HTTP and every server added to ShutdownState, i.e. gRPC) → in-flight requests finish → Nest's
 * shutdown hooks release the onnxruntime sessions with what is left of the budget → exit 0.
 * Replaces enableShutdownHooks, which re-raises the signal and so never exits 0. Returns the
 * handler (tests call it instead of sending a signal).
 */
export function installGracefulShutdown(app: INestApplication, options: GracefulShutdownOptions): (signal: string) => Promise<void> {
  const logger = new Logger('Shutdown');
  const state = app.get(ShutdownState);
  const server = app.getHttpServer() as Server;
  state.track(server);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let started = false;
  const run = async (signal: string): Promise<void> => {
    if (started) return;
    started = true;
    state.begin();
    logger.log(`${signal}: readiness now 503; ${state.inFlight} requests in flight; stop budget ${options.timeoutMs} ms after a ${options.delayMs} ms delay`);
    try {
      await sleep(options.delayMs);
      state.startBudget(options.timeoutMs);
      const hardStop = setTimeout(() => {
        logger.error(`shutdown budget of ${options.timeoutMs} ms exceeded: exiting now`);
        exit(1);
      }, options.timeoutMs + HARD_STOP_GRACE_MS);
      hardStop.unref();
      // HTTP and the other servers (gRPC) drain together, before the shutdown hooks release the models.
      await Promise.all([drainHttp(server, state, options.timeoutMs, logger), state.drainServers(options.timeoutMs)]);
      await app.close();
      clearTimeout(hardStop);
      logger.log('shutdown complete');
      exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      exit(1);
    }
  };
  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) process.once(signal, () => void run(signal));
  return run;
}
