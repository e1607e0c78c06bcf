import { cpus, totalmem, platform, release, arch } from 'node:os';

import type { LoadResult } from './load';
import type { OrtMeasurement } from './raw-ort';

export interface ScenarioResult extends LoadResult {
  name: string;
  label: string;
  server: string;
  concurrency: number;
  /** Extra facts gathered after the run (e.g. metrics scraped from the service). */
  notes?: Record<string, unknown>;
}

export interface RatioResult {
  name: string;
  formula: string;
  value: number | null;
  /** How `value` prints: a ratio (×, default), milliseconds, a percentage or a signed difference in microseconds. */
  unit?: 'x' | 'ms' | '%' | 'µs';
  /** The measured figures behind the value, e.g. "1,673 ÷ 9,453 req/s". */
  measured?: string;
  target: string;
  status: 'PASS' | 'FAIL' | 'n/a' | 'info';
}

/** One slice of the decay run: steady load, then the service's RSS sampled right after it. */
export interface DecaySlice {
  /** 1-based. */
  minute: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  rssMb: number | null;
  /**
   * The service's CPU time (all its threads) in the slice ÷ the requests it answered, µs: what a
   * request costs the service, which other load on a shared machine disturbs far less than req/s
   * (a true decay raises it; a slower machine mostly does not).
   */
  cpuUsPerRequest?: number | null;
}

export interface DecayResult {
  server: string;
  concurrency: number;
  sliceSeconds: number;
  slices: DecaySlice[];
  /** (last − first) ÷ first req/s, in %. Null below two slices. */
  rpsChangePct: number | null;
  /** (RSS at the end − RSS after minute 1) ÷ RSS after minute 1, in %. Null below two slices. */
  rssGrowthPct: number | null;
  /** /metrics diffed over the slices (cache hits and misses, batches). */
  notes?: Record<string, unknown>;
}

export interface Machine {
  cpu: string;
  cores: number;
  totalMemGb: number;
  node: string;
  os: string;
}

export function machineFacts(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model ?? 'unknown',
    cores: list.length,
    totalMemGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${platform()} ${release()} ${arch()}`,
  };
}

const fmt = (x: number | null | undefined, d = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export function scenarioTable(rows: ScenarioResult[]): string {
  const lines = [
    '| scenario | server | concurrency | req/s | p50 ms | p99 ms | errors (non-2xx + socket) |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const errs = r.non2xx + r.errors;
    const detail = errs ? ` (${r.non2xx} non-2xx, ${r.errors} errors${r.timeouts ? `, ${r.timeouts} timeouts` : ''})` : '';
    lines.push(
      `| ${r.label} | ${r.server} | ${r.concurrency} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${errs}${detail} |`,
    );
  }
  return lines.join('\n');
}

export function ortTable(rows: OrtMeasurement[]): string {
  const lines = ['| model | session options | batch rows | rows/s (median) | ms per session.run |', '|---|---|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.model} | ${r.options} | ${r.batch} | ${fmt(r.rowsPerS, 0)} | ${fmt(r.runMs, 3)} |`);
  return lines.join('\n');
}

export function ratioTable(rows: RatioResult[]): string {
  const lines = ['| ratio | value | measured | target | result |', '|---|---:|---|---|---|'];
  for (const r of rows) {
    const unit = r.unit ?? 'x';
    const value =
      r.value === null ? '–' : unit === 'ms' ? `${fmt(r.value, 2)} ms` : unit === '%' ? `${r.value > 0 ? '+' : ''}${fmt(r.value, 1)} %` : unit === 'µs' ? `${r.value > 0 ? '+' : ''}${fmt(r.value, 0)} µs` : `${fmt(r.value, 2)}×`;
    lines.push(`| ${r.name} (${r.formula}) | ${value} | ${r.measured ?? ''} | ${r.target} | ${r.status} |`);
  }
  return lines.join('\n');
}

export function decayTable(d: DecayResult): string {
  const unit = d.sliceSeconds === 60 ? 'minute' : `slice (${d.sliceSeconds} s)`;
  const lines = [`| ${unit} | req/s | p50 ms | p99 ms | errors | service RSS MB (after the slice) | service CPU µs per request |`, '|---:|---:|---:|---:|---:|---:|---:|'];
  for (const s of d.slices) lines.push(`| ${s.minute} | ${fmt(s.rps, 0)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${s.errors} | ${fmt(s.rssMb, 1)} | ${fmt(s.cpuUsPerRequest ?? null, 0)} |`);
  return lines.join('\n');
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.totalMemGb} GB RAM, ${m.os}, Node ${m.node}`;
}
