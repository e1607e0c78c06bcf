import fastifyCompress from '@fastify/compress';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';

import { contextOf, openContext } from '../common/http/request-context';
import { AllConfig } from '../config/app-config';
import { answerClientError, nodeServerOptions } from './client-limits';
import { BodyBufferPool } from './body-buffer-pool';
import { BODY_POOL_IDLE_BYTES, readFastifyBody } from './fastify-body';
import { COMPRESSION, recordHelmetHeaders, trustProxySetting } from './http-options';
import { doneWithBody, InferJsonScanner } from './infer-json';
import { InflightBodies } from './inflight-bodies';
import { bodyLimitOf, decodeContentEncoding, isBinaryInferRequest, isJsonMedia, isUntypedV2Body, parseBinaryInferBody, readJsonBody, scansAsItArrives, unsupportedMediaType } from './request-bodies';

/**
 * The Fastify adapter as this service needs it: routes matched as Express matches them (any case,
 * an optional trailing slash), TRUST_PROXY for `request.ip`, no Fastify logger (nestjs-pino logs),
 * and prototype keys left in parsed JSON so the input limits can name them (422) instead of a 400.
 */
export function fastifyAdapter(http: AllConfig['app']): FastifyAdapter {
  let fastify: FastifyInstance | undefined;
  const adapter = new FastifyAdapter({
    // Node's own limits against slow and oversized clients (client-limits.ts); Fastify's defaults
    // (keep-alive 72 s, no request timeout) would replace them otherwise.
    http: nodeServerOptions(http.clientLimits),
    keepAliveTimeout: http.clientLimits.keepAliveTimeoutMs,
    requestTimeout: http.clientLimits.requestTimeoutMs,
    // A request the parser refuses (smuggling, oversized headers, a slow client) gets the envelope, not Fastify's own body.
    clientErrorHandler: answerClientError,
    trustProxy: trustProxySetting(http.trustProxy),
    bodyLimit: http.bodyLimitBytes,
    // Model names go up to 64 characters; longer parameters get the service's own 404/422, not Fastify's bare 414.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 1000 },
    logger: false,
    // Fastify's request id (which Nest middleware such as pino-http reads) is the service's: X-Request-Id when sane.
    genReqId: (req: IncomingMessage) => openContext(req).id,
    requestIdHeader: false,
    // Errors Fastify raises while routing (a URL that does not decode) go through Nest's error handler
    // (so the exception filter) like every other error, with the request id.
    frameworkErrors: (error: Error, req: FastifyRequest, reply: FastifyReply) => {
      reply.header('x-request-id', contextOf(req).id);
      fastify!.errorHandler(error, req, reply);
    },
  });
  fastify = adapter.getInstance();
  return adapter;
}

/**
 * Fastify-specific wiring: the request context opened first (so even a malformed body's error
 * carries the request id), admission by bytes in flight (`admission`, MAX_INFLIGHT_MB), one body
 * parser for every Content-Type (see request-bodies.ts) under BODY_LIMIT, or V2_BODY_LIMIT on the
 * /v2 routes, response compression (see COMPRESSION), helmet's security headers.
 */
export async function configureFastify(app: NestFastifyApplication, http: AllConfig['app'], admission: InflightBodies | undefined): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.header('x-request-id', contextOf(req).id);
    done();
  });
  // MAX_INFLIGHT_MB, before the body is read; a refusal goes through Nest's error handler (the exception filter).
  if (admission) {
    fastify.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
      try {
        admission.admit(req.raw, reply.raw);
        done();
      } catch (e) {
        fastify.errorHandler(e as Error, req, reply);
      }
    });
  }
  // The body read as Fastify reads it (see readFastifyBody), under BODY_LIMIT, or V2_BODY_LIMIT on
  // the /v2 routes (tensors); a large JSON inference body is walked as it arrives (InferJsonScanner).
  // Large JSON inference bodies go into memory used again from request to request (BodyBufferPool):
  // their numbers are read into arrays of their own, so once the body is read nothing reads it.
  const bodies = new BodyBufferPool(BODY_POOL_IDLE_BYTES);
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (req: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => {
    const limit = bodyLimitOf(req.url, http);
    let scanner: InferJsonScanner | undefined;
    let leased: Buffer | undefined;
    const scans = scansAsItArrives(req.raw);
    const watch = scans ? (target: Buffer) => {
      const arriving = new InferJsonScanner(target);
      scanner = arriving;
      return (received: number) => {
        // A walk that fails is only a lost head start: the whole body is walked once it is in.
        try {
          if (scanner) arriving.advance(received);
        } catch {
          scanner = undefined;
        }
      };
    } : undefined;
    readFastifyBody(payload, req.headers, limit.bytes, (error, body) => {
      if (error) {
        done(error);
        return;
      }
      let value: unknown;
      try {
        value = readBody(req, decodeContentEncoding(req.raw, body!, limit), scanner);
      } catch (e) {
        // Not given back: an error is rare, and the GC is always safe.
        done(e as Error);
        return;
      }
      // The body read, its numbers in arrays of their own: its memory is free for the next body,
      // unless some value would be read from it again (see doneWithBody).
      scanner = undefined;
      if (leased !== undefined && leased === body && doneWithBody(value)) bodies.give(leased);
      done(null, value);
    }, watch, scans ? (size) => (leased = bodies.take(size)) : undefined);
  });
  // Registered before Nest adds the routes (its onRoute hook gives each route the onSend hook); request bodies stay ours to decode.
  await app.register(fastifyCompress, {
    encodings: ['br', 'gzip', 'deflate'],
    threshold: COMPRESSION.thresholdBytes,
    zlibOptions: COMPRESSION.zlib,
    brotliOptions: COMPRESSION.brotli,
    globalDecompression: false,
  });
  // helmet's headers, recorded once from its own middleware (see recordHelmetHeaders) and added to
  // the reply's headers: @fastify/helmet builds the middleware again on every request (its CSP
  // parsing was 3% of CPU under load), and the middleware's setHeader calls on Node's response
  // take writeHead's slow path, merging two header sets.
  const security = recordHelmetHeaders();
  fastify.addHook('onRequest', (_req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    for (const [name, value] of security.set) reply.header(name, value);
    for (const name of security.removed) reply.removeHeader(name);
    done();
  });
}

function readBody(req: FastifyRequest, body: Buffer, scanner: InferJsonScanner | undefined): unknown {
  if (isBinaryInferRequest(req.raw)) return parseBinaryInferBody(req, req.raw, body);
  const type = req.headers['content-type'];
  if (isJsonMedia(type) || isUntypedV2Body(req.raw)) return readJsonBody(req.raw, body, scanner);
  if (body.length === 0) return undefined;
  throw unsupportedMediaType(type);
}
