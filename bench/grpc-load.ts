/**
 * A closed-loop gRPC load generator for the KServe V2 `inference.GRPCInferenceService`, over
 * @grpc/grpc-js with the client built from the repository's proto (src/inference/grpc/grpc-proto.ts,
 * as test/e2e/support/grpc-client.ts does). `connections` callers each issue one unary call, wait
 * for its answer, and issue the next, back-to-back for `durationS` (after `warmupS` on the same
 * channels). One HTTP/2 connection multiplexes many calls, so the callers share a small pool of
 * channels: one per `callersPerChannel` (8) callers, each with its own subchannel pool, so every
 * channel really is its own TCP connection (grpc-js otherwise shares one between equal channels).
 * The result has the shape of bench/load.ts's, so report.ts's tables print it beside autocannon's.
 */
import { ChannelCredentials, Client, Metadata, ServiceError, status } from '@grpc/grpc-js';

import { loadServices } from '../src/inference/grpc/grpc-proto';
import type { LoadResult } from './load';

export interface GrpcLoadOptions {
  /** host:port of the gRPC server, e.g. 127.0.0.1:50051. */
  address: string;
  /** Concurrent callers (each has at most one call in flight). */
  connections: number;
  /** Seconds of the measured run. */
  durationS: number;
  /** Seconds of load before the measured run, on the same channels (0: none). */
  warmupS?: number;
  /** Callers per channel (HTTP/2 connection), default 8. */
  callersPerChannel?: number;
  /** The RPC, default ModelInfer. */
  method?: string;
  /** Called once per run (warm-up and measured run alike): returns the source of each call's request. */
  makeRequests: () => () => unknown;
  /** Per-call deadline, ms (default 30 s, autocannon's timeout in load.ts). */
  deadlineMs?: number;
  /** How long the server may take to answer its first call (ServerReady) before the run fails, ms (default 15 s). */
  readyTimeoutMs?: number;
}

export interface GrpcLoadResult extends LoadResult {
  /** Channels (HTTP/2 connections) the callers shared. */
  channels: number;
}

type UnaryMethod = (
  request: unknown,
  metadata: Metadata,
  options: { deadline?: Date | number },
  callback: (error: ServiceError | null, response?: unknown) => void,
) => unknown;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

const round = (x: number, d = 2): number => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

/** The name of a gRPC status code (OK, UNAVAILABLE, …), as the statusCodes keys. */
const statusName = (code: number): string => (status as unknown as Record<number, string>)[code] ?? String(code);

function unary(client: Client, method: string): UnaryMethod {
  const fn = (client as unknown as Record<string, UnaryMethod | undefined>)[method];
  if (typeof fn !== 'function') throw new Error(`gRPC: no method ${method} on inference.GRPCInferenceService`);
  return fn.bind(client);
}

function callOnce(fn: UnaryMethod, request: unknown, deadlineMs: number): Promise<ServiceError | null> {
  return new Promise((done) => {
    fn(request, new Metadata(), { deadline: Date.now() + deadlineMs }, (error) => done(error));
  });
}

/** The gRPC server binds right after HTTP listens: ServerReady until it answers `ready: true` (or the time is up). */
async function waitUntilServing(client: Client, timeoutMs: number): Promise<void> {
  const fn = unary(client, 'ServerReady');
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const reply = await new Promise<{ error: ServiceError | null; ready?: boolean }>((done) =>
      fn({}, new Metadata(), { deadline: Date.now() + 2_000 }, (error, response) => done({ error, ready: (response as { ready?: boolean } | undefined)?.ready })),
    );
    if (!reply.error && reply.ready) return;
    last = reply.error ? `${statusName(reply.error.code)}: ${reply.error.details}` : 'ready: false';
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`gRPC server did not answer ServerReady within ${timeoutMs / 1000} s (${last})`);
}

interface Phase {
  latencies: number[];
  perSecond: number[];
  requests: number;
  ok: number;
  failed: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

/** `connections` closed-loop callers over `clients` for `durationS`; only calls answered inside the window count. */
async function phase(clients: Client[], opts: GrpcLoadOptions, durationS: number, perChannel: number): Promise<Phase> {
  const method = opts.method ?? 'ModelInfer';
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const next = opts.makeRequests();
  const fns = clients.map((c) => unary(c, method));
  const p: Phase = { latencies: [], perSecond: [], requests: 0, ok: 0, failed: 0, timeouts: 0, statusCodes: {} };
  const start = performance.now();
  const end = start + durationS * 1000;
  // autocannon's req/s is the mean of per-second counts of answers; the same here, by answer time.
  p.perSecond = new Array<number>(Math.max(1, Math.ceil(durationS))).fill(0);
  const caller = async (i: number): Promise<void> => {
    const fn = fns[Math.floor(i / perChannel) % fns.length];
    while (performance.now() < end) {
      const request = next();
      const t0 = performance.now();
      const error = await callOnce(fn, request, deadlineMs);
      const t1 = performance.now();
      if (t1 > end) break; // answered after the window: not counted (autocannon stops at the same point)
      p.requests++;
      p.perSecond[Math.min(p.perSecond.length - 1, Math.floor((t1 - start) / 1000))]++;
      const code = error ? error.code : status.OK;
      const name = statusName(code);
      p.statusCodes[name] = (p.statusCodes[name] ?? 0) + 1;
      if (!error) {
        p.ok++;
        p.latencies.push(t1 - t0);
      } else if (code === status.DEADLINE_EXCEEDED) {
        p.timeouts++;
      } else {
        p.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, (_, i) => caller(i)));
  return p;
}

/**
 * An open pool of channels with its callers' settings: {@link run} as often as needed (a warm-up,
 * then the measured run, so the caller can read the service's /metrics in between), then
 * {@link close}. {@link open} waits until the server answers ServerReady on every channel.
 */
export class GrpcLoadGenerator {
  private constructor(
    private readonly clients: Client[],
    private readonly opts: GrpcLoadOptions,
    private readonly perChannel: number,
  ) {}

  /** Channels (HTTP/2 connections) the callers share. */
  get channels(): number {
    return this.clients.length;
  }

  static async open(opts: GrpcLoadOptions): Promise<GrpcLoadGenerator> {
    const perChannel = Math.max(1, Math.floor(opts.callersPerChannel ?? 8));
    const channels = Math.max(1, Math.ceil(opts.connections / perChannel));
    const { inference } = loadServices();
    const clients = Array.from(
      { length: channels },
      () =>
        new inference(opts.address, ChannelCredentials.createInsecure(), {
          // Its own subchannel (TCP connection) per channel; grpc-js would share one between equal channels.
          'grpc.use_local_subchannel_pool': 1,
          'grpc.max_receive_message_length': 64 * 1024 * 1024,
          'grpc.max_send_message_length': 64 * 1024 * 1024,
        }),
    );
    try {
      await Promise.all(clients.map((c) => waitUntilServing(c, opts.readyTimeoutMs ?? 15_000)));
    } catch (e) {
      for (const c of clients) c.close();
      throw e;
    }
    return new GrpcLoadGenerator(clients, opts, perChannel);
  }

  /** One closed-loop run of `durationS` seconds (`opts.durationS` unless given). */
  async run(durationS = this.opts.durationS): Promise<GrpcLoadResult> {
    const p = await phase(this.clients, this.opts, durationS, this.perChannel);
    const sorted = Float64Array.from(p.latencies).sort();
    // A fractional last second is scaled to a full one.
    const whole = Math.floor(durationS);
    const frac = durationS - whole;
    const seconds = p.perSecond.map((n, i) => (i === whole && frac > 0 ? n / frac : n));
    return {
      rps: round(seconds.reduce((a, b) => a + b, 0) / seconds.length, 1),
      okRps: round(p.ok / durationS, 1),
      p50: round(percentile(sorted, 50), 3),
      p90: round(percentile(sorted, 90), 3),
      p99: round(percentile(sorted, 99), 3),
      max: round(sorted.length ? sorted[sorted.length - 1] : NaN, 3),
      requests: p.requests,
      // "non-2xx" for gRPC: calls answered with a status other than OK (by the server, or UNAVAILABLE
      // for a lost connection); errors = deadlines passed on the client (timeouts, which autocannon
      // also counts among its errors).
      non2xx: p.failed,
      errors: p.timeouts,
      timeouts: p.timeouts,
      statusCodes: p.statusCodes,
      durationS: round(durationS, 2),
      channels: this.clients.length,
    };
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

/** Warm-up (`warmupS`, optional), then the measured run, on the same pool of channels; closed afterwards. */
export async function runGrpcLoad(opts: GrpcLoadOptions): Promise<GrpcLoadResult> {
  const load = await GrpcLoadGenerator.open(opts);
  try {
    if ((opts.warmupS ?? 0) > 0) await load.run(opts.warmupS);
    return await load.run();
  } finally {
    load.close();
  }
}
