'use strict';
// A local OTLP/HTTP trace sink for the tracing scenarios: accepts POST /v1/traces (JSON, as the
// service's exporter sends it) and answers 200 like a collector, keeping only counts (requests,
// bytes, spans: one "startTimeUnixNano" per span, so no body is parsed); GET /stats returns them.
// Its own process, so what it costs is not charged to the load generator. Run as
// `node bench/otlp-sink.js [port]`; prints "listening <port>" once bound.
const http = require('node:http');

const port = Number(process.argv[2] || 0);
const stats = { requests: 0, bytes: 0, spans: 0 };
const SPAN_MARK = '"startTimeUnixNano"';

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v1/traces') {
      const text = Buffer.concat(chunks).toString('utf8');
      stats.requests += 1;
      stats.bytes += text.length;
      for (let at = text.indexOf(SPAN_MARK); at >= 0; at = text.indexOf(SPAN_MARK, at + SPAN_MARK.length)) stats.spans += 1;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
      return;
    }
    res.writeHead(404);
    res.end();
  });
});

server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
