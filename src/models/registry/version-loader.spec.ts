import { join } from 'node:path';

import { runsOnWorker, WORKER_THREAD_MIN_BYTES } from './version-loader';

const MODELS = join(__dirname, '..', '..', '..', 'models');

describe('runsOnWorker', () => {
  it('puts model files of 1 MiB and more on a worker thread, smaller ones on the event loop thread', async () => {
    // Arrange
    const big = join(MODELS, 'bench-mlp', '1', 'model.onnx'); // ~5 MB
    const small = join(MODELS, 'iris', '2', 'model.onnx'); // ~1 KB

    // Act / Assert
    expect(WORKER_THREAD_MIN_BYTES).toBe(1024 * 1024);
    await expect(runsOnWorker({ name: 'bench-mlp' }, big)).resolves.toBe(true);
    await expect(runsOnWorker({ name: 'iris' }, small)).resolves.toBe(false);
  });

  it('follows model.json worker_thread over the size', async () => {
    // Arrange
    const big = join(MODELS, 'bench-mlp', '1', 'model.onnx');
    const small = join(MODELS, 'iris', '2', 'model.onnx');

    // Act / Assert
    await expect(runsOnWorker({ name: 'bench-mlp', worker_thread: false }, big)).resolves.toBe(false);
    await expect(runsOnWorker({ name: 'iris', worker_thread: true }, small)).resolves.toBe(true);
  });

  it('leaves a missing file to the loader (no worker; the load then fails with its reason)', async () => {
    // Act / Assert
    await expect(runsOnWorker({ name: 'x' }, join(MODELS, 'nope', '1', 'model.onnx'))).resolves.toBe(false);
  });
});
