/**
 * Memory for large request bodies, used again from one request to the next.
 *
 * A 23.7 MB JSON image body read into fresh memory cost two things (bench/README.md, "Session
 * 10"). First, fresh pages: glibc hands a body of that size its own mapping and unmaps it when it
 * is freed, and on a VM a fresh page is expensive. Second, external memory: V8 counts every new
 * ArrayBuffer against its external-memory limit, and each request's ~65 MB of new ArrayBuffers
 * started ~2 mark-compacts. Re-using the same ArrayBuffer objects (not transferred ones, which V8
 * counts again) halved the mark-compacts of a JSON request.
 *
 * A buffer is given back only by the code that knows nothing reads it any more (see
 * fastify.http.ts: a JSON inference body once its numbers are read into their own arrays). A body
 * never given back is simply left to the GC, so forgetting is always safe; giving back too early
 * is not, hence one owner and one place.
 */
export class BodyBufferPool {
  /** Idle ArrayBuffers, smallest first. */
  private readonly idle: ArrayBuffer[] = [];
  private idleBytes = 0;

  /**
   * `maxIdleBytes`: the most memory kept while no request uses it (a burst's buffers past it are
   * left to the GC); `granule`: capacities are rounded up to a multiple of it, so bodies of
   * nearly the same size share buffers.
   */
  constructor(readonly maxIdleBytes: number, private readonly granule = 1 << 20) {}

  /**
   * A Buffer of exactly `size` bytes, uninitialised: over an idle ArrayBuffer of at least `size`
   * and less than twice `size` bytes when there is one, else over a new one.
   */
  take(size: number): Buffer {
    for (let i = 0; i < this.idle.length; i += 1) {
      const buffer = this.idle[i];
      if (buffer.byteLength < size) continue;
      if (buffer.byteLength >= 2 * size) break;
      this.idle.splice(i, 1);
      this.idleBytes -= buffer.byteLength;
      return Buffer.from(buffer, 0, size);
    }
    const capacity = Math.ceil(size / this.granule) * this.granule;
    return Buffer.from(Buffer.allocUnsafeSlow(capacity).buffer, 0, size);
  }

  /**
   * Gives back the memory under `body` (a Buffer {@link take} returned). The caller must hold the
   * only use of it: the next {@link take} may write over it at once. A buffer given twice, one
   * moved to another thread (detached), or one past `maxIdleBytes` is not kept.
   */
  give(body: Buffer): void {
    const buffer = body.buffer as ArrayBuffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return;
    if (this.idle.includes(buffer)) return;
    if (this.idleBytes + buffer.byteLength > this.maxIdleBytes) return;
    let at = 0;
    while (at < this.idle.length && this.idle[at].byteLength < buffer.byteLength) at += 1;
    this.idle.splice(at, 0, buffer);
    this.idleBytes += buffer.byteLength;
  }

  /** Bytes kept idle now. */
  get idleTotal(): number {
    return this.idleBytes;
  }
}
