import request from 'supertest';

/** A binary tensor data extension body: the JSON header, then the raw bytes of each binary input in order. */
export function binaryBody(header: object, ...tensors: ArrayBufferView[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const parts = tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength));
  return { body: Buffer.concat([json, ...parts]), headerLength: json.length };
}

/** Keeps supertest's raw bytes of a binary answer as `res.body`. */
export const rawParser = (res: request.Response, done: (err: Error | null, body: Buffer) => void): void => {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
};

interface BinaryOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: { binary_data_size?: number };
}

/**
 * A binary answer split as the extension says: the JSON header (`Inference-Header-Content-Length`
 * bytes), then each binary output's bytes in output order, read here as FP32.
 */
export function fp32Outputs(res: request.Response): { header: { outputs: BinaryOutput[] } & Record<string, unknown>; data: Record<string, number[]> } {
  const all = res.body as Buffer;
  const length = Number(res.headers['inference-header-content-length']);
  const header = JSON.parse(all.subarray(0, length).toString('utf8')) as { outputs: BinaryOutput[] } & Record<string, unknown>;
  const data: Record<string, number[]> = {};
  let offset = length;
  for (const output of header.outputs) {
    const size = output.parameters?.binary_data_size ?? 0;
    const bytes = new Uint8Array(all.subarray(offset, offset + size));
    data[output.name] = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, size / 4));
    offset += size;
  }
  return { header, data };
}
