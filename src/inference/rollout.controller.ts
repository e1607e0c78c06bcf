import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';

import { AdminAction } from '../common/decorators/access.decorator';
import { RolloutService } from '../models/rollout/rollout.service';
import { AuditInterceptor } from './audit/audit.interceptor';
import { CanaryRequestDto } from './dto/canary-request.dto';
import { ModelIdParamDto } from './dto/model-id-param.dto';
import { ModelVersionParamDto } from './dto/model-version-param.dto';
import { PromoteRequestDto } from './dto/promote-request.dto';
import { ShadowRequestDto } from './dto/shadow-request.dto';

/** Rollout admin API (ADMIN_API_KEYS): load/unload, blue-green promote/rollback, canary, shadow. */
@ApiTags('rollout')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiResponse({ status: 401, description: 'Missing or invalid admin key' })
@ApiResponse({ status: 403, description: 'ADMIN_API_KEYS is not configured' })
@ApiResponse({ status: 404, description: 'Unknown model or version' })
@Controller('models/:id')
@UseInterceptors(AuditInterceptor)
export class RolloutController {
  constructor(private readonly rollout: RolloutService) {}

  @Post('versions/:v/load')
  @AdminAction('load')
  @HttpCode(200)
  @ApiOperation({ summary: 'Load (or reload) a version from the repository as it is on disk now' })
  @ApiResponse({ status: 422, description: 'MODEL_LOAD_FAILED with the reason; other versions are not disturbed' })
  load(@Param() p: ModelVersionParamDto) {
    return this.rollout.load(p.id, p.v);
  }

  @Post('versions/:v/unload')
  @AdminAction('unload')
  @HttpCode(200)
  @ApiOperation({ summary: 'Unload a version (409 for the active version or one in canary/shadow use)' })
  unload(@Param() p: ModelVersionParamDto) {
    return this.rollout.unload(p.id, p.v);
  }

  @Post('promote')
  @AdminAction('promote')
  @HttpCode(200)
  @ApiOperation({ summary: 'Blue-green: make a READY version active; the previous active becomes staging' })
  promote(@Param() p: ModelIdParamDto, @Body() body: PromoteRequestDto) {
    return this.rollout.promote(p.id, body.version);
  }

  @Post('rollback')
  @AdminAction('rollback')
  @HttpCode(200)
  @ApiOperation({ summary: 'Back to the previous active version' })
  rollback(@Param() p: ModelIdParamDto) {
    return this.rollout.rollback(p.id);
  }

  @Get('canary')
  @ApiOperation({ summary: "The seed's canary stats plus error rate and p50/p95 latency per variant" })
  canary(@Param() p: ModelIdParamDto) {
    return this.rollout.canaryStats(p.id);
  }

  @Put('canary')
  @AdminAction('canary.set')
  @ApiOperation({ summary: 'Start or replace a canary {version, percentage, sticky?, auto_abort?}' })
  setCanary(@Param() p: ModelIdParamDto, @Body() body: CanaryRequestDto) {
    return this.rollout.setCanary(p.id, { version: body.version, percentage: body.percentage, sticky: body.sticky ?? false, auto_abort: body.auto_abort });
  }

  @Delete('canary')
  @AdminAction('canary.clear')
  @ApiOperation({ summary: 'End the canary; answers its final stats' })
  clearCanary(@Param() p: ModelIdParamDto) {
    return this.rollout.clearCanary(p.id);
  }

  @Get('shadow')
  @ApiOperation({ summary: 'Shadow stats: requests, errors, latency, agreement with the stable answer' })
  shadow(@Param() p: ModelIdParamDto) {
    return this.rollout.shadowStats(p.id);
  }

  @Put('shadow')
  @AdminAction('shadow.set')
  @ApiOperation({ summary: 'Mirror a share of stable requests to a version after answering {version, percentage}' })
  setShadow(@Param() p: ModelIdParamDto, @Body() body: ShadowRequestDto) {
    return this.rollout.setShadow(p.id, { version: body.version, percentage: body.percentage });
  }

  @Delete('shadow')
  @AdminAction('shadow.clear')
  @ApiOperation({ summary: 'End the shadow; answers its final stats' })
  clearShadow(@Param() p: ModelIdParamDto) {
    return this.rollout.clearShadow(p.id);
  }
}
