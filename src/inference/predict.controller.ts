import { Body, Controller, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';

import { PredictionRoute } from '../common/decorators/prediction-route.decorator';
import { RequestCtx } from '../common/decorators/request-context.decorator';
import { RoutingKey } from '../common/decorators/routing-key.decorator';
import type { RequestContext } from '../common/http/request-context';
import { JsonArrayPipe } from '../common/pipes/json-array.pipe';
import { BatchQueryDto } from './dto/batch-query.dto';
import { PredictRequestDto } from './dto/predict-request.dto';
import { PredictService } from './predict/predict.service';
import { BatchResult, PredictionResult } from './predict/predict.types';
import { BATCH_BODY_EXAMPLE, ERROR_RESPONSES, PREDICT_RESPONSE_EXAMPLE } from './swagger-examples';

@ApiTags('predict')
@ApiBearerAuth()
@ApiSecurity('api-key')
@PredictionRoute()
@ApiResponse({ status: 401, description: 'Missing or invalid API key (when API_KEYS is set)' })
@ApiResponse({ status: 415, description: 'Body is not application/json' })
@ApiHeader({ name: 'X-Routing-Key', required: false, description: 'Sticky canary routing key (e.g. a user id); defaults to the API-key name' })
@ApiResponse({ status: 429, description: 'REQUESTS_PER_MINUTE or REQUESTS_PER_HOUR exceeded for this client (Retry-After, X-RateLimit-*)' })
@Controller('predict')
export class PredictController {
  constructor(private readonly predictions: PredictService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'One prediction', description: 'Features by name or in declared order; the active version unless model_version pins one.' })
  @ApiOkResponse({ schema: { example: PREDICT_RESPONSE_EXAMPLE } })
  @ApiResponse({ status: 400, ...ERROR_RESPONSES[400] })
  @ApiResponse({ status: 404, ...ERROR_RESPONSES[404] })
  @ApiResponse({ status: 413, ...ERROR_RESPONSES[413] })
  @ApiResponse({ status: 422, ...ERROR_RESPONSES[422] })
  @ApiResponse({ status: 503, ...ERROR_RESPONSES[503] })
  @ApiResponse({ status: 504, ...ERROR_RESPONSES[504] })
  predict(@Body() body: PredictRequestDto, @RequestCtx() ctx: RequestContext, @RoutingKey() routingKey?: string): Promise<PredictionResult> {
    return this.predictions.predict(body, ctx.id, routingKey, ctx.span);
  }

  @Post('batch')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Many predictions in one call',
    description: 'A JSON array (at most MAX_BATCH_ITEMS) of feature objects or `{features}` requests. A bad item gets an error in its slot; the valid ones run as one inference call.',
  })
  @ApiBody({ schema: { type: 'array', items: { type: 'object' }, example: BATCH_BODY_EXAMPLE } })
  @ApiOkResponse({ description: '`results[i]` is `{index, status: "success", prediction}` or `{index, status: "error", error}`' })
  @ApiResponse({ status: 400, description: 'Malformed JSON, or more than MAX_BATCH_ITEMS items' })
  @ApiResponse({ status: 404, ...ERROR_RESPONSES[404] })
  @ApiResponse({ status: 422, description: 'Body is not a non-empty array, or the query is invalid' })
  predictBatch(@Body(JsonArrayPipe) items: unknown[], @Query() query: BatchQueryDto, @RequestCtx() ctx: RequestContext, @RoutingKey() routingKey?: string): Promise<BatchResult> {
    return this.predictions.predictBatch(items, query.model_id, query.model_version, routingKey, ctx.id, ctx.span);
  }
}
