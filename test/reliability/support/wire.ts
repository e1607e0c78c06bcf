import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';

/**
 * The client side of the hostile-input suite: every request goes over real HTTP to 127.0.0.1,
 * through one keep-alive node:http Agent (fast, and the path, headers and body bytes are sent as
 * given — no URL normalisation, unlike fetch), or over a raw node:net socket for bytes that are
 * not HTTP a client library would send. Every request is counted under a route family, so the
 * suite can print how much of each route it exercised.
 */

/** Guards against a hang only (a hung request fails the property with this message); no latency is asserted anywhere. */
export const REQUEST_TIMEOUT_MS = 20_000;

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  contentType: string;
  raw: Buffer;
  /** The parsed body when the answer says it is JSON (undefined otherwise, or when it does not parse: see jsonError). */
  json: unknown;
  jsonError?: string;
}

export interface Sent {
  /** Route family for the count table (see FAMILIES in the spec). */
  family: string;
  method: string;
  /** Request target exactly as sent (path + query). */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked (in pieces of this many bytes) instead of Content-Length. */
  chunked?: number;
}

export interface RawReply {
  /** Every HTTP response read off the socket, in order (pipelined or smuggled requests get several). */
  responses: { status: number; headers: Record<string, string>; body: Buffer }[];
  /** Bytes that did not parse as a response (none for a well-behaved server). */
  trailing: Buffer;
  /** The socket was closed by the server (or our timeout) rather than kept open. */
  closed: boolean;
}

export class Wire {
  /** Requests by route family. */
  readonly counts = new Map<string, number>();
  /** Answers by route family and status ('closed' for a raw socket closed without one). */
  readonly statuses = new Map<string, Map<string, number>>();
  /** Requests by property (whatever `phase` was when they were sent). */
  readonly phases = new Map<string, number>();
  phase = 'setup';
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 32, keepAliveMsecs: 1_000 });

  constructor(readonly port: number) {}

  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  count(family: string, n = 1): void {
    this.counts.set(family, (this.counts.get(family) ?? 0) + n);
    this.phases.set(this.phase, (this.phases.get(this.phase) ?? 0) + n);
  }

  noteStatus(family: string, status: number | string): void {
    const byStatus = this.statuses.get(family) ?? new Map<string, number>();
    byStatus.set(String(status), (byStatus.get(String(status)) ?? 0) + 1);
    this.statuses.set(family, byStatus);
  }

  /** One request over the keep-alive agent. A reused socket the server had closed meanwhile is retried once on a fresh one. */
  async send(req: Sent): Promise<Reply> {
    this.count(req.family);
    let r: Reply;
    try {
      r = await this.once(req, this.agent);
    } catch (e) {
      if (!(e as { reused?: boolean }).reused) throw e;
      r = await this.once(req, false);
    }
    this.noteStatus(req.family, r.status);
    return r;
  }

  private once(req: Sent, agent: Agent | false): Promise<Reply> {
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
    const headers: Record<string, string | string[]> = { ...(req.headers ?? {}) };
    const names = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
    if (body !== undefined && !req.chunked && !names.has('content-length')) headers['content-length'] = String(body.length);
    if (req.chunked && !names.has('transfer-encoding')) headers['transfer-encoding'] = 'chunked';
    return new Promise<Reply>((resolve, reject) => {
      const r = httpRequest({ host: '127.0.0.1', port: this.port, method: req.method, path: req.path, headers, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const contentType = String(res.headers['content-type'] ?? '');
          let json: unknown;
          let jsonError: string | undefined;
          if (/^application\/json/i.test(contentType) && req.method !== 'HEAD') {
            try {
              json = JSON.parse(raw.toString('utf8'));
            } catch (e) {
              jsonError = (e as Error).message;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, contentType, raw, json, jsonError });
        });
      });
      r.on('timeout', () => r.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms: ${req.method} ${req.path.slice(0, 200)}`)));
      r.on('error', (e: Error & { reused?: boolean }) => {
        e.reused = r.reusedSocket && /ECONNRESET|socket hang up/.test(`${(e as { code?: string }).code} ${e.message}`);
        reject(e);
      });
      if (body !== undefined && req.chunked) {
        for (let i = 0; i < body.length; i += req.chunked) r.write(body.subarray(i, i + req.chunked));
        r.end();
      } else {
        r.end(body);
      }
    });
  }

  /**
   * Bytes straight onto a fresh TCP socket (then a half-close if asked: Node's server aborts the
   * requests still in flight when the client ends its side, so only requests meant to be
   * incomplete are half-closed); reads until the server closes, `responses` answers have arrived,
   * or `idleMs` of silence after a complete answer. For malformed HTTP no client library sends.
   */
  raw(family: string, bytes: Buffer, { halfClose = false, idleMs = 300, responses }: { halfClose?: boolean; idleMs?: number; responses?: number } = {}): Promise<RawReply> {
    this.count(family);
    return new Promise<RawReply>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: this.port });
      const chunks: Buffer[] = [];
      let idle: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (closed: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(idle);
        clearTimeout(hang);
        socket.destroy();
        const parsed = parseResponses(Buffer.concat(chunks));
        if (parsed.responses.length === 0) this.noteStatus(family, 'closed');
        for (const res of parsed.responses) this.noteStatus(family, res.status);
        resolve({ ...parsed, closed });
      };
      const hang = setTimeout(() => {
        if (done) return;
        done = true;
        socket.destroy();
        reject(new Error(`raw request: no answer and no close within ${REQUEST_TIMEOUT_MS} ms: ${JSON.stringify(bytes.subarray(0, 200).toString('latin1'))}`));
      }, REQUEST_TIMEOUT_MS);
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        clearTimeout(idle);
        if (responses !== undefined) {
          if (parseResponses(Buffer.concat(chunks)).responses.length >= responses) finish(false);
          return;
        }
        // Without a half-close the server may keep the connection open: stop once a full answer arrived and the line went quiet.
        idle = setTimeout(() => {
          const parsed = parseResponses(Buffer.concat(chunks));
          if (parsed.responses.length && parsed.trailing.length === 0) finish(false);
        }, idleMs);
      });
      socket.on('close', () => finish(true));
      socket.on('error', (e: NodeJS.ErrnoException) => {
        // The server may reset a connection it refused; what it answered before is what counts.
        if (e.code === 'ECONNRESET' || e.code === 'EPIPE') finish(true);
        else if (!done) { done = true; clearTimeout(hang); reject(e); }
      });
      socket.on('connect', () => {
        socket.write(bytes);
        if (halfClose) socket.end();
      });
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Splits a byte stream into HTTP/1.x responses (Content-Length or chunked bodies; a response without either runs to the end). */
export function parseResponses(buf: Buffer): Omit<RawReply, 'closed'> {
  const responses: RawReply['responses'] = [];
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = buf.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
    if (!m) break;
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let bodyStart = end + 4;
    let body: Buffer;
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', bodyStart);
        if (lineEnd < 0) break;
        const size = parseInt(buf.subarray(bodyStart, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) break;
        if (size === 0) { bodyStart = lineEnd + 4; complete = true; break; }
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        bodyStart = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      at = bodyStart;
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (bodyStart + n > buf.length) break;
      body = buf.subarray(bodyStart, bodyStart + n);
      at = bodyStart + n;
    } else {
      const status = Number(m[1]);
      // 1xx, 204 and 304 carry no body; anything else without a length runs until the close.
      const bodyless = status < 200 || status === 204 || status === 304;
      body = bodyless ? Buffer.alloc(0) : buf.subarray(bodyStart);
      at = bodyless ? bodyStart : buf.length;
    }
    responses.push({ status: Number(m[1]), headers, body });
  }
  return { responses, trailing: buf.subarray(at) };
}
