import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ServerOptions, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

import { ErrorCode, statusOf } from '../common/errors/error-code';
import { errorEnvelope } from '../common/errors/error-envelope';
import { AllConfig } from '../config/app-config';

type ClientLimits = AllConfig['app']['clientLimits'];

/**
 * Node's own server options against slow and oversized clients, for the adapter that creates the
 * server: the header size cap, and how often incomplete requests are checked against the header and
 * request timeouts (Node checks every 30 s by default, so a slowloris client would hold its
 * connection up to 30 s past HEADERS_TIMEOUT_SECONDS).
 */
export function nodeServerOptions(limits: ClientLimits): ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
  };
}

/** The limits that are the server's properties, set on any adapter's server (Fastify sets its own keep-alive default, 72 s, otherwise). */
export function applyServerLimits(server: Server, limits: ClientLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  server.on('checkExpectation', answerUnmetExpectation);
  server.on('request', rememberTarget);
}

/** What a request the HTTP parser refused answers with: status code, error code and a message naming the problem. */
export function clientErrorOf(code: string | undefined): { code: ErrorCode; message: string } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: ErrorCode.REQUEST_TIMEOUT, message: 'The request was not received in time (HEADERS_TIMEOUT_SECONDS / REQUEST_TIMEOUT_SECONDS)' };
    case 'HPE_HEADER_OVERFLOW':
      return { code: ErrorCode.HEADERS_TOO_LARGE, message: 'The request headers are larger than MAX_HEADER_BYTES' };
    // llhttp's names: a second Content-Length is "unexpected"; Transfer-Encoding beside Content-Length is "invalid".
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return { code: ErrorCode.BAD_REQUEST, message: 'Content-Length is invalid or given more than once' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return { code: ErrorCode.BAD_REQUEST, message: 'Transfer-Encoding is invalid, or sent together with Content-Length' };
    default:
      return { code: ErrorCode.BAD_REQUEST, message: 'The request is not valid HTTP/1.1' };
  }
}

const logger = new Logger('Http');

/** The target of each connection's latest request, for a client error raised while its body is read. */
const targets = new WeakMap<object, string>();
const rememberTarget = (req: IncomingMessage): void => { targets.set(req.socket, req.url ?? ''); };

/**
 * Answers a request the HTTP parser refused (the server's 'clientError'): the error envelope with a
 * fresh request id, then the connection is closed, so nothing the client sent after it (a smuggled
 * second request) is read. Both adapters install it; it runs before any routing, so it does not
 * know the route and always answers the envelope. Logged once at warn (client errors are not the
 * server's failures).
 */
export function answerClientError(err: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { code, message } = clientErrorOf(err.code);
  const status = statusOf(code);
  const requestId = randomUUID();
  // The request line, when the parser got that far, tells a /v2 request (answered {error}, as V2 errors are).
  // (A framing error in a body comes after the request line: the target of the socket's request in flight then.)
  const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.subarray(0, 2048).toString('latin1') : '';
  const target = /^\S+ (\S+)/.exec(raw)?.[1] ?? targets.get(socket) ?? '';
  const body = JSON.stringify(isV2Target(target) ? { error: message } : errorEnvelope(code, message, [], requestId));
  logger.warn({ request_id: requestId, status, code, parser_error: err.code }, 'client_error');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const isV2Target = (target: string): boolean => /^\/v2(?:[/?]|$)/i.test(target);

/**
 * Answers an `Expect` the server does not meet (Node answers a bare 417 without a listener): the
 * envelope (or `{error}` on /v2) with the request's id, then the connection closes.
 */
export function answerUnmetExpectation(req: IncomingMessage, res: ServerResponse): void {
  const requestId = randomUUID();
  const message = 'Expect: only 100-continue is supported';
  const body = JSON.stringify(isV2Target(req.url ?? '') ? { error: message } : errorEnvelope(ErrorCode.EXPECTATION_FAILED, message, [], requestId));
  res.writeHead(statusOf(ErrorCode.EXPECTATION_FAILED), {
    'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'X-Request-Id': requestId, Connection: 'close',
  });
  res.end(body);
}
