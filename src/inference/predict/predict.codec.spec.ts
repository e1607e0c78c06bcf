import { Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';

import { CountingRuntimeFactory } from '../../../test/support/spec-runtimes';
import { bootModels } from '../../../test/support/wire-models';
import { ErrorCode } from '../../common/errors/error-code';
import { InferenceResult } from '../../models/data-plane.service';
import { ModelRegistryService, Route } from '../../models/registry/model-registry.service';
import { NamedTensors } from '../../models/tensors/tensor';
import { ClassPrediction } from '../../models/wrapper/postprocess';
import {
  batchResponse, EncodedItem, encodeFeatures, errorSlot, featuresOfItem, groupPredictions, itemResult, predictionOf, predictResponse, stackGroups,
} from './predict.codec';

const SETOSA = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const LABELS = ['setosa', 'versicolor', 'virginica'];

const fp32 = (shape: number[], values: number[]): NamedTensors[string] => ({ datatype: 'FP32', shape, data: Float32Array.from(values) });

function inputsOf(encoded: ReturnType<typeof encodeFeatures>): NamedTensors {
  if (!encoded.ok) throw new Error(`expected the features to encode: ${JSON.stringify(encoded.details)}`);
  return encoded.inputs;
}

beforeAll(() => {
  Logger.overrideLogger(false);
});

describe('predict codec on the bundled models', () => {
  let registry: ModelRegistryService;
  let iris: Route;
  let mlp: Route;

  beforeAll(async () => {
    ({ registry } = await bootModels(new CountingRuntimeFactory()));
    iris = registry.route('iris');
    mlp = registry.route('bench-mlp');
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  describe('encodeFeatures', () => {
    it("encodes features by name and in declared order into the same row on the model's input", () => {
      // Act
      const byName = inputsOf(encodeFeatures(iris, { petal_width: 0.2, petal_length: 1.4, sepal_width: 3.5, sepal_length: 5.1 }, 64));
      const inOrder = inputsOf(encodeFeatures(iris, [5.1, 3.5, 1.4, 0.2], 64));

      // Assert
      expect(byName).toEqual({ input: fp32([1, 4], [5.1, 3.5, 1.4, 0.2]) });
      expect(inOrder).toEqual(byName);
    });

    it('encodes named nested tensors for a model without a features list', () => {
      // Arrange
      const row = Array.from({ length: 256 }, (_, i) => i / 256);

      // Act
      const sut = inputsOf(encodeFeatures(mlp, { input: [row, row] }, 64));

      // Assert
      expect(sut.input.shape).toEqual([2, 256]);
      expect(sut.input.datatype).toBe('FP32');
    });

    it('encodes a flat array as one row for a model without a features list whose one input is 2-D, like the named form', () => {
      // Arrange
      const row = Array.from({ length: 256 }, (_, i) => i / 256);

      // Act
      const flat = inputsOf(encodeFeatures(mlp, row, 1000));
      const nested = inputsOf(encodeFeatures(mlp, [row], 1000));
      const named = inputsOf(encodeFeatures(mlp, { input: [row] }, 1000));

      // Assert
      expect(flat).toEqual(named);
      expect(nested).toEqual(named);
      expect(flat.input.shape).toEqual([1, 256]);
    });

    it('refuses a flat array of the wrong length, naming the width the model takes', () => {
      // Act
      const sut = encodeFeatures(mlp, [1, 2, 3], 1000);

      // Assert
      expect(sut).toEqual({ ok: false, details: [{ field: 'features', message: "must have 256 values (input 'input' is [-1, 256]), got 3" }] });
    });

    it('refuses more than MAX_FEATURES entries, naming the limit', () => {
      // Act
      const sut = encodeFeatures(iris, SETOSA, 3);

      // Assert
      expect(sut).toEqual({ ok: false, details: [{ field: 'features', message: 'has 4 entries, more than MAX_FEATURES (3)' }] });
    });
  });

  describe('featuresOfItem', () => {
    it.each([
      ['a {features} request', { features: SETOSA }, SETOSA],
      ['bare features', SETOSA, SETOSA],
      ['features in order', [5.1, 3.5, 1.4, 0.2], [5.1, 3.5, 1.4, 0.2]],
      ['anything else, as it is', 'x', 'x'],
    ])('reads %s', (_, item, features) => {
      // Act
      const sut = featuresOfItem(item);

      // Assert
      expect(sut).toEqual(features);
    });
  });

  describe('predictResponse', () => {
    it("answers the seed's fields, in its order, with the prediction by label", () => {
      // Arrange
      const outputs = { probabilities: fp32([1, 3], [0.75, 0.125, 0.125]) };
      const result: InferenceResult = { modelId: 'iris', version: 2, variant: 'canary', outputs, cached: true };
      const startedAt = performance.now();

      // Act
      const sut = predictResponse(result, predictionOf(iris, outputs), 'req-1', startedAt);

      // Assert
      expect(Object.keys(sut)).toEqual(['request_id', 'model_id', 'model_version', 'prediction', 'timestamp', 'processing_time_ms', 'cached', 'variant']);
      expect(sut).toMatchObject({ request_id: 'req-1', model_id: 'iris', model_version: '2', cached: true, variant: 'canary' });
      expect(sut.prediction).toEqual({ class: 'setosa', confidence: 0.75, probabilities: { setosa: 0.75, versicolor: 0.125, virginica: 0.125 } });
      expect(sut.timestamp).toBeInstanceOf(Date); // written per SERIALIZATION_PRESET by the interceptor
      expect(sut.processing_time_ms).toBeGreaterThanOrEqual(0);
    });
  });

  describe('batches', () => {
    const item = (index: number, rows: number, width = 256): EncodedItem => ({ index, inputs: { input: fp32([rows, width], new Array(rows * width).fill(0.5)) } });

    it('stacks tabular rows and stackable tensor requests into one group, others one per item', () => {
      // Arrange
      const rows = [0, 1, 2].map((i) => ({ index: i, inputs: inputsOf(encodeFeatures(iris, [5.1, 3.5, 1.4, 0.2], 64)) }));

      // Act
      const tabular = stackGroups(iris, rows);
      const stackable = stackGroups(mlp, [item(0, 1), item(1, 2)]);
      const apart = stackGroups(mlp, [item(0, 1), { index: 1, inputs: { other: fp32([1, 256], new Array(256).fill(0)) } }]);

      // Assert
      expect(tabular).toEqual([rows]);
      expect(stackable.map((g) => g.map((i) => i.index))).toEqual([[0, 1]]);
      expect(apart.map((g) => g.map((i) => i.index))).toEqual([[0], [1]]);
      expect(stackGroups(iris, [])).toEqual([]);
    });

    it('splits stacked outputs back: one prediction per tabular row, one per tensor request', () => {
      // Arrange
      const probabilities = { probabilities: fp32([2, 3], [0.75, 0.125, 0.125, 0.25, 0.25, 0.5]) };
      const output = { output: fp32([3, 2], [1, 2, 3, 4, 5, 6]) };

      // Act
      const tabular = groupPredictions(iris, probabilities, [item(0, 1, 4), item(1, 1, 4)]) as ClassPrediction[];
      const tensors = groupPredictions(mlp, output, [item(0, 1), item(1, 2)]);

      // Assert
      expect(tabular.map((p) => p.class)).toEqual(['setosa', 'virginica']);
      expect(Object.keys(tabular[0].probabilities)).toEqual(LABELS);
      expect(tensors).toEqual([{ output: [[1, 2]] }, { output: [[3, 4], [5, 6]] }]);
    });

    it('puts a non-finite prediction in its slot as a 422 naming it', () => {
      // Act
      const good = itemResult(0, { class: 'setosa', confidence: 0.9, probabilities: {} });
      const bad = itemResult(1, { class: 'setosa', confidence: NaN, probabilities: {} });

      // Assert
      expect(good).toEqual({ index: 0, status: 'success', prediction: { class: 'setosa', confidence: 0.9, probabilities: {} } });
      expect(bad).toMatchObject({ index: 1, status: 'error', error: { code: ErrorCode.VALIDATION_FAILED, details: [{ field: 'features' }] } });
      expect(bad.status === 'error' && bad.error.message).toMatch(/^Invalid features: features the model's output is not finite/);
    });

    it('counts succeeded and failed slots and names the routed version', () => {
      // Arrange
      const results = [
        itemResult(0, { value: 1 }),
        errorSlot(1, { code: ErrorCode.VALIDATION_FAILED, message: 'Invalid features: x', details: [] }),
        itemResult(2, { value: 2 }),
      ];

      // Act
      const sut = batchResponse(iris, results, performance.now());

      // Assert
      expect(Object.keys(sut)).toEqual(['batch_id', 'model_id', 'model_version', 'variant', 'results', 'batch_size', 'succeeded', 'failed', 'timestamp', 'processing_time_ms']);
      expect(sut).toMatchObject({ model_id: 'iris', model_version: '2', variant: 'stable', batch_size: 3, succeeded: 2, failed: 1 });
      expect(sut.batch_id).toMatch(/^[0-9a-f-]{36}$/);
    });
  });
});
