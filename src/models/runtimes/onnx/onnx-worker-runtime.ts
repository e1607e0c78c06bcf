import { InferenceSession } from 'onnxruntime-node';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { NamedTensors } from '../../tensors/tensor';
import { ModelRuntime, RuntimeOptions, RuntimeSignature } from '../model-runtime';
import { fromOrtData, OrtTensorData, sessionOptionsOf, specOf, toOrtData } from './onnx-runtime';

const WORKER_FILE = join(__dirname, 'onnx-worker.js');
/** How long a released worker may take to free its session before it is terminated. */
const RELEASE_GRACE_MS = 5_000;

type LoadedMessage =
  | { type: 'loaded'; error: string }
  | { type: 'loaded'; error?: undefined; inputMetadata: InferenceSession.ValueMetadata[]; outputMetadata: InferenceSession.ValueMetadata[] };
type ResultMessage = { type: 'result'; id: number; outputs?: Record<string, OrtTensorData>; error?: string };

interface Pending {
  resolve: (outputs: NamedTensors) => void;
  reject: (error: Error) => void;
}

/**
 * The onnxruntime runtime on its own worker thread (Triton's model instance): the session is
 * created and run there, so a run of a large model (tens of ms, synchronous in onnxruntime-node)
 * never blocks the event loop, and HTTP work overlaps inference. Inputs are copied to the
 * worker, outputs moved back. Runs are answered in order; if the thread dies, every pending and
 * later run is rejected with the reason (the version then reports errors, and a reload replaces it).
 */
export class OnnxWorkerRuntime extends ModelRuntime {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: string | undefined;

  async load(path: string, options: RuntimeOptions = {}): Promise<RuntimeSignature> {
    const worker = new Worker(WORKER_FILE, { workerData: { path, sessionOptions: sessionOptionsOf(options) } });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const listeners: [string, (...args: any[]) => void][] = [];
    const loaded = await new Promise<LoadedMessage>((resolve, reject) => {
      listeners.push(['message', resolve], ['error', reject], ['exit', (code: number) => reject(new Error(`worker thread exited (${code}) while loading`))]);
      for (const [event, fn] of listeners) worker.on(event, fn);
    }).finally(() => {
      // Only our own listeners: Worker keeps internal ones (removeAllListeners would break its message port).
      for (const [event, fn] of listeners) worker.off(event, fn);
    });
    if (loaded.error !== undefined) {
      await worker.terminate();
      throw new Error(loaded.error);
    }
    worker.on('message', this.onMessage);
    worker.on('error', this.onError);
    worker.on('exit', this.onExit);
    // A forgotten runtime must not keep the process alive; shutdown releases every version.
    worker.unref();
    this.worker = worker;
    this.failure = undefined;
    return { inputs: loaded.inputMetadata.map(specOf), outputs: loaded.outputMetadata.map(specOf) };
  }

  run(inputs: NamedTensors): Promise<NamedTensors> {
    if (!this.worker) return Promise.reject(new Error(this.failure ?? 'model is not loaded'));
    const id = this.nextId++;
    const result = new Promise<NamedTensors>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.postMessage({ type: 'run', id, feeds: toOrtData(inputs) });
    return result;
  }

  async unload(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    worker.off('message', this.onMessage).off('error', this.onError).off('exit', this.onExit);
    this.fail('model is not loaded');
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'release' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), RELEASE_GRACE_MS); });
    if (await Promise.race([exited.then(() => false), late])) await worker.terminate();
    clearTimeout(timer);
  }

  private readonly onMessage = (message: ResultMessage): void => this.settle(message);
  private readonly onError = (e: Error): void => this.fail(`worker thread failed: ${e.message}`);
  private readonly onExit = (code: number): void => this.fail(`worker thread exited (${code})`);

  private settle(message: ResultMessage): void {
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.error !== undefined || !message.outputs) waiter.reject(new Error(message.error ?? 'no outputs'));
    else waiter.resolve(fromOrtData(message.outputs));
  }

  /** Rejects every pending run; later runs are rejected with the same reason. */
  private fail(reason: string): void {
    this.worker = undefined;
    this.failure = reason;
    for (const waiter of this.pending.values()) waiter.reject(new Error(reason));
    this.pending.clear();
  }
}
