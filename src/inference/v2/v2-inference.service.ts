import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { performance } from 'node:perf_hooks';

import { AppError } from '../../common/errors/app-error';
import { AllConfig } from '../../config/app-config';
import { DataPlane } from '../../models/data-plane.service';
import { overlongStrings } from '../../models/tensors/finite';
import { decodeInferRequest, encodeInferResponse, V2InferResult } from './v2-codec';

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
   * AppError: 404 unknown model/version, 422 invalid request (counted in the version's stats),
   * 503 not ready or overloaded, 504 timeout.
   */
  async infer(modelId: string, version: number | undefined, body: unknown, requestId: string, routingKey?: string, binary?: Uint8Array): Promise<V2InferResult> {
    const startedAt = performance.now();
    const route = this.plane.route(modelId, version, routingKey);
    const decoded = decodeInferRequest(body, route.version.signature!, binary);
    // Strings of a JSON body were held to MAX_STRING_LENGTH by the input limits; binary BYTES are held here.
    const tooLong = decoded.ok ? overlongStrings(decoded.inputs, this.maxStringLength) : [];
    if (!decoded.ok || tooLong.length) {
      throw this.plane.rejected(route, AppError.validation(decoded.ok ? tooLong : decoded.details, 'Invalid inference request'), startedAt, requestId);
    }
    const result = await this.plane.infer({ route, inputs: decoded.inputs, startedAt, requestId });
    return encodeInferResponse(modelId, result.version, decoded.id ?? requestId, result.outputs, decoded.outputs, decoded.binaryOutputs);
  }
}
