import { InferenceSession } from 'onnxruntime-node';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { AppError } from '../../../common/errors/app-error';
import { ErrorCode } from '../../../common/errors/error-code';
import { isMovable, markMovable } from '../../tensors/movable-memory';
import { NamedTensors, TensorData } from '../../tensors/tensor';
import { ModelRuntime, RuntimeOptions, RuntimeSignature } from '../model-runtime';
import { fromOrtData, OrtTensorData, sessionOptionsOf, specOf, toOrtData } from './onnx-runtime';
import { ortRunError } from './ort-run-error';

const WORKER_FILE = join(__dirname, 'onnx-worker.js');
/** How long unload() waits for released threads to free their sessions (a run in progress finishes first). */
const RELEASE_GRACE_MS = 5_000;
/** A run is stopped this long after its caller's timeout (which answers 504 first). */
const RUN_TIMEOUT_GRACE_MS = 100;
/** After a failed restart, runs fail fast for this long instead of each starting a thread. */
const RESTART_BACKOFF_MS = 1_000;
/**
 * Threads still finishing a stuck run (each holds a session and a core) before a restart is
 * refused: repeated timeouts must not pile up threads. Runs are refused with OVERLOADED meanwhile.
 */
const MAX_RETIRING = 2;

type LoadedMessage =
  | { type: 'loaded'; error: string }
  | { type: 'loaded'; error?: undefined; inputMetadata: InferenceSession.ValueMetadata[]; outputMetadata: InferenceSession.ValueMetadata[] };
/** `inputs`: the moved inputs' data, handed back (see {@link movedInputs}). */
type ResultMessage = { type: 'result'; id: number; outputs?: Record<string, OrtTensorData>; inputs?: Record<string, TensorData>; error?: string };

interface Pending {
  resolve: (outputs: NamedTensors) => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
  /** The run's inputs, when their memory moved to the thread: their data is put back from the answer. */
  moved?: NamedTensors;
}

/** Inputs at least this large move to the thread when their memory is movable; smaller ones are copied (cheaper than a transfer). */
export const MOVE_MIN_BYTES = 64 * 1024;

/**
 * The inputs whose memory moves to the thread instead of being copied: marked movable (the
 * request's alone, see movable-memory.ts) and at least MOVE_MIN_BYTES; their names and buffers.
 * Until the thread answers, those inputs' data is detached; the answer hands it back.
 */
export function movedInputs(inputs: NamedTensors): { names: string[]; buffers: ArrayBuffer[] } {
  const names: string[] = [];
  const buffers = new Set<ArrayBuffer>();
  for (const name in inputs) {
    const { data } = inputs[name];
    if (ArrayBuffer.isView(data) && data.byteLength >= MOVE_MIN_BYTES && isMovable(data.buffer)) {
      names.push(name);
      buffers.add(data.buffer);
    }
  }
  return { names, buffers: [...buffers] };
}

/**
 * The onnxruntime runtime on its own worker thread (Triton's model instance): the session is
 * created and run there, so a run of a large model (tens of ms, synchronous in onnxruntime-node)
 * never blocks the event loop, and HTTP work overlaps inference. Large inputs whose memory is the
 * request's alone move to the thread and are handed back with the answer (see {@link movedInputs});
 * other inputs are copied; outputs move back. Runs are answered in order; if the thread dies,
 * every pending and later run is rejected with the reason (the version then reports errors, and a
 * reload replaces it).
 *
 * A thread is never terminated from outside: onnxruntime-node aborts the whole process when a
 * thread is terminated in the middle of a run. A thread given up on (a stuck run, an unload) is
 * retired instead: its queued runs are skipped, and it releases its session and ends once the run
 * in progress returns.
 */
export class OnnxWorkerRuntime extends ModelRuntime {
  private thread: Thread | undefined;
  private readonly pending = new Map<number, Pending>();
  /** Threads retired and not yet ended; unload() waits for them. */
  private readonly retiring = new Set<Promise<void>>();
  private nextId = 0;
  private failure: string | undefined;
  /** What load() was given, so a thread that died can be started again; cleared by unload(). */
  private source: { path: string; options: RuntimeOptions } | undefined;
  private restarting: Promise<void> | undefined;
  private restartFailure: { at: number; message: string } | undefined;

  /**
   * @param workerFile the thread's script; only fault-injection tests give another.
   * @param now the clock of the restart back-off, in ms (tests inject one).
   */
  constructor(private readonly workerFile = WORKER_FILE, private readonly now: () => number = Date.now) {
    super();
  }

  async load(path: string, options: RuntimeOptions = {}): Promise<RuntimeSignature> {
    const signature = await this.start(path, options);
    this.source = { path, options };
    return signature;
  }

  private async start(path: string, options: RuntimeOptions): Promise<RuntimeSignature> {
    const retired = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(this.workerFile, { workerData: { path, sessionOptions: sessionOptionsOf(options), retired } });
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
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
      // No session and no run: ending this thread from outside is safe.
      await worker.terminate();
      throw new Error(loaded.error);
    }
    worker.on('message', this.onMessage);
    worker.on('error', this.onError);
    worker.on('exit', this.onExit);
    // A forgotten runtime must not keep the process alive; shutdown releases every version.
    worker.unref();
    this.thread = { worker, retired, exited };
    this.failure = undefined;
    return { inputs: loaded.inputMetadata.map(specOf), outputs: loaded.outputMetadata.map(specOf) };
  }

  /**
   * Posts one run to the thread. If the thread died (its runs were rejected with the reason), the
   * next run starts a fresh one first, so one crash costs the requests in flight, not the version.
   * A run onnxruntime fails rejects with RuntimeInputError (the inputs' fault) or RuntimeRunError.
   */
  run(inputs: NamedTensors): Promise<NamedTensors> {
    if (!this.thread && this.source) return this.restart().then(() => this.run(inputs));
    if (!this.thread) return Promise.reject(new Error(this.failure ?? 'model is not loaded'));
    const id = this.nextId++;
    const limit = this.source?.options.runTimeoutMs;
    const result = new Promise<NamedTensors>((resolve, reject) => {
      // Runs are answered in order, so a run past the limit holds every run behind it: the thread is
      // retired (those runs fail too) and the next run starts a fresh one.
      const timer = limit ? setTimeout(() => this.stuck(limit), limit + RUN_TIMEOUT_GRACE_MS) : undefined;
      timer?.unref();
      this.pending.set(id, { resolve, reject, timer });
    });
    const feeds = toOrtData(inputs);
    const moved = movedInputs(inputs);
    try {
      if (moved.names.length > 0) {
        try {
          this.thread.worker.postMessage({ type: 'run', id, feeds, handBack: moved.names }, moved.buffers);
          this.pending.get(id)!.moved = inputs;
          return result;
        } catch {
          // A buffer that cannot move (nothing was sent, nothing detached): copied like any other.
        }
      }
      this.thread.worker.postMessage({ type: 'run', id, feeds });
    } catch (e) {
      // Nothing was sent (inputs that cannot be cloned): this run fails alone, the thread keeps serving.
      const waiter = this.pending.get(id)!;
      clearTimeout(waiter.timer);
      this.pending.delete(id);
      waiter.reject(e as Error);
    }
    return result;
  }

  /**
   * One restart at a time. A restart that fails rejects the runs waiting for it; runs in the next
   * RESTART_BACKOFF_MS are rejected with the same reason at once, then the next run tries again.
   */
  private restart(): Promise<void> {
    const { path, options } = this.source!;
    if (this.retiring.size >= MAX_RETIRING) {
      return Promise.reject(new AppError(ErrorCode.OVERLOADED, `Model is overloaded: ${this.retiring.size} worker threads are still finishing runs that timed out`, [], 1));
    }
    const last = this.restartFailure;
    if (last && this.now() - last.at < RESTART_BACKOFF_MS) return Promise.reject(new Error(last.message));
    this.restarting ??= this.start(path, options).then(
      () => {
        this.restarting = undefined;
        this.restartFailure = undefined;
      },
      (e: Error) => {
        this.restarting = undefined;
        this.restartFailure = { at: this.now(), message: `worker thread restart failed: ${e.message}` };
        throw new Error(this.restartFailure.message);
      },
    );
    return this.restarting;
  }

  /** Rejects pending runs, retires the thread and waits (up to RELEASE_GRACE_MS) for every retired thread to end. */
  async unload(): Promise<void> {
    this.source = undefined;
    await this.restarting?.catch(() => undefined);
    this.fail('model is not loaded');
    if (this.retiring.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, RELEASE_GRACE_MS); });
    await Promise.race([Promise.all(this.retiring), late]);
    clearTimeout(timer);
  }

  private readonly onMessage = (message: ResultMessage): void => this.settle(message);
  private readonly onError = (e: Error): void => this.fail(`worker thread failed: ${e.message}`);
  private readonly onExit = (code: number): void => this.fail(`worker thread exited (${code})`);

  /** A run outlived its limit: its thread is retired (its runs are rejected); the next run starts a fresh one. */
  private stuck(limitMs: number): void {
    if (this.thread) this.fail(`inference exceeded ${limitMs} ms; its worker thread was stopped`);
  }

  private settle(message: ResultMessage): void {
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    clearTimeout(waiter.timer);
    this.pending.delete(message.id);
    if (waiter.moved && message.inputs) handBack(waiter.moved, message.inputs);
    // The thread answers a failed session.run with onnxruntime's text: classified as in-process (input fault or not).
    if (message.error !== undefined) waiter.reject(ortRunError(message.error));
    else if (!message.outputs) waiter.reject(new Error('no outputs'));
    else waiter.resolve(fromOrtData(message.outputs));
  }

  /** Retires the thread (if it still runs) and rejects every pending run; later runs are rejected with the same reason. */
  private fail(reason: string): void {
    const thread = this.thread;
    this.thread = undefined;
    if (thread) this.retire(thread);
    this.failure = reason;
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(reason));
    }
    this.pending.clear();
  }

  /** Queued runs are skipped, then the thread releases its session and ends (a dead thread has ended already). */
  private retire({ worker, retired, exited }: Thread): void {
    worker.off('message', this.onMessage).off('error', this.onError).off('exit', this.onExit);
    Atomics.store(retired, 0, 1);
    worker.postMessage({ type: 'release' });
    const done = exited.then(() => { this.retiring.delete(done); });
    this.retiring.add(done);
  }
}

/** Puts the moved inputs' data back (the same typed arrays, over the memory the thread handed back), still movable. */
function handBack(inputs: NamedTensors, data: Record<string, TensorData>): void {
  for (const name in data) {
    const tensor = inputs[name];
    if (tensor) tensor.data = markMovable(data[name]);
  }
}

interface Thread {
  worker: Worker;
  /** Shared flag: 1 once the thread is retired (see onnx-worker.js). */
  retired: Int32Array;
  exited: Promise<void>;
}
