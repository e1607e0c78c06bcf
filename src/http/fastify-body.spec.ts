import { PassThrough } from 'node:stream';

import { PREALLOCATE_BYTES, readFastifyBody } from './fastify-body';

interface Outcome {
  error: (Error & { code?: string; statusCode?: number }) | null;
  body?: Buffer;
}

/** Feeds `chunks` through a stream into readFastifyBody; what it answered, and what `watch` saw. */
async function read(chunks: Buffer[], headers: Record<string, string>, limit: number, end: 'end' | Error = 'end'): Promise<Outcome & { targets: Buffer[]; progress: number[] }> {
  const payload = new PassThrough();
  const targets: Buffer[] = [];
  const progress: number[] = [];
  const outcome = new Promise<Outcome>((done) => {
    readFastifyBody(payload, headers, limit, (error, body) => done({ error, body }), (target) => {
      targets.push(target);
      return (received) => progress.push(received);
    });
  });
  for (const chunk of chunks) payload.write(chunk);
  if (end === 'end') payload.end();
  else payload.destroy(end);
  return { ...(await outcome), targets, progress };
}

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 1) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('readFastifyBody', () => {
  it('gives a small body as one buffer, its chunks concatenated, with no watch', async () => {
    // Arrange
    const chunks = [bytes(10), bytes(20, 2), bytes(5, 3)];

    // Act
    const sut = await read(chunks, { 'content-length': '35' }, 1000);

    // Assert
    expect(sut.error).toBeNull();
    expect(sut.body).toEqual(Buffer.concat(chunks));
    expect(sut.targets).toHaveLength(0);
  });

  it('reads a large body into one buffer of its Content-Length, its own memory, telling the watch after each chunk', async () => {
    // Arrange
    const chunks = [bytes(PREALLOCATE_BYTES / 2), bytes(PREALLOCATE_BYTES / 4, 2), bytes(PREALLOCATE_BYTES / 2 + 7, 3)];
    const length = chunks.reduce((n, c) => n + c.length, 0);

    // Act
    const sut = await read(chunks, { 'content-length': String(length) }, 10 * PREALLOCATE_BYTES);

    // Assert
    expect(sut.error).toBeNull();
    expect(sut.body).toEqual(Buffer.concat(chunks));
    expect(sut.targets).toHaveLength(1);
    expect(sut.body).toBe(sut.targets[0]);
    expect(sut.body!.byteOffset).toBe(0);
    expect(sut.body!.buffer.byteLength).toBe(length);
    // PassThrough may merge or split writes: the counts grow to the whole body.
    expect(sut.progress.at(-1)).toBe(length);
    expect([...sut.progress].sort((a, b) => a - b)).toEqual(sut.progress);
  });

  it('refuses a Content-Length past the limit before reading (413, as Fastify)', async () => {
    // Act
    const sut = await read([], { 'content-length': '101' }, 100);

    // Assert
    expect(sut.error?.code).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
    expect(sut.error?.statusCode).toBe(413);
  });

  it('refuses bytes past the limit when the size was not told (chunked)', async () => {
    // Act
    const sut = await read([bytes(60), bytes(60)], {}, 100);

    // Assert
    expect(sut.error?.code).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
  });

  it('refuses a body shorter than its Content-Length (400, as Fastify), small or preallocated', async () => {
    for (const length of [50, PREALLOCATE_BYTES + 10]) {
      // Act
      const sut = await read([bytes(length - 10)], { 'content-length': String(length) }, 10 * PREALLOCATE_BYTES);

      // Assert
      expect(sut.error?.code).toBe('FST_ERR_CTP_INVALID_CONTENT_LENGTH');
      expect(sut.error?.statusCode).toBe(400);
    }
  });

  it('answers a stream error as itself with status 400', async () => {
    // Act
    const sut = await read([bytes(10)], { 'content-length': '100' }, 1000, new Error('aborted'));

    // Assert
    expect(sut.error?.message).toBe('aborted');
    expect(sut.error?.statusCode).toBe(400);
  });
});
