import type { ServerUnaryCall } from '@grpc/grpc-js';
import { Injectable } from '@nestjs/common';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { childSpan, endSpan } from '../../common/observability/trace-spans';
import { ServerReadiness } from '../../health/server-readiness';
import { RolloutService } from '../../models/rollout/rollout.service';
import { MODEL_ID_PATTERN, VERSION_PATTERN } from '../dto/validators';
import { V2CatalogService } from '../v2/v2-catalog.service';
import { V2ExtensionsService, V2StatisticsResponse } from '../v2/v2-extensions.service';
import { V2InferenceService } from '../v2/v2-inference.service';
import { TritonModelConfig } from '../v2/v2-model-config';
import { refuseLoadOverrides } from '../v2/v2-repository.controller';
import type { V2ModelMetadata, V2RepositoryIndexEntry, V2ServerMetadata } from '../v2/v2.types';
import { GrpcCallContext } from './grpc-call-gate';
import { encodeModelInferResponse, v2Equivalent } from './grpc-codec';
import { GrpcModelInferRequest, GrpcModelInferResponse } from './grpc.types';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version: SERVER_VERSION } = require('../../../package.json') as { version: string };

/** ServerMetadata's extensions: the V2 REST ones that gRPC has (binary tensor data is HTTP's; gRPC has raw contents). */
const GRPC_EXTENSIONS: readonly string[] = ['model_repository', 'model_configuration', 'statistics', 'classification'];

interface ModelRef {
  name: string;
  version: string;
}

interface RepositoryRequest {
  model_name: string;
  parameters: Record<string, unknown>;
}

/** A model name as REST's path parameter takes it. Throws AppError VALIDATION_FAILED. */
function modelName(name: string, field: string): string {
  if (!MODEL_ID_PATTERN.test(name)) throw AppError.validation([{ field, message: 'must be 1-64 chars of [A-Za-z0-9._-]' }]);
  return name;
}

/** A version field: empty = none (routed), else a positive integer. Throws AppError VALIDATION_FAILED. */
function versionOf(version: string, field: string): number | undefined {
  if (version === '') return undefined;
  if (!VERSION_PATTERN.test(version)) throw AppError.validation([{ field, message: 'must be empty or a positive integer' }]);
  return Number(version);
}

/** A call the client gave up on (cancelled, or past its deadline) is not run: nobody would read the answer. */
export function refuseExpired(call: Pick<ServerUnaryCall<unknown, unknown>, 'cancelled' | 'getDeadline'>, now = Date.now()): void {
  if (call.cancelled) throw new AppError(ErrorCode.INFERENCE_TIMEOUT, 'The call was cancelled before inference ran');
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(at) && at <= now) throw new AppError(ErrorCode.INFERENCE_TIMEOUT, "The call's deadline passed before inference ran");
}

/** What {@link giveUpSignal} watches on a call (a grpc-js ServerUnaryCall fits). */
interface WatchedCall {
  getDeadline(): Date | number;
  once(event: 'cancelled', listener: () => void): unknown;
  off(event: 'cancelled', listener: () => void): unknown;
}

/**
 * An AbortSignal that fires when the call is cancelled or its deadline passes, so a request still
 * queued for its batch is dropped; `release` stops watching once the call is answered.
 */
export function giveUpSignal(call: WatchedCall, now = Date.now()): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  call.once('cancelled', abort);
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const timer = Number.isFinite(at) ? setTimeout(abort, Math.max(0, at - now)) : undefined;
  timer?.unref();
  return { signal: controller.signal, release: () => { clearTimeout(timer); call.off('cancelled', abort); } };
}

/**
 * The KServe V2 gRPC methods (inference.GRPCInferenceService), each the gRPC face of what the V2
 * REST routes do, on the same services: catalog views, the V2 codec's checks (through
 * {@link v2Equivalent}), the data plane, the rollout service for the repository extension.
 */
@Injectable()
export class GrpcInferenceService {
  constructor(
    private readonly v2: V2InferenceService,
    private readonly catalog: V2CatalogService,
    private readonly rollout: RolloutService,
    private readonly readiness: ServerReadiness,
    private readonly extensions: V2ExtensionsService,
  ) {}

  serverLive(): { live: boolean } {
    return { live: true };
  }

  serverReady(): { ready: boolean } {
    return { ready: this.readiness.ready };
  }

  modelReady(request: ModelRef): { ready: boolean } {
    return { ready: this.catalog.v2Ready(modelName(request.name, 'name'), versionOf(request.version, 'version')).ready };
  }

  serverMetadata(): V2ServerMetadata {
    return { name: 'nest-model-server', version: SERVER_VERSION, extensions: [...GRPC_EXTENSIONS] };
  }

  modelMetadata(request: ModelRef): V2ModelMetadata {
    return this.catalog.v2Metadata(modelName(request.name, 'name'), versionOf(request.version, 'version'));
  }

  /**
   * ModelInfer: the request as the V2 REST request it stands for, checked and run exactly like
   * one (route, cache, batcher, canary, stats, metrics); the outputs raw when the inputs were.
   * Without a version the call is routed by the `x-routing-key` metadata (else the API-key name).
   */
  async modelInfer(request: GrpcModelInferRequest, ctx: GrpcCallContext): Promise<GrpcModelInferResponse> {
    const name = modelName(request.model_name, 'model_name');
    const version = versionOf(request.model_version, 'model_version');
    const { body, binary, raw, problems } = v2Equivalent(request);
    // Nothing is awaited between this check and the data plane taking the request.
    refuseExpired(ctx.call);
    const routingKey = version === undefined ? ctx.routingKey : undefined;
    const { signal, release } = giveUpSignal(ctx.call);
    const { result, decoded } = await this.v2
      .inferTensors(name, version, body, { requestId: ctx.requestId, routingKey, binary, problems, signal, parentSpan: ctx.span })
      .finally(release);
    ctx.prediction = { model_id: result.modelId, model_version: String(result.version), variant: result.variant, cached: result.cached };
    const serialize = ctx.span && childSpan(ctx.span, 'serialize');
    try {
      return encodeModelInferResponse(name, result.version, decoded.id ?? ctx.requestId, result.outputs, decoded.outputs, raw);
    } finally {
      if (serialize) endSpan(serialize);
    }
  }

  /** ModelConfig: what GET /v2/models/{name}[/versions/{v}]/config answers, as ModelConfigResponse.config. */
  modelConfig(request: ModelRef): { config: TritonModelConfig } {
    return { config: this.extensions.modelConfig(modelName(request.name, 'name'), versionOf(request.version, 'version')) };
  }

  /** ModelStatistics: what GET /v2/models[/{name}[/versions/{v}]]/stats answers; a version needs a name. */
  modelStatistics(request: ModelRef): V2StatisticsResponse {
    if (request.name === '') {
      if (request.version !== '') throw AppError.validation([{ field: 'version', message: 'needs a model name' }]);
      return this.extensions.statistics();
    }
    return this.extensions.statistics(modelName(request.name, 'name'), versionOf(request.version, 'version'));
  }

  async repositoryIndex(request: { ready: boolean }): Promise<{ models: V2RepositoryIndexEntry[] }> {
    return { models: await this.catalog.v2Index(request.ready) };
  }

  /** Loads every version of a model from disk (admin); load overrides are refused, as on REST. */
  async repositoryModelLoad(request: RepositoryRequest): Promise<Record<string, never>> {
    const name = modelName(request.model_name, 'model_name');
    refuseLoadOverrides({ parameters: request.parameters });
    await this.rollout.loadModel(name);
    return {};
  }

  async repositoryModelUnload(request: RepositoryRequest): Promise<Record<string, never>> {
    await this.rollout.unloadModel(modelName(request.model_name, 'model_name'));
    return {};
  }
}
