import { startTracing } from './start-tracing';

/**
 * Tracing, started as this module is first imported: main.ts imports it before anything else, so
 * the HTTP instrumentation hooks `require('http')` before @nestjs/platform-fastify (or express)
 * loads. Off unless the OTEL_* variables turn it on.
 */
export const tracing = startTracing();
