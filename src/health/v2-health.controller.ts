import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';

import { Public } from '../common/decorators/access.decorator';
import type { HttpReply } from '../common/http/http-reply';
import { ServerReadiness } from './server-readiness';

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
  constructor(private readonly readiness: ServerReadiness) {}

  @Get('live')
  @ApiOperation({ summary: 'Server liveness: 200 `{live: true}`' })
  live(): { live: boolean } {
    return { live: true };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Server readiness: 200 `{ready: true}`; 400 `{ready: false}` while models load, fail, or the server shuts down' })
  ready(@Res({ passthrough: true }) res: HttpReply): { ready: boolean } {
    const { ready } = this.readiness;
    if (!ready) res.status(400);
    return { ready };
  }
}
