'use strict';
// jest setupFiles of the `fastify` project: every app and child server of a test file runs on Fastify.
process.env.HTTP_ADAPTER = 'fastify';
