import { Logger } from '@nestjs/common';

import { captureAppError } from '../../../test/support/capture-app-error';
import { CountingRuntimeFactory } from '../../../test/support/spec-runtimes';
import { bootModels } from '../../../test/support/wire-models';
import { ErrorCode } from '../../common/errors/error-code';
import { ModelRegistryService } from '../../models/registry/model-registry.service';
import { V2InferenceService } from './v2-inference.service';

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const irisBody = (data: unknown[], extra: Record<string, unknown> = {}) => ({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data }], ...extra });

beforeAll(() => {
  Logger.overrideLogger(false);
});

describe('V2InferenceService on the bundled models', () => {
  let factory: CountingRuntimeFactory;
  let registry: ModelRegistryService;
  let sut: V2InferenceService;

  beforeAll(async () => {
    factory = new CountingRuntimeFactory();
    const wired = await bootModels(factory);
    registry = wired.registry;
    sut = new V2InferenceService(wired.plane, wired.config);
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
  });

  it('answers the routed version with the outputs as flat JSON, under the request id when the body has none', async () => {
    // Act
    const { response, binary } = await sut.infer('iris', undefined, irisBody(SETOSA), 'req-1');

    // Assert
    expect(binary).toEqual([]);
    expect(response).toMatchObject({ model_name: 'iris', model_version: '2', id: 'req-1', parameters: {} });
    expect(response.outputs).toHaveLength(1);
    expect(response.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [1, 3] });
    const p = response.outputs[0].data as number[];
    expect(p.indexOf(Math.max(...p))).toBe(0);
  });

  it("answers a pinned version under the body's id, with binary outputs when asked", async () => {
    // Act
    const { response, binary } = await sut.infer('iris', 1, irisBody(SETOSA, { id: 'mine', parameters: { binary_data_output: true } }), 'req');

    // Assert
    expect(response).toMatchObject({ model_version: '1', id: 'mine' });
    expect(response.outputs[0]).toEqual({ name: 'probabilities', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } });
    expect(Buffer.concat(binary)).toHaveLength(12);
  });

  it("refuses an invalid request with VALIDATION_FAILED naming each problem, without running the model, and leaves the version's health alone", async () => {
    // Arrange
    const stats = registry.get('iris').versions.get(2)!.stats;
    const errorsBefore = stats.getHealthMetrics().error_count;
    const callsBefore = factory.calls.length;

    // Act
    const error = await captureAppError(sut.infer('iris', undefined, irisBody([1, 2, 3]), 'req'));

    // Assert
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.message).toMatch(/^Invalid inference request: /);
    expect(error.details).toEqual([{ field: 'inputs[0] (input).data', message: 'has 3 elements, shape [1, 4] needs 4' }]);
    expect(factory.calls.length).toBe(callsBefore);
    expect(stats.getHealthMetrics().error_count).toBe(errorsBefore);
  });

  it('refuses an unknown model with MODEL_NOT_FOUND', async () => {
    // Act
    const error = await captureAppError(sut.infer('tulips', undefined, irisBody(SETOSA), 'req'));

    // Assert
    expect(error.code).toBe(ErrorCode.MODEL_NOT_FOUND);
  });
});
