#!/usr/bin/env node
'use strict';
/**
 * `npm run fuzz -- [--count N] [--seed S]`: runs the hostile-input suite
 * (test/reliability/hostile-input.e2e-spec.ts) with N generated requests instead of the default
 * 5,000 (every property's runs scale with N) and, optionally, another seed than the fixed one. It is
 * the same spec file CI runs; this only sets FUZZ_COUNT / FUZZ_SEED and runs jest on it:
 *
 *   jest --runInBand --selectProjects fastify --runTestsByPath test/reliability/hostile-input.e2e-spec.ts
 *
 * Exits with jest's exit code. A failure prints the request and answer, and fast-check's seed and
 * path: `npm run fuzz -- --count N --seed S` replays it.
 */
const { spawnSync } = require('node:child_process');
const { resolve } = require('node:path');

const USAGE = 'usage: npm run fuzz -- [--count N] [--seed S]   (N: requests, default 5000; S: fast-check seed, default the suite\'s fixed seed)';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const m = /^--(count|seed)(?:=(.*))?$/.exec(arg);
    if (!m) {
      console.error(`fuzz: unknown argument '${arg}'\n${USAGE}`);
      process.exit(2);
    }
    const value = m[2] !== undefined ? m[2] : argv[(i += 1)];
    if (value === undefined || !/^\d+$/.test(value)) {
      console.error(`fuzz: --${m[1]} needs a non-negative integer, got '${value === undefined ? '' : value}'\n${USAGE}`);
      process.exit(2);
    }
    out[m[1]] = value;
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const root = resolve(__dirname, '../..');
const env = { ...process.env };
if (args.count !== undefined) env.FUZZ_COUNT = args.count;
if (args.seed !== undefined) env.FUZZ_SEED = args.seed;

console.log(`fuzz: hostile-input suite, FUZZ_COUNT=${env.FUZZ_COUNT || '5000 (default)'}, FUZZ_SEED=${env.FUZZ_SEED || '(fixed default)'}`);
const jest = require.resolve('jest/bin/jest', { paths: [root] });
const result = spawnSync(
  process.execPath,
  [jest, '--runInBand', '--selectProjects', 'fastify', '--runTestsByPath', 'test/reliability/hostile-input.e2e-spec.ts'],
  { cwd: root, env, stdio: 'inherit' },
);
if (result.error) {
  console.error(`fuzz: could not run jest: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status === null ? 1 : result.status);
