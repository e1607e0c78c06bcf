import { Body, Controller, Get, HttpCode, Param, Post, Res, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';

import { Public } from '../../common/decorators/access.decorator';
import { BinaryTensorData } from '../../common/decorators/binary-tensor-data.decorator';
import { PredictionRoute } from '../../common/decorators/prediction-route.decorator';
import { RequestCtx } from '../../common/decorators/request-context.decorator';
import { RequestId } from '../../common/decorators/request-id.decorator';
import { RoutingKey } from '../../common/decorators/routing-key.decorator';
import type { HttpReply } from '../../common/http/http-reply';
import { notePrediction } from '../../common/http/request-context';
import type { RequestContext } from '../../common/http/request-context';
import { V2ModelParamDto, V2ModelVersionParamDto } from '../dto/v2-params.dto';
import { V2CatalogService } from './v2-catalog.service';
import { answerStream } from './v2-binary';
import type { V2InferResult } from './v2-codec';
import { V2_INFER_REQUEST_EXAMPLE, V2_INFER_RESPONSE_EXAMPLE } from './v2-examples';
import { largeJsonAnswer, responseJsonParts } from './v2-json-answer';
import { V2InferenceService } from './v2-inference.service';
import type { V2InferResponse, V2ModelMetadata, V2ModelReady, V2ServerMetadata } from './v2.types';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version: SERVER_VERSION } = require('../../../package.json') as { version: string };

/**
 * The protocol extensions GET /v2 lists: one entry per extension this server implements (add
 * yours here when you implement one; gRPC's ServerMetadata lists its own).
 */
export const V2_EXTENSIONS: readonly string[] = ['model_repository', 'binary_tensor_data', 'model_configuration', 'statistics', 'classification'];

const INFER_DESCRIPTION =
  'KServe V2 / Open Inference Protocol inference. `data` may be flat (row-major) or nested; each datatype must be the ' +
  "model's (400 otherwise, as Triton) and every value is checked. Requests are merged by the model's dynamic batcher. Without a version the request " +
  'is routed like /predict (active version, or the canary for its share); `model_version` says which version answered.';

/** The KServe V2 Open Inference Protocol: server and model metadata, model readiness, inference. */
@ApiTags('v2')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiResponse({ status: 400, description: '`{error}` naming every problem of the request' })
@ApiResponse({ status: 404, description: '`{error}`: unknown model or version' })
@Controller('v2')
export class V2Controller {
  constructor(private readonly catalog: V2CatalogService, private readonly predictions: V2InferenceService) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'Server metadata: name, version, protocol extensions' })
  server(): V2ServerMetadata {
    return { name: 'nest-model-server', version: SERVER_VERSION, extensions: [...V2_EXTENSIONS] };
  }

  @Get('models/:name')
  @ApiOperation({ summary: 'Model metadata: versions, platform, input and output tensors of the active version' })
  model(@Param() p: V2ModelParamDto): V2ModelMetadata {
    return this.catalog.v2Metadata(p.name);
  }

  @Get('models/:name/versions/:v')
  @ApiOperation({ summary: 'Model metadata of one version' })
  modelVersion(@Param() p: V2ModelVersionParamDto): V2ModelMetadata {
    return this.catalog.v2Metadata(p.name, p.v);
  }

  @Get('models/:name/ready')
  @ApiOperation({ summary: 'Model readiness: 200 `{ready: true}`, 400 `{ready: false}` (the protocol: 4xx means false)' })
  modelReady(@Param() p: V2ModelParamDto, @Res({ passthrough: true }) res: HttpReply): V2ModelReady {
    return readiness(this.catalog.v2Ready(p.name), res);
  }

  @Get('models/:name/versions/:v/ready')
  @ApiOperation({ summary: 'Readiness of one version' })
  modelVersionReady(@Param() p: V2ModelVersionParamDto, @Res({ passthrough: true }) res: HttpReply): V2ModelReady {
    return readiness(this.catalog.v2Ready(p.name, p.v), res);
  }

  @Post('models/:name/infer')
  @HttpCode(200)
  @PredictionRoute()
  @ApiOperation({ summary: 'Inference (routed: active version or canary)', description: INFER_DESCRIPTION })
  @ApiHeader({ name: 'X-Routing-Key', required: false, description: 'Sticky canary routing key' })
  @ApiBody({ schema: { type: 'object', example: V2_INFER_REQUEST_EXAMPLE } })
  @ApiResponse({ status: 200, schema: { example: V2_INFER_RESPONSE_EXAMPLE } })
  async infer(
    @Param() p: V2ModelParamDto,
    @Body() body: unknown,
    @RequestId() requestId: string,
    @BinaryTensorData() binary: Buffer | undefined,
    @Res({ passthrough: true }) res: HttpReply,
    @RequestCtx() ctx: RequestContext,
    @RoutingKey() routingKey?: string,
  ): Promise<V2InferResponse | StreamableFile> {
    return inferReply(await this.predictions.infer(p.name, undefined, body, requestId, routingKey, binary, ctx.span), res, ctx);
  }

  @Post('models/:name/versions/:v/infer')
  @HttpCode(200)
  @PredictionRoute()
  @ApiOperation({ summary: 'Inference on one version (pinned)', description: INFER_DESCRIPTION })
  @ApiBody({ schema: { type: 'object', example: V2_INFER_REQUEST_EXAMPLE } })
  @ApiResponse({ status: 200, schema: { example: V2_INFER_RESPONSE_EXAMPLE } })
  async inferVersion(
    @Param() p: V2ModelVersionParamDto,
    @Body() body: unknown,
    @RequestId() requestId: string,
    @BinaryTensorData() binary: Buffer | undefined,
    @Res({ passthrough: true }) res: HttpReply,
    @RequestCtx() ctx: RequestContext,
  ): Promise<V2InferResponse | StreamableFile> {
    return inferReply(await this.predictions.infer(p.name, p.v, body, requestId, undefined, binary, ctx.span), res, ctx);
  }
}

/**
 * JSON, or — when an output was asked for as binary data — the JSON header followed by the
 * outputs' bytes, with `Inference-Header-Content-Length` (the binary tensor data extension).
 */
function inferReply({ response, binary }: V2InferResult, res: HttpReply, ctx: RequestContext): V2InferResponse | StreamableFile {
  if (binary.length === 0) {
    // An image-sized JSON answer is written directly (see largeJsonAnswer); the prediction facts are noted here then.
    const large = largeJsonAnswer(response);
    if (!large) return response;
    notePrediction(ctx, response);
    const { stream, length } = answerStream(large);
    return new StreamableFile(stream, { type: 'application/json; charset=utf-8', length });
  }
  const header = responseJsonParts(response);
  res.header('Inference-Header-Content-Length', String(header.reduce((n, part) => n + part.length, 0)));
  // The logging interceptor cannot read a binary answer: the prediction facts are noted here.
  notePrediction(ctx, response);
  const { stream, length } = answerStream([...header, ...binary]);
  return new StreamableFile(stream, { type: 'application/octet-stream', length });
}

/** The protocol's health answer: 200 when ready, a 4xx (400, as Triton) when not, with the body either way. */
function readiness<T extends { ready: boolean }>(body: T, res: HttpReply): T {
  if (!body.ready) res.status(400);
  return body;
}
