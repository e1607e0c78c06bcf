'use strict';
// The HTTP limit on this machine: a raw node:http server that, for POST /predict, reads the body,
// JSON.parses it and answers a fixed response of the service's /predict shape; for POST
// /echo?bytes=N (the large-tensor scenario's transport floor) it reads the whole body into one
// Buffer and answers N bytes. Run as a child process (node bench/reference-server.js [port]);
// prints "listening <port>" once bound.
const http = require('node:http');
const { randomUUID } = require('node:crypto');

const port = Number(process.argv[2] || 0);

/** Answers of /echo by size, made once. */
const echoes = new Map();

function echo(req, res) {
  const bytes = Number(new URL(req.url, 'http://localhost').searchParams.get('bytes') || 0);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    Buffer.concat(chunks);
    if (!echoes.has(bytes)) echoes.set(bytes, Buffer.alloc(bytes, 1));
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes });
    res.end(echoes.get(bytes));
  });
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url.startsWith('/echo?')) {
    echo(req, res);
    return;
  }
  if (req.method !== 'POST' || req.url !== '/predict') {
    res.writeHead(req.url === '/health/ready' ? 200 : 404, { 'Content-Type': 'application/json' });
    res.end('{}');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const started = performance.now();
    let parsed;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end('{"status":"error"}');
      return;
    }
    const body = JSON.stringify({
      request_id: randomUUID(),
      model_id: typeof parsed.model_id === 'string' ? parsed.model_id : 'iris',
      model_version: '2',
      prediction: {
        class: 'setosa',
        confidence: 0.99996,
        probabilities: { setosa: 0.99996, versicolor: 0.00004, virginica: 1.5e-16 },
      },
      timestamp: new Date().toISOString(),
      processing_time_ms: Math.round((performance.now() - started) * 1000) / 1000,
      cached: false,
      variant: 'stable',
    });
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
});

server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
