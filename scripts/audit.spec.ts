import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { verdict } = require('./audit.js') as {
  verdict: (report: unknown, allowlist: { advisory: string; reason: string }[]) => { unavailable?: string; failing?: string[]; accepted?: string[] };
};

const ROOT = resolve(__dirname, '..');

/** An npm audit v2 report with one vulnerable package. */
const report = (severity: string) => ({
  auditReportVersion: 2,
  vulnerabilities: { lodash: { name: 'lodash', severity, via: [{ source: 1, url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc' }] } },
  metadata: { vulnerabilities: { [severity]: 1 } },
});

describe('scripts/audit.js verdict', () => {
  it.each(['high', 'critical'])('fails on a %s advisory that is not allowed', (severity) => {
    // Act
    const sut = verdict(report(severity), []);

    // Assert
    expect(sut.failing).toEqual([`lodash (${severity}: GHSA-aaaa-bbbb-cccc)`]);
  });

  it('accepts a high advisory on the allow-list, and ignores moderate ones', () => {
    // Act
    const allowed = verdict(report('high'), [{ advisory: 'GHSA-aaaa-bbbb-cccc', reason: 'dev-only code path, not reachable' }]);
    const moderate = verdict(report('moderate'), []);

    // Assert
    expect(allowed).toMatchObject({ failing: [], accepted: ['lodash (high: GHSA-aaaa-bbbb-cccc)'] });
    expect(moderate).toMatchObject({ failing: [], accepted: [] });
  });

  it('says the audit could not run when the endpoint did not answer (npm prints an error object)', () => {
    // Act
    const sut = verdict({ message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk', statusCode: 405 }, []);

    // Assert
    expect(sut.unavailable).toMatch(/405/);
  });
});

describe('dependencies', () => {
  it('have one major version of every @nestjs package (npm ls)', () => {
    // Act
    const tree = JSON.parse(execFileSync('npm', ['ls', '--all', '--json'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 })) as Dep;
    const majors = new Map<string, Set<string>>();
    const walk = (deps: Record<string, Dep> | undefined): void => {
      for (const [name, dep] of Object.entries(deps ?? {})) {
        if (name.startsWith('@nestjs/') && dep.version) {
          if (!majors.has(name)) majors.set(name, new Set());
          majors.get(name)!.add(dep.version.split('.')[0]);
        }
        walk(dep.dependencies);
      }
    };
    walk(tree.dependencies);

    // Assert
    expect([...majors].filter(([, m]) => m.size > 1).map(([n, m]) => `${n}: ${[...m].join(', ')}`)).toEqual([]);
    expect(majors.get('@nestjs/core')).toEqual(new Set(['11']));
  });
});

interface Dep {
  version?: string;
  dependencies?: Record<string, Dep>;
}
