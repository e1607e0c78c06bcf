import { BodyBufferPool } from './body-buffer-pool';

const MB = 1 << 20;

describe('BodyBufferPool', () => {
  it('gives a buffer of exactly the size asked, over memory rounded up to the granule', () => {
    const pool = new BodyBufferPool(64 * MB);
    const body = pool.take(MB + 5);
    expect(body.length).toBe(MB + 5);
    expect(body.byteOffset).toBe(0);
    expect(body.buffer.byteLength).toBe(2 * MB);
  });

  it('takes the same ArrayBuffer again once it is given back (not a copy, not a transfer)', () => {
    const pool = new BodyBufferPool(64 * MB);
    const first = pool.take(3 * MB);
    const memory = first.buffer;
    pool.give(first);
    expect(pool.idleTotal).toBe(3 * MB);
    const second = pool.take(3 * MB - 100);
    expect(second.buffer).toBe(memory);
    expect(second.length).toBe(3 * MB - 100);
    expect(pool.idleTotal).toBe(0);
    // Taken: not handed to anyone else.
    expect(pool.take(3 * MB).buffer).not.toBe(memory);
  });

  it('does not give a buffer twice or more memory than twice the size', () => {
    const pool = new BodyBufferPool(64 * MB);
    const big = pool.take(8 * MB);
    pool.give(big);
    pool.give(big);
    expect(pool.idleTotal).toBe(8 * MB);
    expect(pool.take(MB).buffer).not.toBe(big.buffer);
    expect(pool.take(8 * MB).buffer).toBe(big.buffer);
    expect(pool.take(8 * MB).buffer).not.toBe(big.buffer);
  });

  it('takes the smallest idle buffer that fits', () => {
    const pool = new BodyBufferPool(64 * MB);
    const [a, b, c] = [pool.take(6 * MB), pool.take(4 * MB), pool.take(5 * MB)];
    for (const x of [a, b, c]) pool.give(x);
    expect(pool.take(4 * MB + 1).buffer).toBe(c.buffer);
    expect(pool.take(3 * MB).buffer).toBe(b.buffer);
    expect(pool.take(6 * MB).buffer).toBe(a.buffer);
  });

  it('keeps at most maxIdleBytes idle, and nothing detached', () => {
    const pool = new BodyBufferPool(5 * MB);
    const [a, b] = [pool.take(3 * MB), pool.take(3 * MB)];
    pool.give(a);
    pool.give(b);
    expect(pool.idleTotal).toBe(3 * MB);
    const c = pool.take(MB);
    expect(c.buffer).not.toBe(a.buffer);
    structuredClone(c.buffer, { transfer: [c.buffer as ArrayBuffer] });
    pool.give(c);
    expect(pool.idleTotal).toBe(3 * MB);
  });
});
