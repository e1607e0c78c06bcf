import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';

import { Public } from '../common/decorators/access.decorator';
import { ShutdownState } from '../common/lifecycle/shutdown-state';
import { ModelRegistryService } from '../models/registry/model-registry.service';
import { notServing } from './indicators/models.health';
import type { HttpReply } from '../common/http/http-reply';

/**
 * The V2 protocol's server health: 200 for true, 400 for false (the protocol: a 4xx means false;
 * Triton answers 400), with `{live}` / `{ready}` bodies. Ready means what /health/ready means for
 * models: every model's active version READY (models unloaded through the repository API aside),
 * and not shutting down.
 */
@ApiTags('v2')
@Public()
@Controller('v2/health')
export class V2HealthController {
  constructor(private readonly registry: ModelRegistryService, private readonly shutdown: ShutdownState) {}

  @Get('live')
  @ApiOperation({ summary: 'Server liveness: 200 `{live: true}`' })
  live(): { live: boolean } {
    return { live: true };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Server readiness: 200 `{ready: true}`; 400 `{ready: false}` while models load, fail, or the server shuts down' })
  ready(@Res({ passthrough: true }) res: HttpReply): { ready: boolean } {
    const ready = !this.shutdown.shuttingDown && this.registry.list().every((e) => e.unloaded || notServing(e) === undefined);
    if (!ready) res.status(400);
    return { ready };
  }
}
