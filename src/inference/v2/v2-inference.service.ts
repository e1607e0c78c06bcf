import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Span } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';

import { AppError, ErrorDetail } from '../../common/errors/app-error';
import { AllConfig } from '../../config/app-config';
import { DataPlane, InferenceResult } from '../../models/data-plane.service';
import { overlongStrings } from '../../models/tensors/finite';
import { classifyOutputs, requestedClassifications } from './v2-classification';
import { DecodedInfer, decodeInferRequest, encodeInferResponse, V2InferResult } from './v2-codec';

/** A request the V2 codec accepted. */
export type DecodedRequest = Extract<DecodedInfer, { ok: true }>;

export interface V2InferOptions {
  requestId: string;
  /** Sticky canary routing key. */
  routingKey?: string;
  /** The bytes after the JSON header (binary tensor data extension). */
  binary?: Uint8Array;
  /** A transport's own problems with the request, reported with the codec's. */
  problems?: ErrorDetail[];
  /** Aborts when the caller gives up (gRPC deadline or cancellation): see {@link InferenceRequest.signal}. */
  signal?: AbortSignal;
  /** The transport's server span when traced: see {@link InferenceRequest.parentSpan}. */
  parentSpan?: Span;
}

/**
 * The KServe V2 inference transport (JSON and binary tensor data): decode the request against
 * the routed version's signature, run it on the data plane, encode the requested outputs.
 */
@Injectable()
export class V2InferenceService {
  private readonly maxStringLength: number;

  constructor(private readonly plane: DataPlane, config: ConfigService<AllConfig, true>) {
    this.maxStringLength = config.getOrThrow('limits.maxStringLength', { infer: true });
  }

  /**
   * A V2 inference request on `modelId`: the tensors are checked against the version's signature
   * and run through the same route, cache, batcher, timeout and monitoring as /predict. Without a
   * `version` the request is routed like /predict (stable or canary); the response names the
   * version. `binary` is the body after the JSON header (binary tensor data extension). Throws
   * AppError: 404 unknown model/version, 422 invalid request (400 on /v2; a datatype other than
   * the model's is one; counted in the version's stats), 503 not ready or overloaded, 504 timeout.
   */
  async infer(modelId: string, version: number | undefined, body: unknown, requestId: string, routingKey?: string, binary?: Uint8Array, parentSpan?: Span): Promise<V2InferResult> {
    const { result, decoded } = await this.inferTensors(modelId, version, body, { requestId, routingKey, binary, parentSpan });
    return encodeInferResponse(modelId, result.version, decoded.id ?? requestId, result.outputs, decoded.outputs, decoded.binaryOutputs);
  }

  /**
   * {@link infer} without the JSON encoding, for transports that encode the outputs themselves
   * (gRPC): the decoded request (id, requested outputs) and the data plane's result, with the
   * outputs asked for as classifications already turned into them (the classification
   * extension). `problems` are a transport's own findings about the request (e.g. gRPC contents
   * in the wrong field): they fail it with the codec's, in one 422.
   */
  async inferTensors(modelId: string, version: number | undefined, body: unknown, options: V2InferOptions): Promise<{ result: InferenceResult; decoded: DecodedRequest }> {
    const { requestId, routingKey, binary, problems = [], signal, parentSpan } = options;
    const startedAt = performance.now();
    const route = this.plane.route(modelId, version, routingKey);
    const decoded = decodeInferRequest(body, route.version.signature!, binary, route.entry.name);
    const classificationProblems: ErrorDetail[] = [];
    const classifications = requestedClassifications(body, route.version.signature!, classificationProblems);
    // Strings of a JSON body were held to MAX_STRING_LENGTH by the input limits; binary BYTES are held here.
    const tooLong = decoded.ok ? overlongStrings(decoded.inputs, this.maxStringLength) : [];
    if (!decoded.ok || tooLong.length || problems.length || classificationProblems.length) {
      const details = [...problems, ...(decoded.ok ? tooLong : decoded.details), ...classificationProblems];
      throw this.plane.rejected(route, AppError.validation(details, 'Invalid inference request'), startedAt, requestId, parentSpan);
    }
    const result = await this.plane.infer({ route, inputs: decoded.inputs, startedAt, requestId, signal, parentSpan });
    if (classifications.size === 0) return { result, decoded };
    return { result: { ...result, outputs: classifyOutputs(result.outputs, classifications, route.entry.manifest?.labels) }, decoded };
  }
}
