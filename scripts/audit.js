#!/usr/bin/env node
/**
 * Dependency audit for CI (issue 16): `npm audit --omit=dev --json`, judged against
 * audit-allowlist.json. A high or critical advisory that is not allowed fails (exit 1); the summary
 * is printed either way. When the registry's audit endpoint does not answer (offline, a proxy that
 * refuses the bulk endpoint), it says so and exits 0: the audit cannot be run here, which is not a
 * finding. `node scripts/audit.js [--json file]` reads a saved report instead (tests).
 */
'use strict';
const { execFileSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
const FAILING = new Set(['high', 'critical']);

/** The allow-list: [{ "advisory": "GHSA-… or a package name", "reason": "why it is accepted" }]; an entry without a reason is refused. */
function loadAllowlist(path = join(ROOT, 'audit-allowlist.json')) {
  const entries = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(entries)) throw new Error('audit-allowlist.json must be a JSON array');
  for (const e of entries) {
    if (typeof e.advisory !== 'string' || typeof e.reason !== 'string' || e.reason.trim().length < 10) {
      throw new Error(`audit-allowlist.json: every entry needs "advisory" and a "reason" (got ${JSON.stringify(e)})`);
    }
  }
  return entries;
}

/** The advisories of one npm audit (v2 JSON) vulnerability entry: GHSA ids from its `via` URLs, else its name. */
function advisoriesOf(name, vuln) {
  const ids = (vuln.via ?? []).filter((v) => typeof v === 'object' && typeof v.url === 'string').map((v) => v.url.split('/').pop());
  return ids.length ? ids : [name];
}

/**
 * The verdict on an npm audit JSON report: `unavailable` when npm could not reach the endpoint,
 * else the failing (high/critical, not allowed) and accepted findings and the counts by severity.
 */
function verdict(report, allowlist) {
  if (!report || typeof report !== 'object' || report.error || report.statusCode || !report.vulnerabilities) {
    return { unavailable: String(report?.message ?? report?.error?.summary ?? 'no report') };
  }
  const allowed = new Set(allowlist.map((e) => e.advisory));
  const failing = [];
  const accepted = [];
  for (const [name, vuln] of Object.entries(report.vulnerabilities)) {
    if (!FAILING.has(vuln.severity)) continue;
    const ids = advisoriesOf(name, vuln);
    (ids.every((id) => allowed.has(id) || allowed.has(name)) ? accepted : failing).push(`${name} (${vuln.severity}: ${ids.join(', ')})`);
  }
  return { counts: report.metadata?.vulnerabilities ?? {}, failing, accepted };
}

function runAudit() {
  try {
    return execFileSync('npm', ['audit', '--omit=dev', '--json'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000 });
  } catch (e) {
    // npm audit exits 1 when it finds anything; its JSON is still on stdout.
    return e.stdout || JSON.stringify({ error: { summary: e.message } });
  }
}

function main(argv) {
  const i = argv.indexOf('--json');
  const text = i >= 0 ? readFileSync(argv[i + 1], 'utf8') : runAudit();
  let report;
  try { report = JSON.parse(text); } catch { report = { error: { summary: 'npm audit printed no JSON' } }; }
  const v = verdict(report, loadAllowlist());
  if (v.unavailable) {
    console.log(`npm audit: the audit endpoint did not answer (${v.unavailable.slice(0, 160)}): skipped`);
    return 0;
  }
  const counts = Object.entries(v.counts).map(([k, n]) => `${k} ${n}`).join(', ');
  console.log(`npm audit (production dependencies): ${counts || 'no vulnerabilities'}`);
  for (const a of v.accepted) console.log(`  accepted (audit-allowlist.json): ${a}`);
  for (const f of v.failing) console.log(`  FAIL: ${f}`);
  return v.failing.length ? 1 : 0;
}

module.exports = { verdict, loadAllowlist };
if (require.main === module) process.exitCode = main(process.argv.slice(2));
