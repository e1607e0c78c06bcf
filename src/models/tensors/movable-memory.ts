import { TensorData } from './tensor';

/**
 * Tensor memory that one request owns alone: a request body read for it, or arrays decoded for it.
 * A runtime on another thread may move (transfer) such memory there instead of copying it, and
 * hands it back with the result (see OnnxWorkerRuntime): measured on a 4.9 MB det input, the
 * structured-clone copy and the garbage it left cost ~10 ms of the event loop per request and a
 * full mark-compact about every request (V8 collects to free the external memory), which also took
 * CPU from inference on a 2-core machine. Memory nobody marked (a Buffer from Node's shared pool,
 * a message buffer a library may still read) is always copied.
 */
const movable = new WeakSet<ArrayBuffer>();

/** Marks the memory under `data` (when it is a typed array over an ArrayBuffer) as the request's alone; returns `data`. */
export function markMovable<T extends TensorData | Uint8Array>(data: T): T {
  if (ArrayBuffer.isView(data) && data.buffer instanceof ArrayBuffer) movable.add(data.buffer);
  return data;
}

/** True when `buffer` was marked by {@link markMovable} (and has not been moved away since). */
export function isMovable(buffer: ArrayBufferLike): buffer is ArrayBuffer {
  return buffer instanceof ArrayBuffer && movable.has(buffer) && buffer.byteLength > 0;
}
