import { Injectable } from '@nestjs/common';

import { ShutdownState } from '../common/lifecycle/shutdown-state';
import { ModelRegistryService } from '../models/registry/model-registry.service';
import { RegistryStateSync } from '../models/registry/registry-state-sync.service';
import { notServing } from './indicators/models.health';

/**
 * Server readiness for the protocol probes (V2 REST `/v2/health/ready`, gRPC ServerReady and
 * grpc.health.v1): every model's active version READY (models unloaded through the repository
 * API aside), the shared registry state read once since start (REDIS_URL), and not shutting down.
 */
@Injectable()
export class ServerReadiness {
  constructor(private readonly registry: ModelRegistryService, private readonly shutdown: ShutdownState, private readonly sync: RegistryStateSync) {}

  get ready(): boolean {
    return !this.shutdown.shuttingDown && this.sync.hasSynced && this.registry.list().every((e) => e.unloaded || notServing(e) === undefined);
  }
}
