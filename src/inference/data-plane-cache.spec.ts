import { Logger } from '@nestjs/common';

import { CountingRuntimeFactory } from '../../test/support/spec-runtimes';
import { bootModels } from '../../test/support/wire-models';
import { PredictionCache } from '../models/cache/prediction-cache';
import { DataPlane } from '../models/data-plane.service';
import { ModelRegistryService, Route } from '../models/registry/model-registry.service';
import { NamedTensors } from '../models/tensors/tensor';
import { encodeFeatures } from './predict/predict.codec';
import { decodeInferRequest } from './v2/v2-codec';

/** One iris row (a versicolor) as each transport's client sends it. */
const ROW = [6.1, 2.8, 4.7, 1.2];
const BY_NAME = { petal_width: 1.2, sepal_length: 6.1, petal_length: 4.7, sepal_width: 2.8 };
const V2_JSON = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [ROW] }] };
const V2_BINARY = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }] };

function encoded(result: { ok: true; inputs: NamedTensors } | { ok: false; details: unknown[] }): NamedTensors {
  if (!result.ok) throw new Error(`expected the request to decode: ${JSON.stringify(result.details)}`);
  return result.inputs;
}

beforeAll(() => {
  Logger.overrideLogger(false);
});

describe('DataPlane: one cache entry for every transport', () => {
  let factory: CountingRuntimeFactory;
  let registry: ModelRegistryService;
  let cache: PredictionCache;
  let sut: DataPlane;

  beforeAll(async () => {
    factory = new CountingRuntimeFactory();
    ({ registry, cache, plane: sut } = await bootModels(factory, { ENABLE_CACHING: 'true' }));
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  it('answers the same iris row from /predict (by name, in order) and V2 (JSON, binary) with 1 miss then 3 hits', async () => {
    // Arrange
    const route: Route = sut.route('iris');
    const signature = route.version.signature!;
    const binary = new Uint8Array(Float32Array.from(ROW).buffer);
    const requests = [
      encoded(encodeFeatures(route, BY_NAME, 64)),
      encoded(encodeFeatures(route, ROW, 64)),
      encoded(decodeInferRequest(V2_JSON, signature)),
      encoded(decodeInferRequest(V2_BINARY, signature, binary)),
    ];
    const callsBefore = factory.calls.length;
    const statsBefore = cache.stats('iris');

    // Act
    const results = [];
    for (const inputs of requests) results.push(await sut.infer({ route, inputs }));

    // Assert
    expect(results.map((r) => r.cached)).toEqual([false, true, true, true]);
    expect(factory.calls.length - callsBefore).toBe(1);
    const stats = cache.stats('iris');
    expect([stats.misses - statsBefore.misses, stats.hits - statsBefore.hits, stats.size - statsBefore.size]).toEqual([1, 3, 1]);
    for (const r of results.slice(1)) expect(r.outputs).toEqual(results[0].outputs);
  });
});
