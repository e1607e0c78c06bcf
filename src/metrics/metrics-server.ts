import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';

import { MetricsService } from './metrics.service';

/**
 * The seed's separate metrics server: the same registry served on METRICS_PORT, so /metrics can
 * stay off the public port. Started by main.ts when METRICS_PORT differs from PORT.
 */
@Injectable()
export class MetricsServer implements OnApplicationShutdown {
  private readonly logger = new Logger(MetricsServer.name);
  private server: Server | undefined;

  constructor(private readonly metrics: MetricsService) {}

  /** Listens on `port` (0 = any free port); resolves with the bound port. */
  start(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found: try GET /metrics\n');
        return;
      }
      this.metrics.exposition().then(
        (text) => res.writeHead(200, { 'Content-Type': this.metrics.contentType }).end(text),
        () => res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed\n'),
      );
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const bound = (server.address() as AddressInfo).port;
        this.logger.log(`metrics on http://${host}:${bound}/metrics`);
        resolve(bound);
      });
    });
  }

  onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
