import { Logger } from '@nestjs/common';
import type { Worker } from 'node:cluster';
import cluster from 'node:cluster';
import { createServer, Server } from 'node:http';
import { AggregatorRegistry } from 'prom-client';

import { AllConfig } from '../config/app-config';

/** A worker that dies within this of its start counts as a crash loop: it is restarted after a growing pause. */
const QUICK_DEATH_MS = 10_000;
const MAX_RESTART_PAUSE_MS = 30_000;

export interface PrimaryOptions {
  exit?: (code: number) => void;
  /** The clock of the crash-loop back-off (ms). */
  now?: () => number;
}

/**
 * WORKERS=N: the primary process of node:cluster. It forks N workers, each the whole server
 * (models loaded, HTTP and gRPC on the shared ports, the kernel spreading connections); restarts a
 * worker that dies (at once, or after a pause that doubles while workers keep dying within 10 s of
 * their start); forwards SIGTERM/SIGINT so every worker drains, and exits 0 once all have (1 if one
 * did not stop cleanly, or past delay + timeout + 2 s). With METRICS_PORT apart from PORT it serves
 * /metrics itself: every worker's registry summed (prom-client's AggregatorRegistry); on PORT each
 * worker answers its own.
 */
export function runPrimary(config: AllConfig, options: PrimaryOptions = {}): void {
  const logger = new Logger('Cluster');
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const now = options.now ?? (() => Date.now());
  const { workers: count, shutdownDelaySeconds, shutdownTimeoutSeconds, host } = config.app;
  const started = new Map<number, number>();
  let pauseMs = 0;
  let stopping = false;
  let stopSignal: NodeJS.Signals | undefined;
  let failedStops = 0;

  const fork = (): Worker | undefined => {
    // (A restart due when a stop began would start a worker nobody asks to drain.)
    if (stopping) return undefined;
    const worker = cluster.fork();
    started.set(worker.id, now());
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    const lived = now() - (started.get(worker.id) ?? now());
    started.delete(worker.id);
    if (stopping) {
      // Killed by the very signal forwarded to it: it was still starting (a serving worker handles
      // the signal and drains, exiting 0), so nothing was in flight.
      if (code !== 0 && signal !== stopSignal) failedStops += 1;
      logger.log(`worker ${worker.process.pid} stopped (${signal ?? code}); ${Object.keys(cluster.workers ?? {}).length} left`);
      if (Object.keys(cluster.workers ?? {}).length === 0) finish();
      return;
    }
    pauseMs = lived < QUICK_DEATH_MS ? Math.min(MAX_RESTART_PAUSE_MS, Math.max(1000, pauseMs * 2)) : 0;
    logger.error(`worker ${worker.process.pid} died (${signal ?? `exit ${code}`}) after ${lived} ms; starting another${pauseMs ? ` in ${pauseMs} ms` : ''}`);
    // Not unref'd: with every worker gone and no metrics server, nothing else keeps the primary alive
    // until the restart (it would exit 0 with no worker serving).
    setTimeout(fork, pauseMs);
  });

  let metricsServer: Server | undefined;
  const finish = (): void => {
    metricsServer?.close();
    logger.log(`all workers stopped${failedStops ? `, ${failedStops} not cleanly` : ''}`);
    exit(failedStops ? 1 : 0);
  };

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    stopSignal = signal;
    logger.log(`${signal}: asking ${Object.keys(cluster.workers ?? {}).length} workers to drain`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    if (Object.keys(cluster.workers ?? {}).length === 0) finish();
    setTimeout(() => {
      logger.error('workers still running past the stop budget: killing them');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      exit(1);
    }, (shutdownDelaySeconds + shutdownTimeoutSeconds + 2) * 1000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  if (config.metrics.enabled && config.metrics.port !== config.app.port) {
    const aggregator = new AggregatorRegistry();
    metricsServer = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found: try GET /metrics\n');
        return;
      }
      aggregator.clusterMetrics().then(
        (text) => res.writeHead(200, { 'Content-Type': aggregator.contentType }).end(text),
        (err: Error) => {
          logger.error(`metrics of the workers could not be collected: ${err.message}`);
          res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed\n');
        },
      );
    });
    metricsServer.listen(config.metrics.port, host, () => logger.log(`metrics of ${count} workers on http://${host}:${config.metrics.port}/metrics`));
  }

  logger.log(`starting ${count} workers (WORKERS)`);
  for (let i = 0; i < count; i += 1) fork();
}
