import { join } from 'node:path';

import { RuntimeOptions } from '../model-runtime';
import { RuntimeInputError } from '../runtime-errors';
import { NamedTensors } from '../../tensors/tensor';
import { OnnxRuntime } from './onnx-runtime';
import { DET_MODEL, detInput } from '../../../../test/support/det-model';

const MODELS = join(__dirname, '..', '..', '..', '..', 'models');
const BENCH_MLP = join(MODELS, 'bench-mlp', '1', 'model.onnx');

/** Two deterministic rows of 256 features. */
function benchInput(): NamedTensors {
  const data = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 7));
  return { input: { datatype: 'FP32', shape: [2, 256], data } };
}

async function outputsWith(options: RuntimeOptions): Promise<Float32Array> {
  const sut = new OnnxRuntime();
  await sut.load(BENCH_MLP, options);
  try {
    return (await sut.run(benchInput())).output.data as Float32Array;
  } finally {
    await sut.unload();
  }
}

describe('OnnxRuntime', () => {
  it('reads the signature from the session, -1 for the batch dimension', async () => {
    // Arrange
    const sut = new OnnxRuntime();

    // Act
    const signature = await sut.load(BENCH_MLP);
    await sut.unload();

    // Assert
    expect(signature).toEqual({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 256] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 10] }],
    });
  });

  it('gives the same answer whatever the session options (threads, spinning, graph optimisation)', async () => {
    // Arrange
    const variants: RuntimeOptions[] = [
      { intraOpNumThreads: 2, allowSpinning: true },
      { intraOpNumThreads: 2, allowSpinning: false },
      { graphOptimizationLevel: 'disabled' },
    ];

    // Act
    const base = await outputsWith({});
    const others = await Promise.all(variants.map(outputsWith));

    // Assert
    expect(base).toHaveLength(20);
    for (let row = 0; row < 2; row++) {
      const sum = base.slice(row * 10, row * 10 + 10).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 5);
    }
    for (const other of others) {
      other.forEach((v, i) => expect(v).toBeCloseTo(base[i], 5));
    }
  });

  it('reads an input that is a view at an offset into a larger buffer (a request body) exactly as its own array', async () => {
    // Arrange: the rows at byte 24 of a buffer holding other bytes around them
    const own = benchInput();
    const body = new ArrayBuffer(24 + 512 * 4 + 16);
    new Uint8Array(body).fill(0x7f);
    const view = new Float32Array(body, 24, 512);
    view.set(own.input.data as Float32Array);
    const sut = new OnnxRuntime();
    await sut.load(BENCH_MLP);

    try {
      // Act
      const expected = (await sut.run(own)).output.data as Float32Array;
      const actual = (await sut.run({ input: { datatype: 'FP32', shape: [2, 256], data: view } })).output.data as Float32Array;

      // Assert
      expect(Array.from(actual)).toEqual(Array.from(expected));
    } finally {
      await sut.unload();
    }
  });

  it('refuses to run before load and after unload', async () => {
    // Arrange
    const sut = new OnnxRuntime();

    // Act / Assert
    await expect(sut.run(benchInput())).rejects.toThrow('model is not loaded');
    await sut.load(BENCH_MLP);
    await sut.unload();
    await expect(sut.run(benchInput())).rejects.toThrow('model is not loaded');
  });

  it('rejects inputs the model cannot take with RuntimeInputError and onnxruntime\'s message, free of source paths', async () => {
    // Arrange
    const sut = new OnnxRuntime();
    await sut.load(DET_MODEL);

    try {
      // Act
      const notMultiple = await sut.run(detInput([1, 3, 50, 50])).catch((e: unknown) => e);
      const rank = await sut.run(detInput([3, 64, 64])).catch((e: unknown) => e);
      const fine = await sut.run(detInput([1, 3, 64, 64]));

      // Assert
      expect(notMultiple).toBeInstanceOf(RuntimeInputError);
      expect((notMultiple as RuntimeInputError).publicMessage).toMatch(/^Non-zero status code returned while running Add node\. .*Attempting to broadcast an axis by a dimension other than 1\./);
      expect((notMultiple as RuntimeInputError).publicMessage).not.toMatch(/onnxruntime_src|\.h:\d+|::/);
      expect(rank).toBeInstanceOf(RuntimeInputError);
      expect((rank as RuntimeInputError).publicMessage).toBe('Invalid rank for input: x Got: 3 Expected: 4 Please fix either the inputs/outputs or the model.');
      expect(Object.values(fine)[0].shape).toEqual([1, 1, 64, 64]);
    } finally {
      await sut.unload();
    }
  });

  it('rejects a file that is not a model', async () => {
    // Arrange
    const sut = new OnnxRuntime();

    // Act / Assert
    await expect(sut.load(join(MODELS, 'iris', 'model.json'))).rejects.toThrow();
  });
});
