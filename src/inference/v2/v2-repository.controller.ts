import { Body, Controller, HttpCode, Param, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';

import { AdminAction } from '../../common/decorators/access.decorator';
import { PredictionRoute } from '../../common/decorators/prediction-route.decorator';
import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { RolloutService } from '../../models/rollout/rollout.service';
import { V2IndexRequestDto, V2ModelParamDto } from '../dto/v2-params.dto';
import { AuditInterceptor } from '../audit/audit.interceptor';
import { V2CatalogService } from './v2-catalog.service';
import type { V2RepositoryIndexEntry } from './v2.types';

/** The V2 model repository extension (Triton's): index, load and unload whole models. */
@ApiTags('v2')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('v2/repository')
@UseInterceptors(AuditInterceptor)
export class V2RepositoryController {
  constructor(private readonly catalog: V2CatalogService, private readonly rollout: RolloutService) {}

  @Post('index')
  @HttpCode(200)
  // Held to the client's rate limits like the prediction routes (any client key may call it).
  @PredictionRoute()
  @ApiOperation({ summary: 'Every model version in the repository with its state (READY, LOADING, UNAVAILABLE) and reason' })
  index(@Body() body: V2IndexRequestDto = {}): Promise<V2RepositoryIndexEntry[]> {
    return this.catalog.v2Index(body?.ready === true);
  }

  @Post('models/:name/load')
  @AdminAction('v2.load')
  @HttpCode(200)
  @ApiOperation({ summary: 'Load (or reload) every version of a model from disk; stages, canary and shadow are kept' })
  @ApiResponse({ status: 400, description: '`{error}` naming each version that failed to load' })
  async load(@Param() p: V2ModelParamDto, @Body() body: unknown): Promise<Record<string, never>> {
    refuseLoadOverrides(body);
    await this.rollout.loadModel(p.name);
    return {};
  }

  @Post('models/:name/unload')
  @AdminAction('v2.unload')
  @HttpCode(200)
  @ApiOperation({ summary: 'Unload every version of a model (it answers 503 until loaded again)' })
  async unload(@Param() p: V2ModelParamDto): Promise<Record<string, never>> {
    await this.rollout.unloadModel(p.name);
    return {};
  }
}

/**
 * Refuses Triton's load-time overrides (`parameters.config`, `parameters["file:…"]`) of a load
 * request body (REST JSON, or gRPC's parameters map), which this server does not take: BAD_REQUEST.
 */
export function refuseLoadOverrides(body: unknown): void {
  const parameters = typeof body === 'object' && body !== null ? (body as { parameters?: unknown }).parameters : undefined;
  if (typeof parameters !== 'object' || parameters === null) return;
  const overrides = Object.keys(parameters).filter((k) => k === 'config' || k.startsWith('file:')).map((k) => `parameters.${k}`);
  if (overrides.length) {
    throw new AppError(ErrorCode.BAD_REQUEST, `Load overrides are not supported (${overrides.join(', ')}); the model is loaded as it is in the repository`);
  }
}
