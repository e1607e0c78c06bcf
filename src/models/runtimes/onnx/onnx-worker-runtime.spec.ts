import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';

import { RuntimeInputError } from '../runtime-errors';
import { NamedTensors } from '../../tensors/tensor';
import { OnnxRuntime } from './onnx-runtime';
import { DET_MODEL, detInput } from '../../../../test/support/det-model';
import { isMovable, markMovable } from '../../tensors/movable-memory';
import { MOVE_MIN_BYTES, OnnxWorkerRuntime } from './onnx-worker-runtime';

const ROOT = join(__dirname, '..', '..', '..', '..');
const MODELS = join(ROOT, 'models');
const CRASHING_WORKER = join(ROOT, 'test', 'fixtures', 'crashing-onnx-worker.js');
const BENCH_MLP = join(MODELS, 'bench-mlp', '1', 'model.onnx');

function rows(n: number, offset = 0): NamedTensors {
  const data = Float32Array.from({ length: n * 256 }, (_, i) => Math.cos((i + offset) / 5));
  return { input: { datatype: 'FP32', shape: [n, 256], data } };
}

describe('OnnxWorkerRuntime', () => {
  let sut: OnnxWorkerRuntime;

  beforeEach(() => {
    sut = new OnnxWorkerRuntime();
  });

  afterEach(async () => {
    await sut.unload();
  });

  it('reports the same signature and answers as the runtime on the event loop thread', async () => {
    // Arrange
    const inline = new OnnxRuntime();
    const inlineSignature = await inline.load(BENCH_MLP, { intraOpNumThreads: 2 });
    const expected = (await inline.run(rows(3))).output;
    await inline.unload();

    // Act
    const signature = await sut.load(BENCH_MLP, { intraOpNumThreads: 2 });
    const actual = (await sut.run(rows(3))).output;

    // Assert
    expect(signature).toEqual(inlineSignature);
    expect(actual.datatype).toBe('FP32');
    expect(actual.shape).toEqual([3, 10]);
    expect(actual.data).toBeInstanceOf(Float32Array);
    expect(Array.from(actual.data as Float32Array)).toEqual(Array.from(expected.data as Float32Array));
  });

  it('rejects inputs the model cannot take with RuntimeInputError and the message the in-process runtime gives, and keeps serving', async () => {
    // Arrange
    const inline = new OnnxRuntime();
    await inline.load(DET_MODEL);
    const expected = await inline.run(detInput([1, 3, 50, 50])).catch((e: unknown) => e);
    await inline.unload();
    await sut.load(DET_MODEL);

    // Act
    const refused = await sut.run(detInput([1, 3, 50, 50])).catch((e: unknown) => e);
    const next = await sut.run(detInput([1, 3, 32, 32]));

    // Assert
    expect(refused).toBeInstanceOf(RuntimeInputError);
    expect((refused as RuntimeInputError).publicMessage).toBe((expected as RuntimeInputError).publicMessage);
    expect(Object.values(next)[0].shape).toEqual([1, 1, 32, 32]);
  });

  it('posts an input that is a view at an offset into a larger buffer (a request body) and answers as for its own array', async () => {
    // Arrange
    const own = rows(2);
    const body = new ArrayBuffer(40 + 512 * 4 + 8);
    new Uint8Array(body).fill(0x7f);
    const view = new Float32Array(body, 40, 512);
    view.set(own.input.data as Float32Array);
    await sut.load(BENCH_MLP);

    // Act
    const expected = (await sut.run(own)).output.data as Float32Array;
    const actual = (await sut.run({ input: { datatype: 'FP32', shape: [2, 256], data: view } })).output.data as Float32Array;

    // Assert
    expect(Array.from(actual)).toEqual(Array.from(expected));
    expect(Array.from(view)).toEqual(Array.from(own.input.data as Float32Array));
  });

  it('answers concurrent runs each with its own result', async () => {
    // Arrange
    await sut.load(BENCH_MLP);
    const inputs = [1, 2, 3, 4, 5].map((n) => rows(n, n * 1000));

    // Act
    const outputs = await Promise.all(inputs.map((i) => sut.run(i)));
    const again = await sut.run(inputs[2]);

    // Assert
    expect(outputs.map((o) => o.output.shape[0])).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(outputs[2].output.data as Float32Array)).toEqual(Array.from(again.output.data as Float32Array));
    expect(outputs[0].output.data).not.toEqual(outputs[1].output.data.slice(0, 10));
  });

  it('leaves the caller its input tensors (they are copied, not moved)', async () => {
    // Arrange
    await sut.load(BENCH_MLP);
    const input = rows(2);

    // Act
    await sut.run(input);

    // Assert
    expect(input.input.data.length).toBe(512);
    expect((input.input.data as Float32Array)[0]).toBeCloseTo(1, 6);
  });

  it('rejects one bad run with the onnxruntime error and keeps serving', async () => {
    // Arrange
    await sut.load(BENCH_MLP);
    const wrongWidth: NamedTensors = { input: { datatype: 'FP32', shape: [1, 3], data: new Float32Array(3) } };

    // Act
    const bad = sut.run(wrongWidth);

    // Assert
    await expect(bad).rejects.toThrow(/dimension|Got invalid dimensions|index/i);
    expect((await sut.run(rows(1))).output.shape).toEqual([1, 10]);
  });

  it('rejects a file that is not a model with the reason, and runs before load or after unload', async () => {
    // Act / Assert
    await expect(sut.load(join(MODELS, 'iris', 'model.json'))).rejects.toThrow(/protobuf|parse|load/i);
    await expect(sut.run(rows(1))).rejects.toThrow('model is not loaded');
    await sut.load(BENCH_MLP);
    await sut.unload();
    await expect(sut.run(rows(1))).rejects.toThrow('model is not loaded');
  });

  it('rejects runs pending when it is unloaded', async () => {
    // Arrange
    await sut.load(BENCH_MLP);
    const many = Promise.allSettled(Array.from({ length: 20 }, () => sut.run(rows(64))));

    // Act
    await sut.unload();
    const settled = await many;

    // Assert: the ones already answered are fine, every other one is rejected, none hangs
    const rejected = settled.filter((s) => s.status === 'rejected');
    expect(settled).toHaveLength(20);
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect((r as PromiseRejectedResult).reason.message).toBe('model is not loaded');
  });
});

describe('OnnxWorkerRuntime when its thread dies', () => {
  const threadOf = (sut: OnnxWorkerRuntime) => (sut as unknown as { thread: { worker: Worker } }).thread.worker;
  /** Makes the runtime's thread end itself (the fault-injecting worker script), as a crash would. */
  const crashThread = (sut: OnnxWorkerRuntime) => {
    const worker = threadOf(sut);
    worker.postMessage({ type: 'crash' });
    return once(worker, 'exit');
  };

  it('rejects the runs in flight with the reason, then serves the next run from a fresh thread', async () => {
    // Arrange
    const sut = new OnnxWorkerRuntime(CRASHING_WORKER);
    await sut.load(BENCH_MLP);
    const before = (await sut.run(rows(2))).output.data;

    // Act: the thread ends before it reads the two runs posted after the crash message
    const crashed = crashThread(sut);
    const settled = await Promise.allSettled([sut.run(rows(64)), sut.run(rows(64))]);
    await crashed;
    const after = await Promise.all([sut.run(rows(2)), sut.run(rows(2))]);

    // Assert
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    for (const s of settled) expect((s as PromiseRejectedResult).reason.message).toBe('worker thread exited (9)');
    expect(Array.from(after[0].output.data as Float32Array)).toEqual(Array.from(before as Float32Array));
    expect(Array.from(after[1].output.data as Float32Array)).toEqual(Array.from(before as Float32Array));
    await sut.unload();
    await expect(sut.run(rows(1))).rejects.toThrow('model is not loaded');
  });

  it('reports a restart that fails, fails fast for a second, then tries again', async () => {
    // Arrange: a model file that disappears after the first load
    const dir = mkdtempSync(join(tmpdir(), 'worker-restart-'));
    const path = join(dir, 'model.onnx');
    copyFileSync(BENCH_MLP, path);
    let now = 1_000_000;
    const sut = new OnnxWorkerRuntime(CRASHING_WORKER, () => now);
    await sut.load(path);
    await crashThread(sut);
    rmSync(path);

    const starts = jest.spyOn(sut as unknown as { start: () => Promise<unknown> }, 'start');

    // Act
    await expect(sut.run(rows(1))).rejects.toThrow(/^worker thread restart failed: /);
    await expect(sut.run(rows(1))).rejects.toThrow(/^worker thread restart failed: /);
    const startsDuringBackoff = starts.mock.calls.length;
    copyFileSync(BENCH_MLP, path);
    now += 999;
    await expect(sut.run(rows(1))).rejects.toThrow(/^worker thread restart failed: /);
    now += 2;
    const third = await sut.run(rows(1));

    // Assert
    expect(startsDuringBackoff).toBe(1);
    // One start at the first failure, none while backing off (even 999 ms later), one after it.
    expect(starts).toHaveBeenCalledTimes(2);
    expect(third.output.shape).toEqual([1, 10]);
    await sut.unload();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops a thread whose run outlives runTimeoutMs, failing the runs queued behind it, and serves the next run', async () => {
    // Arrange: a 20,000-row run takes well over a second here, far past a 20 ms limit (+100 ms grace)
    const sut = new OnnxWorkerRuntime();
    await sut.load(BENCH_MLP, { runTimeoutMs: 20 });

    // Act
    const settled = await Promise.allSettled([sut.run(rows(20_000)), sut.run(rows(1))]);
    const retired = (sut as unknown as { thread?: unknown }).thread;
    const next = await sut.run(rows(1));

    // Assert
    expect(settled.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    for (const x of settled) expect((x as PromiseRejectedResult).reason.message).toBe('inference exceeded 20 ms; its worker thread was stopped');
    expect(next.output.shape).toEqual([1, 10]);
    expect(retired).toBeUndefined();
    // The retired thread was not cut mid-run: unload waits for it to finish and end.
    await sut.unload();
    expect((sut as unknown as { retiring: Set<unknown> }).retiring.size).toBe(0);
  });

  it('refuses to start a third thread while two retired ones are still stuck (OVERLOADED), then serves again once they end', async () => {
    // Arrange: each thread is made to hang for 5 s (as in a native run), so its run times out and it is retired
    const sut = new OnnxWorkerRuntime(CRASHING_WORKER);
    await sut.load(BENCH_MLP, { runTimeoutMs: 20 });
    const hang = () => threadOf(sut).postMessage({ type: 'hang', ms: 5_000 });
    hang();
    await expect(sut.run(rows(1))).rejects.toThrow('inference exceeded 20 ms; its worker thread was stopped');
    await sut.run(rows(1)).then(() => undefined, () => undefined);
    hang();
    await expect(sut.run(rows(1))).rejects.toThrow('inference exceeded 20 ms; its worker thread was stopped');

    // Act
    const refused = await sut.run(rows(1)).catch((e: unknown) => e);
    const retiring = (sut as unknown as { retiring: Set<Promise<void>> }).retiring;
    const stuck = retiring.size;
    await Promise.all(retiring);
    const served = await sut.run(rows(1));

    // Assert
    expect(stuck).toBe(2);
    expect(refused).toMatchObject({ code: 'OVERLOADED', retryAfterSeconds: 1 });
    expect(served.output.shape).toEqual([1, 10]);
    await sut.unload();
  });
});

describe('OnnxWorkerRuntime: large inputs whose memory is the request\'s alone', () => {
  let sut: OnnxWorkerRuntime;

  beforeAll(async () => {
    sut = new OnnxWorkerRuntime();
    await sut.load(BENCH_MLP);
  });

  afterAll(async () => {
    await sut.unload();
  });

  it('moves them to the thread (not copied: detached meanwhile) and hands them back with the answer, the same values and still movable', async () => {
    // Arrange: 80 rows of 256 FP32 = 80 KiB, over MOVE_MIN_BYTES
    const inline = new OnnxRuntime();
    await inline.load(BENCH_MLP);
    const expected = Array.from((await inline.run(rows(80))).output.data as Float32Array);
    await inline.unload();
    const inputs = rows(80);
    const original = markMovable(inputs.input.data as Float32Array);
    const values = Array.from(original);
    const bytes = original.byteLength;

    // Act
    const answer = sut.run(inputs);
    const detachedMeanwhile = original.byteLength === 0;
    const output = (await answer).output;

    // Assert
    expect(bytes).toBeGreaterThanOrEqual(MOVE_MIN_BYTES);
    expect(detachedMeanwhile).toBe(true);
    expect(inputs.input.data).not.toBe(original);
    expect(inputs.input.data).toBeInstanceOf(Float32Array);
    expect(Array.from(inputs.input.data as Float32Array)).toEqual(values);
    expect(isMovable((inputs.input.data as Float32Array).buffer)).toBe(true);
    expect(Array.from(output.data as Float32Array)).toEqual(expected);
  });

  it('hands them back when onnxruntime refuses the run', async () => {
    // Arrange: 64 rows of 300 values (75 KiB) for a model that takes 256 a row
    const data = markMovable(Float32Array.from({ length: 64 * 300 }, (_, i) => i % 7));
    const inputs: NamedTensors = { input: { datatype: 'FP32', shape: [64, 300], data } };

    // Act
    const error = await sut.run(inputs).catch((e: unknown) => e);

    // Assert
    expect(error).toBeInstanceOf(RuntimeInputError);
    expect((inputs.input.data as Float32Array).length).toBe(64 * 300);
    expect((inputs.input.data as Float32Array)[13]).toBe(6);
  });

  it('fails a run whose inputs cannot be sent (a view over detached memory) alone: nothing left pending, the thread keeps serving', async () => {
    // Arrange
    const inputs = rows(2);
    const buffer = (inputs.input.data as Float32Array).buffer as ArrayBuffer;
    structuredClone(buffer, { transfer: [buffer] });

    // Act
    const error = await sut.run(inputs).catch((e: unknown) => e);
    const pending = (sut as unknown as { pending: Map<number, unknown> }).pending.size;
    const next = await sut.run(rows(1));

    // Assert
    expect(error).toMatchObject({ name: 'DataCloneError' });
    expect(pending).toBe(0);
    expect(next.output.shape).toEqual([1, 10]);
  });

  it('copies memory nobody marked movable, and marked inputs under MOVE_MIN_BYTES: the caller\'s arrays stay whole during the run', async () => {
    // Arrange
    const unmarked = rows(80);
    const small = rows(2);
    const smallData = markMovable(small.input.data as Float32Array);
    const unmarkedData = unmarked.input.data;

    // Act
    const answers = [sut.run(unmarked), sut.run(small)];
    const lengthsMeanwhile = [unmarkedData.length, smallData.length];
    await Promise.all(answers);

    // Assert
    expect(lengthsMeanwhile).toEqual([80 * 256, 2 * 256]);
    expect([unmarked.input.data, small.input.data]).toEqual([unmarkedData, smallData]);
    expect(unmarked.input.data).toBe(unmarkedData);
  });
});
