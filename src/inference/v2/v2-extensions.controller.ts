import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';

import { V2ModelParamDto, V2ModelVersionParamDto } from '../dto/v2-params.dto';
import { V2_MODEL_CONFIG_EXAMPLE, V2_STATISTICS_EXAMPLE } from './v2-extensions-examples';
import { V2ExtensionsService } from './v2-extensions.service';
import type { V2StatisticsResponse } from './v2-extensions.service';
import type { TritonModelConfig } from './v2-model-config';

const STATS_DESCRIPTION =
  "Triton's statistics extension, since each version was loaded: inference_count (rows inferred), execution_count (runtime " +
  'executions, several requests each when the dynamic batcher merged them), and per request the count and nanoseconds of ' +
  'success, fail, queue (waiting in the dynamic batcher), compute_input (stacking), compute_infer (the runtime), ' +
  'compute_output (splitting), cache_hit and cache_miss; batch_stats per executed batch size. /predict, V2 REST (JSON and ' +
  'binary) and gRPC all count.';

/**
 * Triton's model configuration and statistics extensions on V2 REST. Registered before
 * V2Controller: on Express the first matching route wins, and `models/stats` must not be read as
 * the metadata of a model named "stats" (Fastify prefers the static path anyway).
 */
@ApiTags('v2')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiResponse({ status: 404, description: '`{error}`: unknown model or version' })
@Controller('v2')
export class V2ExtensionsController {
  constructor(private readonly extensions: V2ExtensionsService) {}

  @Get('models/stats')
  @ApiOperation({ summary: 'Statistics of every READY version of every model', description: STATS_DESCRIPTION })
  @ApiResponse({ status: 200, schema: { example: V2_STATISTICS_EXAMPLE } })
  allStatistics(): V2StatisticsResponse {
    return this.extensions.statistics();
  }

  @Get('models/:name/stats')
  @ApiOperation({ summary: 'Statistics of every READY version of a model', description: STATS_DESCRIPTION })
  @ApiResponse({ status: 200, schema: { example: V2_STATISTICS_EXAMPLE } })
  modelStatistics(@Param() p: V2ModelParamDto): V2StatisticsResponse {
    return this.extensions.statistics(p.name);
  }

  @Get('models/:name/versions/:v/stats')
  @ApiOperation({ summary: 'Statistics of one version (also after it was unloaded)', description: STATS_DESCRIPTION })
  @ApiResponse({ status: 200, schema: { example: V2_STATISTICS_EXAMPLE } })
  versionStatistics(@Param() p: V2ModelVersionParamDto): V2StatisticsResponse {
    return this.extensions.statistics(p.name, p.v);
  }

  @Get('models/:name/config')
  @ApiOperation({ summary: "Triton model configuration of the active version: tensors, max_batch_size, dynamic_batching, instance_group" })
  @ApiResponse({ status: 200, schema: { example: V2_MODEL_CONFIG_EXAMPLE } })
  @ApiResponse({ status: 503, description: '`{error}`: the version has not loaded (its configuration is known once it has)' })
  modelConfig(@Param() p: V2ModelParamDto): TritonModelConfig {
    return this.extensions.modelConfig(p.name);
  }

  @Get('models/:name/versions/:v/config')
  @ApiOperation({ summary: 'Triton model configuration of one version' })
  @ApiResponse({ status: 200, schema: { example: V2_MODEL_CONFIG_EXAMPLE } })
  @ApiResponse({ status: 503, description: '`{error}`: the version has not loaded (its configuration is known once it has)' })
  versionConfig(@Param() p: V2ModelVersionParamDto): TritonModelConfig {
    return this.extensions.modelConfig(p.name, p.v);
  }
}
