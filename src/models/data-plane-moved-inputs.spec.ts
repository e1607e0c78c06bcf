import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { bootModels } from '../../test/support/wire-models';
import { DataPlane } from './data-plane.service';
import { ModelRegistryService } from './registry/model-registry.service';
import { RolloutService } from './rollout/rollout.service';
import { DefaultRuntimeFactory } from './runtimes/default-runtime.factory';
import { markMovable } from './tensors/movable-memory';
import { NamedTensors } from './tensors/tensor';

const BENCH_MLP = join(__dirname, '..', '..', 'models', 'bench-mlp');

/** `n` rows of bench-mlp's 256 features, in memory marked as the request's alone (as the V2 codecs mark theirs). */
const movableRows = (n: number): NamedTensors => ({
  input: { datatype: 'FP32', shape: [n, 256], data: markMovable(Float32Array.from({ length: n * 256 }, (_, i) => Math.sin(i / 9))) },
});

describe('DataPlane with a worker-thread version and inputs that move to its thread', () => {
  let repository: string;
  let registry: ModelRegistryService;
  let rollout: RolloutService;
  let sut: DataPlane;

  beforeAll(async () => {
    // Two versions of bench-mlp (5 MB: each on a worker thread), the second shadowing the first.
    repository = mkdtempSync(join(tmpdir(), 'moved-inputs-'));
    cpSync(join(BENCH_MLP, 'model.json'), join(repository, 'bench-mlp', 'model.json'));
    for (const v of ['1', '2']) cpSync(join(BENCH_MLP, '1'), join(repository, 'bench-mlp', v), { recursive: true });
    ({ registry, rollout, plane: sut } = await bootModels(new DefaultRuntimeFactory(), { MODEL_REPOSITORY: repository, DEFAULT_MODEL: 'bench-mlp' }));
  });

  afterAll(async () => {
    await registry.onApplicationShutdown();
    rmSync(repository, { recursive: true, force: true });
  });

  it('runs the shadow on the same values after the caller\'s run handed its moved input back', async () => {
    // Arrange: 80 rows (80 KiB) move to the stable version's thread
    const stable = sut.route('bench-mlp').version.version;
    const shadow = stable === 1 ? 2 : 1;
    await rollout.setShadow('bench-mlp', { version: shadow, percentage: 100 });
    const inputs = movableRows(80);
    const original = inputs.input.data;

    // Act
    const result = await sut.infer({ model: 'bench-mlp', inputs });
    for (let i = 0; i < 200 && rollout.shadowStats('bench-mlp').requests < 1; i += 1) await sleep(10);

    // Assert: the shadow (the same weights) ran without error and agreed on every row
    expect(result.outputs.output.shape).toEqual([80, 10]);
    // It moved (detached, then handed back as a new array over the same values)
    expect(original.length).toBe(0);
    expect((inputs.input.data as Float32Array).length).toBe(80 * 256);
    expect(rollout.shadowStats('bench-mlp')).toMatchObject({ requests: 1, errors: 0, agreement_rate: 1 });
  });
});
