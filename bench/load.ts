import autocannon from 'autocannon';

export interface LoadResult {
  /** autocannon's mean of the per-second request counts. */
  rps: number;
  /** 2xx responses / measured seconds. */
  okRps: number;
  /** Exact percentiles of the 2xx response times (ms), from autocannon's per-response events. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  durationS: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** Called once per run: autocannon mutates the request objects it is given. */
  makeRequests: () => autocannon.Request[];
  /** Also push every 2xx latency here (to merge runs with {@link mergeLoads}). */
  latencies?: number[];
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

const round = (x: number, d = 2): number => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

/** One autocannon run; the latencies of 2xx answers are collected from the 'response' events (sub-ms). */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.durationS,
    timeout: 30,
    requests: opts.makeRequests(),
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) {
      latencies.push(responseTime);
      opts.latencies?.push(responseTime);
    }
  });
  const result = await instance;
  const sorted = Float64Array.from(latencies).sort();
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count;
  const durationS = result.duration || opts.durationS;
  return {
    rps: round(result.requests.mean, 1),
    okRps: round(result['2xx'] / durationS, 1),
    p50: round(percentile(sorted, 50), 3),
    p90: round(percentile(sorted, 90), 3),
    p99: round(percentile(sorted, 99), 3),
    max: round(sorted.length ? sorted[sorted.length - 1] : NaN, 3),
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    durationS: round(durationS, 2),
  };
}

/**
 * Several runs of one scenario as one result: req/s the mean over the runs' total time
 * (duration-weighted), percentiles exact over `latencies` (every run's, see LoadOptions.latencies),
 * counts summed.
 */
export function mergeLoads(parts: LoadResult[], latencies: number[]): LoadResult {
  const sorted = Float64Array.from(latencies).sort();
  const durationS = parts.reduce((n, p) => n + p.durationS, 0);
  const sum = (k: 'requests' | 'non2xx' | 'errors' | 'timeouts'): number => parts.reduce((n, p) => n + p[k], 0);
  const statusCodes: Record<string, number> = {};
  for (const p of parts) for (const [code, n] of Object.entries(p.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  return {
    rps: round(parts.reduce((n, p) => n + p.rps * p.durationS, 0) / durationS, 1),
    okRps: round(parts.reduce((n, p) => n + p.okRps * p.durationS, 0) / durationS, 1),
    p50: round(percentile(sorted, 50), 3),
    p90: round(percentile(sorted, 90), 3),
    p99: round(percentile(sorted, 99), 3),
    max: round(sorted.length ? sorted[sorted.length - 1] : NaN, 3),
    requests: sum('requests'),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    statusCodes,
    durationS: round(durationS, 2),
  };
}

/** A 2 s warm-up with the same requests and connections, then the measured run. */
export async function warmAndRun(opts: LoadOptions, warmupS = 2): Promise<LoadResult> {
  if (warmupS > 0) await runLoad({ ...opts, durationS: warmupS });
  return runLoad(opts);
}
