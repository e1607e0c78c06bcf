#!/usr/bin/env node
'use strict';
/**
 * A gRPC health probe for containers (docker-compose healthcheck, or anywhere grpc_health_probe is
 * not installed): calls grpc.health.v1.Health/Check on 127.0.0.1:$GRPC_PORT (8001 by default) for
 * the whole server (service "") and exits 0 when it answers SERVING, 1 otherwise (NOT_SERVING while
 * models load or fail and during shutdown, or no answer within 3 s). Plain JavaScript: no build.
 */
const { credentials, loadPackageDefinition } = require('@grpc/grpc-js');
const { loadSync } = require('@grpc/proto-loader');
const { resolve } = require('node:path');

const port = process.env.GRPC_PORT || '8001';
const definition = loadSync(resolve(__dirname, '..', 'proto', 'health.proto'), { keepCase: true, enums: String, defaults: true });
const { Health } = loadPackageDefinition(definition).grpc.health.v1;
const client = new Health(`127.0.0.1:${port}`, credentials.createInsecure());

client.Check({ service: '' }, { deadline: Date.now() + 3000 }, (error, response) => {
  const status = error ? `error: ${error.details || error.message}` : response.status;
  process.stdout.write(`grpc health 127.0.0.1:${port}: ${status}\n`);
  client.close();
  process.exit(!error && response.status === 'SERVING' ? 0 : 1);
});
