import { Injectable } from '@nestjs/common';

import { ShutdownState } from '../common/lifecycle/shutdown-state';
import { ModelRegistryService } from '../models/registry/model-registry.service';
import { notServing } from './indicators/models.health';

/**
 * Server readiness for the protocol probes (V2 REST `/v2/health/ready`, gRPC ServerReady and
 * grpc.health.v1): every model's active version READY (models unloaded through the repository
 * API aside), and not shutting down.
 */
@Injectable()
export class ServerReadiness {
  constructor(private readonly registry: ModelRegistryService, private readonly shutdown: ShutdownState) {}

  get ready(): boolean {
    return !this.shutdown.shuttingDown && this.registry.list().every((e) => e.unloaded || notServing(e) === undefined);
  }
}
