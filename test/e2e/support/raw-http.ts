import { IncomingHttpHeaders, request as httpRequest, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An answer as it came off the wire: status, headers and the body's bytes (not decoded). */
export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  raw: Buffer;
}

/** The port an app's server listens on (127.0.0.1), listening first when it does not yet. */
export async function listeningPort(server: Server): Promise<number> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * One request with exactly these headers and bytes (Content-Length set from the body unless
 * given), no client-side decoding of the answer: what compression and admission tests need.
 */
export async function rawRequest(server: Server, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawReply> {
  const port = await listeningPort(server);
  const sent = body === undefined || headers['content-length'] !== undefined ? headers : { ...headers, 'content-length': String(body.length) };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: sent, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
