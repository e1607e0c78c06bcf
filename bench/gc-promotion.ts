/**
 * `npm run bench:gc`: how much of each request V8 promotes to the old generation, and how long the
 * scavenges stop the thread, under iris POST /predict at c=32 (every body different). Promoted
 * bytes are what make the p99 here: a scavenge copies every object still reachable, and the
 * objects of a request that live through two scavenges are promoted, so their count sets both the
 * pause and how often the old generation fills. Unlike req/s, bytes promoted per request hardly move
 * with other load on a shared machine, so it can tell a change apart in one short run.
 *
 * Servers, one after the other, each under `node --trace-gc-nvp` (plus the start script's flags for
 * the service): the raw node:http reference, bare NestJS on Fastify, and the service in its bench
 * configuration (BENCH_SERVICE_ENV applies). Per server it reads V8's scavenge lines of the main
 * isolate (the one that allocated most; worker threads have their own) during the load window.
 *
 *   npm run bench:gc                      # all three
 *   BENCH_GC_SERVERS=service npm run bench:gc
 *
 * Knobs: BENCH_GC_SECONDS (10) of load after BENCH_WARMUP (2); BENCH_GC_SERVERS (raw,nest-fastify,service);
 * BENCH_GC_NODE_ARGS: extra node flags for every server (e.g. `-r ./preload.js` to stub a layer).
 */
import { uniqueIrisRequests } from './iris-bodies';
import { runLoad } from './load';
import { ManagedProcess, serviceNodeFlags, startReferenceServer, startService } from './service-process';
import { ensureDefaultRepository } from './xl-model';

interface Scavenge {
  isolate: string;
  pauseMs: number;
  promoted: number;
  allocated: number;
}

/** The scavenges (`gc=s`) of --trace-gc-nvp output: `[pid:0xISOLATE]  123 ms: pause=1.2 ... gc=s ... allocated=N promoted=N ...`. */
export function scavengesOf(text: string): Scavenge[] {
  const out: Scavenge[] = [];
  for (const line of text.split('\n')) {
    if (!/\bgc=s\b/.test(line)) continue;
    const isolate = /^\[\d+:(0x[0-9a-f]+)\]/.exec(line)?.[1] ?? '';
    const num = (key: string): number => Number(new RegExp(`\\b${key}=([\\d.]+)`).exec(line)?.[1] ?? NaN);
    out.push({ isolate, pauseMs: num('pause'), promoted: num('promoted'), allocated: num('allocated') });
  }
  return out;
}

export interface GcFigures {
  server: string;
  requests: number;
  rps: number;
  p99: number;
  scavenges: number;
  promotedKbPerRequest: number;
  allocatedKbPerRequest: number;
  meanPauseMs: number;
  maxPauseMs: number;
}

/** The main isolate's figures: the isolate that allocated most. */
export function figuresOf(server: string, scavenges: Scavenge[], requests: number, rps: number, p99: number): GcFigures {
  const byIsolate = new Map<string, Scavenge[]>();
  for (const s of scavenges) byIsolate.set(s.isolate, [...(byIsolate.get(s.isolate) ?? []), s]);
  const total = (xs: Scavenge[], k: 'allocated' | 'promoted' | 'pauseMs'): number => xs.reduce((n, x) => n + (Number.isFinite(x[k]) ? x[k] : 0), 0);
  const main = [...byIsolate.values()].sort((a, b) => total(b, 'allocated') - total(a, 'allocated'))[0] ?? [];
  const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
  return {
    server,
    requests,
    rps,
    p99,
    scavenges: main.length,
    promotedKbPerRequest: requests ? round(total(main, 'promoted') / requests / 1024, 2) : NaN,
    allocatedKbPerRequest: requests ? round(total(main, 'allocated') / requests / 1024) : NaN,
    meanPauseMs: main.length ? round(total(main, 'pauseMs') / main.length) : NaN,
    maxPauseMs: main.length ? round(Math.max(...main.map((s) => s.pauseMs))) : NaN,
  };
}

const seconds = (raw: string | undefined, fallback: number): number => {
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : fallback;
};

async function measure(name: string, server: ManagedProcess, loadS: number, warmupS: number): Promise<GcFigures> {
  const url = server.url;
  await runLoad({ url, connections: 32, durationS: warmupS, makeRequests: uniqueIrisRequests });
  let text = '';
  server.onStdout((chunk) => {
    // Only V8's lines are kept (the service logs a JSON line per request on the same stream).
    for (const line of chunk.toString('latin1').split('\n')) if (line.includes('gc=s')) text += `${line}\n`;
  });
  const res = await runLoad({ url, connections: 32, durationS: loadS, makeRequests: uniqueIrisRequests });
  return figuresOf(name, scavengesOf(text), res.requests, res.rps, res.p99);
}

async function main(): Promise<void> {
  const loadS = seconds(process.env.BENCH_GC_SECONDS, 10);
  const warmupS = seconds(process.env.BENCH_WARMUP, 2);
  const servers = (process.env.BENCH_GC_SERVERS ?? 'raw,nest-fastify,service').split(',').map((s) => s.trim()).filter(Boolean);
  const extra = (process.env.BENCH_GC_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const flags = ['--trace-gc-nvp', ...extra];
  const rows: GcFigures[] = [];
  for (const name of servers) {
    process.stderr.write(`bench:gc: ${name}, ${warmupS} s warm-up + ${loadS} s at c=32\n`);
    const server = name === 'service'
      ? await startService('svc-gc', { adapter: 'fastify', overrides: { MODEL_REPOSITORY: ensureDefaultRepository() }, nodeArgs: flags })
      : await startReferenceServer(name === 'raw' ? 'raw' : 'nest-fastify', [...serviceNodeFlags(), ...flags]);
    try {
      rows.push(await measure(name, server, loadS, warmupS));
    } finally {
      await server.stop();
    }
  }
  console.log('| server | requests | req/s | p99 ms | scavenges | promoted KB/request | allocated KB/request | mean pause ms | max pause ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.server} | ${r.requests} | ${Math.round(r.rps)} | ${r.p99} | ${r.scavenges} | ${r.promotedKbPerRequest} | ${r.allocatedKbPerRequest} | ${r.meanPauseMs} | ${r.maxPauseMs} |`);
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
