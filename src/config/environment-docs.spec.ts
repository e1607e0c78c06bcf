import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { EnvironmentVariables } from './environment.variables';

const ROOT = resolve(__dirname, '../..');
const VARIABLES = Object.keys(new EnvironmentVariables());

describe('configuration documentation', () => {
  it('.env.example lists every variable the service reads', () => {
    const example = readFileSync(resolve(ROOT, '.env.example'), 'utf8');
    expect(VARIABLES.filter((name) => !new RegExp(`^${name}=`, 'm').test(example))).toEqual([]);
  });

  it('the README configuration table names every variable', () => {
    const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
    expect(VARIABLES.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
