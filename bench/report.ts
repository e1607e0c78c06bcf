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
  target: string;
  status: 'PASS' | 'FAIL' | 'n/a' | 'info';
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
  const lines = ['| ratio | value | target | result |', '|---|---:|---|---|'];
  for (const r of rows) {
    const value = r.value === null ? '–' : r.name.includes('p99') ? `${fmt(r.value, 2)} ms` : `${fmt(r.value, 2)}×`;
    lines.push(`| ${r.name} (${r.formula}) | ${value} | ${r.target} | ${r.status} |`);
  }
  return lines.join('\n');
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.totalMemGb} GB RAM, ${m.os}, Node ${m.node}`;
}
