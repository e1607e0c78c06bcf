import 'reflect-metadata';

import { PATH_METADATA } from '@nestjs/common/constants';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, posix, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

import { validateEnvironment } from '../../src/config/app-config';
import { EnvironmentVariables } from '../../src/config/environment.variables';
import { parseApiKeys } from '../../src/common/security/api-keys';
import { HealthController } from '../../src/health/health.controller';

/*
 * The deploy assets (Dockerfile, docker-compose.yml, deploy/**) checked against the service itself:
 * its routes, ports, environment variables and stop budget. No Docker engine or cluster is needed;
 * `docker-compose config` and `kubectl kustomize` run when they are installed.
 */

const ROOT = resolve(__dirname, '../..');
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');
const DEFAULTS = new EnvironmentVariables();
const VARIABLES = new Set(Object.keys(DEFAULTS));

type Json = any; // parsed YAML: shapes are asserted by the tests themselves

// ---------------------------------------------------------------------------------------------
// The service's own facts

const route = (method: keyof HealthController): string =>
  posix.join('/', Reflect.getMetadata(PATH_METADATA, HealthController) as string, Reflect.getMetadata(PATH_METADATA, HealthController.prototype[method]) as string);
const LIVE = route('live');
const READY = route('ready');

/** Seconds a stop can take: the service exits within delay + timeout + 1 (README, "Graceful shutdown"). */
const stopBudget = (env: Record<string, string | undefined>): number =>
  Number(env.SHUTDOWN_DELAY_SECONDS ?? DEFAULTS.SHUTDOWN_DELAY_SECONDS) + Number(env.SHUTDOWN_TIMEOUT_SECONDS ?? DEFAULTS.SHUTDOWN_TIMEOUT_SECONDS) + 1;

const portOf = (env: Record<string, string | undefined>, name: 'PORT' | 'GRPC_PORT' | 'METRICS_PORT'): number => Number(env[name] ?? DEFAULTS[name]);

/** Names the service does not read. OTEL_* are the OpenTelemetry SDK's own variables, read from the process environment (src/tracing). */
const unknownVariables = (names: Iterable<string>): string[] => [...names].filter((n) => !VARIABLES.has(n) && !n.startsWith('OTEL_'));

/** An image reference with a version tag (a digit in it), never `latest` or untagged. */
const isPinned = (image: string): boolean => {
  const [name, digest] = image.split('@');
  if (digest) return /^sha256:[0-9a-f]{64}$/.test(digest);
  const tag = name.includes(':') ? name.slice(name.lastIndexOf(':') + 1) : '';
  return tag !== '' && !tag.includes('/') && tag !== 'latest' && /\d/.test(tag);
};

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  name?: string;
  base: string;
  instructions: Instruction[];
}

/** Instructions by stage; continuation lines joined, comments dropped, global ARGs resolved in FROM. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full) logical.push(full);
  }
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [image, as, name] = args.split(/\s+/);
      stages.push({ base: substitute(image, globalArgs), name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && upper === 'ARG') {
      const [key, value = ''] = args.split('=');
      globalArgs[key] = value;
    } else {
      stages.at(-1)!.instructions.push({ keyword: upper, args });
    }
  }
  return stages;
}

const substitute = (text: string, values: Record<string, string>): string =>
  text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a: string | undefined, b: string | undefined) => values[(a ?? b)!] ?? whole);

const all = (stage: Stage, keyword: string): string[] => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const last = (stage: Stage, keyword: string): string | undefined => all(stage, keyword).at(-1);

/** `npm ci ...` commands of a RUN line. */
const npmCi = (run: string): string[] => run.split(/&&|\|\||;/).map((s) => s.trim()).filter((s) => /^npm\s+ci\b/.test(s));
const omitsDev = (command: string): boolean => /--omit[= ]dev\b|--production\b|--only[= ]prod/.test(command);

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}
function parseCopy(args: string, stageArgs: Record<string, string>): Copy {
  const tokens = args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const flags = tokens.filter((t) => t.startsWith('--'));
  const paths = tokens.filter((t) => !t.startsWith('--')).map((p) => substitute(p, stageArgs));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

const stageArgs = (stage: Stage): Record<string, string> =>
  Object.fromEntries(all(stage, 'ARG').map((a) => {
    const [key, value = ''] = a.split('=');
    return [key, value];
  }));

/** ENV in both forms (`K=V K2=V2` and `K V`). */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const args of all(stage, 'ENV')) {
    const tokens = args.split(/\s+/);
    if (!tokens[0].includes('=')) env[tokens[0]] = tokens.slice(1).join(' ');
    else for (const t of tokens) env[t.slice(0, t.indexOf('='))] = t.slice(t.indexOf('=') + 1);
  }
  return env;
}

/** The command after CMD in a HEALTHCHECK, as an argv (exec form) or one shell string. */
function healthcheckCommand(args: string): string[] {
  const cmd = args.slice(args.indexOf('CMD') + 3).trim();
  return cmd.startsWith('[') ? (JSON.parse(cmd) as string[]) : ['/bin/sh', '-c', cmd];
}

// ---------------------------------------------------------------------------------------------
// YAML and compose

const yamlDocuments = (path: string): Json[] => {
  const docs = parseAllDocuments(read(path), { merge: true });
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  return list.map((d) => d.toJS() as Json).filter((d) => d !== null && d !== undefined);
};

function walk(dir: string): string[] {
  return readdirSync(resolve(ROOT, dir)).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(resolve(ROOT, path)).isDirectory() ? walk(path) : [path];
  });
}

/** docker-compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`. */
function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\{(\w+)(?:(:?)([-?])([^}]*))?\}/g, (_whole, name: string, colon: string, op: string, word: string) => {
    const v = env[name];
    const missing = v === undefined || (colon === ':' && v === '');
    if (op === '?' && missing) throw new Error(`${name}: ${word}`);
    if (op === '-' && missing) return word;
    return v ?? '';
  });
}

const environmentOf = (service: Json): Record<string, string> => {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
  return Object.fromEntries((env as string[]).map((e) => [e.split('=')[0], e.slice(e.indexOf('=') + 1)]));
};

/** Compose durations: `30s`, `1m30s`, `90` (seconds). */
function durationSeconds(value: string | number): number {
  if (typeof value === 'number') return value;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  if (parts.length === 0) return Number(value);
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 0.000001 };
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u], 0);
}

/** docker-compose from Debian (/usr/bin) or anywhere on PATH. */
function findExecutable(name: string, preferred?: string): string | undefined {
  if (preferred && existsSync(preferred)) return preferred;
  return (process.env.PATH ?? '').split(delimiter).map((d) => join(d, name)).find((p) => existsSync(p));
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

const K8S_DIR = 'deploy/k8s';
const manifestFiles = walk(K8S_DIR).filter((f) => /\.ya?ml$/.test(f));
const manifests = manifestFiles.flatMap((file) => yamlDocuments(file).map((doc) => ({ file: relative(K8S_DIR, file), doc })));
const ofKind = (kind: string): Json[] => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
const named = (kind: string, name: string): Json => {
  const found = ofKind(kind).find((d) => d.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in ${K8S_DIR}`);
  return found;
};

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  PodDisruptionBudget: 'policy/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  ServiceMonitor: 'monitoring.coreos.com/v1',
  Kustomization: 'kustomize.config.k8s.io/v1beta1',
};

const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** Kubernetes quantities of memory in MiB (`1536Mi`, `2Gi`, `1G`). */
function mebibytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(String(quantity))!;
  const factor: Record<string, number> = { Ki: 1 / 1024, Mi: 1, Gi: 1024, K: 1e3 / 1048576, M: 1e6 / 1048576, G: 1e9 / 1048576, '': 1 / 1048576 };
  return Number(m[1]) * factor[m[2] ?? ''];
}

/** The container port a probe or Service targets: a number or a container port's name. */
const containerPort = (container: Json, port: number | string): number | undefined =>
  typeof port === 'number' ? port : container.ports?.find((p: Json) => p.name === port)?.containerPort;

/** Seconds a preStop hook sleeps before SIGTERM (the `sleep` action or `exec: sleep N`). */
function preStopSeconds(container: Json): number {
  const hook = container.lifecycle?.preStop;
  if (!hook) return 0;
  if (hook.sleep) return Number(hook.sleep.seconds);
  const command: string[] = hook.exec?.command ?? [];
  const sleep = /\bsleep\s+(\d+(?:\.\d+)?)/.exec(command.join(' '));
  return sleep ? Number(sleep[1]) : 0;
}

// =============================================================================================

describe('Dockerfile', () => {
  const stages = parseDockerfile(read('Dockerfile'));
  const finalStage = stages.at(-1)!;
  const stageNamed = (name: string | undefined): Stage | undefined => stages.find((s) => s.name === name);

  it('has a build stage (npm ci, then npm run build) and a separate final stage', () => {
    // Act
    const build = stages.find((s) => all(s, 'RUN').some((r) => npmCi(r).some((c) => !omitsDev(c))) && all(s, 'RUN').some((r) => /\bnpm run build\b/.test(r)));

    // Assert
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build).toBeDefined();
    expect(build).not.toBe(finalStage);
    const runs = all(build!, 'RUN');
    expect(runs.findIndex((r) => npmCi(r).length > 0)).toBeLessThan(runs.findIndex((r) => /\bnpm run build\b/.test(r)));
  });

  it('bases every stage on a Node 20 slim image pinned to a full version', () => {
    // Act
    const bases = stages.map((s) => s.base).filter((b) => !stageNamed(b));

    // Assert
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(base).toMatch(/^node:20\.\d+\.\d+-[a-z]+-slim$/);
  });

  it('copies .npmrc before every npm ci (onnxruntime-node-install=skip keeps its postinstall from downloading)', () => {
    // Arrange
    expect(read('.npmrc')).toMatch(/^onnxruntime-node-install=skip$/m);

    for (const stage of stages) {
      // Act
      const firstCi = stage.instructions.findIndex((i) => i.keyword === 'RUN' && npmCi(i.args).length > 0);
      const npmrc = stage.instructions.findIndex((i) => i.keyword === 'COPY' && parseCopy(i.args, stageArgs(stage)).sources.some((s) => s === '.npmrc' || s === '.'));

      // Assert
      if (firstCi >= 0) expect({ stage: stage.name, npmrcBeforeNpmCi: npmrc >= 0 && npmrc < firstCi }).toEqual({ stage: stage.name, npmrcBeforeNpmCi: true });
    }
  });

  it('gives the final stage production dependencies only, dist/ from the build stage, and no sources', () => {
    // Arrange
    const args = stageArgs(finalStage);
    const copies = all(finalStage, 'COPY').map((c) => parseCopy(c, args));

    // Act
    const modules = copies.filter((c) => c.sources.some((s) => /node_modules\/?$/.test(s)));
    const installsHere = all(finalStage, 'RUN').flatMap(npmCi);
    const fromContext = copies.filter((c) => !c.from).flatMap((c) => c.sources);

    // Assert: node_modules comes from a stage whose only install is `npm ci --omit=dev` (or is installed so here)
    expect(all(finalStage, 'RUN').some((r) => /\bnpm (install|i)\b/.test(r))).toBe(false);
    expect(installsHere.every(omitsDev)).toBe(true);
    expect(modules.length + installsHere.length).toBeGreaterThan(0);
    for (const copy of modules) {
      const source = stageNamed(copy.from);
      expect(source).toBeDefined();
      const installs = all(source!, 'RUN').flatMap(npmCi);
      expect(installs.length).toBeGreaterThan(0);
      expect(installs.every(omitsDev)).toBe(true);
    }
    const dist = copies.find((c) => c.sources.some((s) => /\/dist\/?$/.test(s)));
    expect(dist?.from).toBeDefined();
    expect(all(stageNamed(dist!.from)!, 'RUN').some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    // From the build context only what runs: no `COPY . .`, no src/, test/ or tsconfig.
    const allowed = new Set(['package.json', 'package-lock.json', '.npmrc', 'proto', 'scripts/grpc-health-probe.js', args.MODELS_DIR ?? 'models', 'models']);
    expect(fromContext.filter((s) => !allowed.has(s.replace(/\/$/, '')))).toEqual([]);
  });

  it('runs node dist/main.js (the start script without npm) as a non-root user', () => {
    // Arrange
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start;

    // Act
    const user = last(finalStage, 'USER');
    const cmd = JSON.parse(last(finalStage, 'ENTRYPOINT') ?? last(finalStage, 'CMD') ?? '[]') as string[];

    // Assert
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(cmd.join(' ')).toBe(start);
    expect(cmd[0]).toBe('node');
  });

  it('checks liveness with node (no curl in a slim image) on /health/live at PORT', () => {
    // Arrange
    const env = envOf(finalStage);

    // Act
    const healthcheck = last(finalStage, 'HEALTHCHECK');
    const command = healthcheckCommand(healthcheck ?? '');

    // Assert
    expect(healthcheck).toBeDefined();
    expect(command[0]).toBe('node');
    expect(command.join(' ')).toContain(LIVE);
    expect(command.join(' ')).toMatch(new RegExp(`process\\.env\\.PORT|:${portOf(env, 'PORT')}\\b`));
    expect(portOf(env, 'PORT')).toBe(DEFAULTS.PORT);
  });

  it('stops with SIGTERM and exposes the HTTP, gRPC and metrics ports it configures', () => {
    // Arrange
    const env = envOf(finalStage);

    // Act
    const exposed = all(finalStage, 'EXPOSE').flatMap((e) => e.split(/\s+/)).map((p) => Number(p.split('/')[0])).sort();

    // Assert
    expect(last(finalStage, 'STOPSIGNAL')).toBe('SIGTERM');
    expect(exposed).toEqual([portOf(env, 'PORT'), portOf(env, 'GRPC_PORT'), portOf(env, 'METRICS_PORT')].sort());
  });

  it('keeps REGISTRY_STATE_FILE on a volume, the models in MODEL_REPOSITORY, and sets only variables the service reads', () => {
    // Arrange
    const env = envOf(finalStage);
    const args = stageArgs(finalStage);

    // Act
    const volumes = all(finalStage, 'VOLUME').flatMap((v) => (v.trim().startsWith('[') ? (JSON.parse(v) as string[]) : v.split(/\s+/)));
    const models = all(finalStage, 'COPY').map((c) => parseCopy(c, args)).find((c) => c.sources.includes(args.MODELS_DIR ?? 'models'));
    const workdir = last(finalStage, 'WORKDIR') ?? '/';

    // Assert
    expect(env.REGISTRY_STATE_FILE).toMatch(/^\//);
    expect(volumes).toContain(dirname(env.REGISTRY_STATE_FILE));
    expect(models).toBeDefined();
    expect(posix.resolve(workdir, models!.dest)).toBe(env.MODEL_REPOSITORY);
    expect(unknownVariables(Object.keys(env))).toEqual([]);
    expect(() => validateEnvironment({ ...env, API_KEYS: 'client:some-key' })).not.toThrow();
  });

  it('keeps node_modules, dist, .git and .env files out of the build context', () => {
    // Act
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

    // Assert
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.env']));
  });
});

// =============================================================================================

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as Json;
  const services = compose.services as Record<string, Json>;
  const appNames = Object.keys(services).filter((n) => services[n].build);
  const apps = appNames.map((n) => services[n]);
  /** The variables a user must export (no defaults), with harmless values. */
  const userEnv = { API_KEYS: 'client:compose-spec-key', GRAFANA_ADMIN_PASSWORD: 'compose-spec-password' };
  const resolved = (service: Json): Record<string, string> =>
    Object.fromEntries(Object.entries(environmentOf(service)).map(([k, v]) => [k, interpolate(v, userEnv)]));

  it('builds the Dockerfile into at least two app replicas', () => {
    // Act
    const replicas = apps.reduce((n, app) => n + Number(app.deploy?.replicas ?? 1), 0);

    // Assert
    expect(replicas).toBeGreaterThanOrEqual(2);
    for (const app of apps) {
      const context = typeof app.build === 'string' ? app.build : app.build.context;
      expect(resolve(ROOT, context, app.build.dockerfile ?? 'Dockerfile')).toBe(resolve(ROOT, 'Dockerfile'));
      expect(app.image).toBeDefined();
    }
  });

  it('pins every image to a version tag', () => {
    // Act
    const images = Object.entries(services).map(([name, s]) => [name, interpolate(String(s.image ?? ''), {})]);

    // Assert
    expect(images.filter(([, image]) => !isPinned(image))).toEqual([]);
  });

  it('runs the apps with init and a stop_grace_period longer than the stop budget', () => {
    for (const app of apps) {
      // Act
      const budget = stopBudget(resolved(app));

      // Assert
      expect(app.init).toBe(true);
      expect(app.stop_signal ?? 'SIGTERM').toBe('SIGTERM');
      expect(durationSeconds(app.stop_grace_period ?? '10s')).toBeGreaterThan(budget);
    }
  });

  it('configures the apps only with variables the service reads, with values it accepts', () => {
    for (const app of apps) {
      // Act
      const env = resolved(app);

      // Assert
      expect(unknownVariables(Object.keys(environmentOf(app)))).toEqual([]);
      expect(() => validateEnvironment(env)).not.toThrow();
      expect(env.NODE_ENV).toBe('production');
    }
  });

  it('takes API keys from the environment (no literal key) and shares one Redis', () => {
    for (const app of apps) {
      // Act
      const env = environmentOf(app);

      // Assert
      expect(env.API_KEYS).toMatch(/^\$\{API_KEYS[:?-][^}]*\}$/);
      expect(env.ADMIN_API_KEYS).toMatch(/^\$\{ADMIN_API_KEYS(:?-)?\}$/);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(isPinned(services.redis.image)).toBe(true);
  });

  it('keeps the state file on a writable volume when the root filesystem is read-only', () => {
    for (const app of apps) {
      // Arrange
      const stateDir = dirname(resolved(app).REGISTRY_STATE_FILE);

      // Act
      const mounts = (app.volumes ?? []).map((v: string | Json) => (typeof v === 'string' ? v.split(':')[1] : v.target));

      // Assert
      expect(mounts).toContain(stateDir);
      if (app.read_only) expect(app.tmpfs ?? []).toContain('/tmp');
    }
  });

  it('publishes the apps only through nginx, whose upstreams are every replica on PORT and GRPC_PORT', () => {
    // Arrange
    const nginx = services.nginx;
    const conf = read('deploy/nginx/nginx.conf');

    // Act
    const upstreams = [...conf.matchAll(/^\s*server\s+([\w.-]+:\d+)/gm)].map((m) => m[1]).sort();
    const expected = apps.flatMap((app, i) => [`${appNames[i]}:${portOf(resolved(app), 'PORT')}`, `${appNames[i]}:${portOf(resolved(app), 'GRPC_PORT')}`]).sort();

    // Assert
    expect(nginx.image).toMatch(/^nginx:\d/);
    expect(nginx.volumes).toContain('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(upstreams).toEqual(expected);
    expect(nginx.ports.map((p: string) => String(p).split(':').at(-1))).toEqual(expect.arrayContaining(['8000', '8001']));
    for (const app of apps) expect(app.ports).toBeUndefined();
  });

  it('has Prometheus scrape every replica on METRICS_PORT', () => {
    // Arrange
    const prometheus = services.prometheus;
    const config = yamlDocuments('deploy/prometheus/prometheus.yml')[0];

    // Act
    const targets = config.scrape_configs.flatMap((j: Json) => (j.static_configs ?? []).flatMap((s: Json) => s.targets)).sort();

    // Assert
    expect(prometheus.volumes).toContain('./deploy/prometheus:/etc/prometheus:ro');
    expect(targets).toEqual(appNames.map((n, i) => `${n}:${portOf(resolved(apps[i]), 'METRICS_PORT')}`).sort());
  });

  it('provisions the Grafana dashboard and has no default admin password', () => {
    // Arrange
    const grafana = services.grafana;
    const env = environmentOf(grafana);

    // Act
    const mounts = grafana.volumes.map((v: string) => v.split(':').slice(0, 2).join(':'));

    // Assert
    expect(mounts).toEqual(expect.arrayContaining(['./deploy/grafana/provisioning:/etc/grafana/provisioning', './deploy/grafana/dashboards:/var/lib/grafana/dashboards']));
    expect(existsSync(resolve(ROOT, 'deploy/grafana/dashboards/nest-model-server.json'))).toBe(true);
    // Either a password the user must supply, or no login at all (anonymous viewers, form and basic auth off).
    const mustSupply = /^\$\{\w+:\?[^}]*\}$/.test(env.GF_SECURITY_ADMIN_PASSWORD ?? '');
    const noLogin = env.GF_AUTH_DISABLE_LOGIN_FORM === 'true' && env.GF_AUTH_BASIC_ENABLED === 'false' && env.GF_SECURITY_ADMIN_PASSWORD === undefined;
    expect(mustSupply || noLogin).toBe(true);
    if (env.GF_AUTH_ANONYMOUS_ENABLED === 'true') expect(env.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
  });

  describe('docker-compose config', () => {
    const binary = findExecutable('docker-compose', '/usr/bin/docker-compose');
    let emptyEnvFile: string;
    beforeAll(() => {
      // An empty --env-file: a developer's .env must not decide the outcome.
      emptyEnvFile = join(mkdtempSync(join(tmpdir(), 'compose-spec-')), 'empty.env');
      writeFileSync(emptyEnvFile, '');
    });
    afterAll(() => rmSync(dirname(emptyEnvFile), { recursive: true, force: true }));

    const composeConfig = (extra: Record<string, string>) => {
      const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...extra };
      return spawnSync(binary!, ['--env-file', emptyEnvFile, '-f', resolve(ROOT, 'docker-compose.yml'), 'config', '-q'], { env, encoding: 'utf8', timeout: 60_000 });
    };
    const available = (): boolean => {
      if (binary) return true;
      if (process.env.CI === 'true') throw new Error('docker-compose is not installed: CI must validate docker-compose.yml (.ci/run installs Debian\'s docker-compose)');
      console.log('docker-compose config skipped: docker-compose is not installed (apt-get install docker-compose)');
      return false;
    };

    it('validates the file', () => {
      if (!available()) return;

      // Act
      const result = composeConfig(userEnv);

      // Assert
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    });

    it('refuses to render without GRAFANA_ADMIN_PASSWORD or without API_KEYS', () => {
      if (!available()) return;

      // Act
      const noPassword = composeConfig({ API_KEYS: userEnv.API_KEYS });
      const noKeys = composeConfig({ GRAFANA_ADMIN_PASSWORD: userEnv.GRAFANA_ADMIN_PASSWORD });

      // Assert
      expect(noPassword.status).not.toBe(0);
      expect(noPassword.stderr).toContain('GRAFANA_ADMIN_PASSWORD');
      expect(noKeys.status).not.toBe(0);
      expect(noKeys.stderr).toContain('API_KEYS');
    });
  });
});

// =============================================================================================

describe('deploy/k8s', () => {
  const deployment = named('Deployment', 'nest-model-server');
  const pod = deployment.spec.template;
  const server = pod.spec.containers.find((c: Json) => c.name === 'server');
  const configMaps = ofKind('ConfigMap');
  const secrets = ofKind('Secret');
  /** The server's environment as the pod sees it: envFrom ConfigMaps and Secrets, then env. */
  const podEnv = (): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const from of server.envFrom ?? []) {
      if (from.configMapRef) Object.assign(env, named('ConfigMap', from.configMapRef.name).data);
      if (from.secretRef) Object.assign(env, named('Secret', from.secretRef.name).stringData);
    }
    for (const e of server.env ?? []) env[e.name] = e.value ?? '';
    return env;
  };

  it('has apiVersion, kind and name on every document, with the stable API version of its kind', () => {
    for (const { file, doc } of manifests) {
      // Act
      const id = { file, kind: doc.kind, apiVersion: doc.apiVersion };

      // Assert
      expect(id).toEqual({ file, kind: expect.any(String), apiVersion: API_VERSIONS[doc.kind] ?? 'a known kind' });
      if (doc.kind !== 'Kustomization') expect(doc.metadata?.name).toEqual(expect.any(String));
    }
  });

  it('lists every manifest in kustomization.yaml (optional/ aside) and nothing that is missing', () => {
    // Arrange
    const kustomization = ofKind('Kustomization')[0];

    // Act
    const listed = [...kustomization.resources].sort();
    const present = manifestFiles.map((f) => relative(K8S_DIR, f)).filter((f) => f !== 'kustomization.yaml' && !f.startsWith('optional/')).sort();

    // Assert
    expect(listed).toEqual(present);
    expect(kustomization.images.every((i: Json) => i.newTag && i.newTag !== 'latest')).toBe(true);
  });

  it('probes liveness on /health/live, readiness on /health/ready, and gives slow model loads a startup probe', () => {
    // Arrange
    const env = podEnv();

    // Act
    const { livenessProbe: live, readinessProbe: ready, startupProbe: startup } = server;

    // Assert
    expect(live.httpGet.path).toBe(LIVE);
    expect(ready.httpGet.path).toBe(READY);
    expect([LIVE, READY]).toContain(startup.httpGet.path);
    for (const probe of [live, ready, startup]) expect(containerPort(server, probe.httpGet.port)).toBe(portOf(env, 'PORT'));
    // The startup probe's budget covers a model load: a minute at least.
    expect((startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3)).toBeGreaterThanOrEqual(60);
  });

  it('gives the pod a termination grace period longer than preStop + SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT + 1, with a delay for endpoints to drain', () => {
    // Arrange
    const env = podEnv();

    // Act
    const needed = preStopSeconds(server) + stopBudget(env);

    // Assert
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(needed);
    expect(preStopSeconds(server) + Number(env.SHUTDOWN_DELAY_SECONDS ?? 0)).toBeGreaterThan(0);
  });

  it('sets requests and limits on every container, and a memory limit above MAX_MEMORY_MB', () => {
    for (const workload of ofKind('Deployment')) {
      for (const container of workload.spec.template.spec.containers) {
        // Act
        const { requests, limits } = container.resources ?? {};

        // Assert
        expect({ name: container.name, requests, limits }).toEqual({
          name: container.name,
          requests: expect.objectContaining({ cpu: expect.anything(), memory: expect.anything() }),
          limits: expect.objectContaining({ cpu: expect.anything(), memory: expect.anything() }),
        });
      }
    }
    expect(mebibytes(server.resources.limits.memory)).toBeGreaterThan(Number(podEnv().MAX_MEMORY_MB ?? DEFAULTS.MAX_MEMORY_MB));
  });

  it('runs every container non-root, read-only, without privilege escalation or capabilities', () => {
    for (const workload of ofKind('Deployment')) {
      // Arrange
      const spec = workload.spec.template.spec;

      for (const container of spec.containers) {
        // Act
        const context = { ...spec.securityContext, ...container.securityContext };

        // Assert
        expect(context.runAsNonRoot).toBe(true);
        expect(context.runAsUser).toEqual(expect.any(Number));
        expect(context.runAsUser).not.toBe(0);
        expect(context.allowPrivilegeEscalation).toBe(false);
        expect(context.readOnlyRootFilesystem).toBe(true);
        expect(context.capabilities?.drop).toContain('ALL');
      }
    }
  });

  it('mounts the state file directory and /tmp as volumes (the root filesystem is read-only)', () => {
    // Arrange
    const env = podEnv();
    const volumes = new Map<string, Json>(pod.spec.volumes.map((v: Json) => [v.name, v]));

    // Act
    const writable = server.volumeMounts.filter((m: Json) => !m.readOnly && (volumes.get(m.name)?.emptyDir || volumes.get(m.name)?.persistentVolumeClaim)).map((m: Json) => m.mountPath);

    // Assert
    expect(env.REGISTRY_STATE_FILE).toMatch(/^\//);
    expect(writable).toEqual(expect.arrayContaining([dirname(env.REGISTRY_STATE_FILE), '/tmp']));
  });

  it('pins every container image to a version tag', () => {
    // Act
    const images = ofKind('Deployment').flatMap((d) => [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers].map((c: Json) => c.image));

    // Assert
    expect(images.length).toBeGreaterThan(0);
    expect(images.filter((i) => !isPinned(i))).toEqual([]);
  });

  it('exposes http 8000, grpc 8001 and metrics 8080 on a Service that selects the pods', () => {
    // Arrange
    const env = podEnv();
    const service = named('Service', 'nest-model-server');

    // Act
    const ports = Object.fromEntries(service.spec.ports.map((p: Json) => [p.name, { port: p.port, target: containerPort(server, p.targetPort ?? p.port) }]));

    // Assert
    expect(matches(service.spec.selector, pod.metadata.labels)).toBe(true);
    expect(matches(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    expect(ports).toEqual({
      http: { port: 8000, target: portOf(env, 'PORT') },
      grpc: { port: 8001, target: portOf(env, 'GRPC_PORT') },
      metrics: { port: 8080, target: portOf(env, 'METRICS_PORT') },
    });
  });

  it('autoscales the Deployment on CPU (autoscaling/v2) and keeps a PodDisruptionBudget a drain can honour', () => {
    // Arrange
    const hpa = ofKind('HorizontalPodAutoscaler')[0];
    const pdb = ofKind('PodDisruptionBudget')[0];

    // Act
    const cpu = hpa.spec.metrics.find((m: Json) => m.type === 'Resource' && m.resource.name === 'cpu');

    // Assert
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(cpu.resource.target.type).toBe('Utilization');
    expect(server.resources.requests.cpu).toBeDefined();
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    expect(matches(pdb.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    if (pdb.spec.minAvailable !== undefined) expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    else expect(pdb.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
  });

  it('configures the server only with variables it reads, with values it accepts, keys in the Secret only', () => {
    // Arrange
    const refs = (server.envFrom ?? []).map((f: Json) => f.configMapRef?.name ?? f.secretRef?.name);

    // Act
    const names = [...configMaps.flatMap((c) => Object.keys(c.data ?? {})), ...secrets.flatMap((s) => Object.keys({ ...s.stringData, ...s.data })), ...(server.env ?? []).map((e: Json) => e.name)];

    // Assert
    expect(refs.sort()).toEqual([...configMaps, ...secrets].map((d) => d.metadata.name).sort());
    expect(unknownVariables(names)).toEqual([]);
    expect(() => validateEnvironment(podEnv())).not.toThrow();
    for (const configMap of configMaps) {
      expect(Object.keys(configMap.data)).not.toContain('API_KEYS');
      expect(Object.keys(configMap.data)).not.toContain('ADMIN_API_KEYS');
    }
  });

  it('commits only placeholder keys, which stop the service at start if left in place', () => {
    for (const secret of secrets) {
      // Act
      const values = Object.entries({ ...secret.stringData, ...secret.data }) as [string, string][];

      // Assert
      expect(secret.data).toBeUndefined(); // stringData: the placeholders stay readable
      for (const [name, value] of values) {
        expect({ name, value }).toEqual({ name, value: expect.stringContaining('REPLACE-ME') });
        expect(() => parseApiKeys(value, 'check')).toThrow(/sha256 digest/);
      }
    }
  });

  it('annotates the pods for Prometheus on METRICS_PORT and offers a ServiceMonitor on the metrics port', () => {
    // Arrange
    const annotations = pod.metadata.annotations;
    const service = named('Service', 'nest-model-server');
    const monitor = ofKind('ServiceMonitor')[0];

    // Act
    const endpoint = monitor.spec.endpoints[0];

    // Assert
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(Number(annotations['prometheus.io/port'])).toBe(portOf(podEnv(), 'METRICS_PORT'));
    expect(annotations['prometheus.io/path']).toBe('/metrics');
    expect(matches(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
    expect(service.spec.ports.map((p: Json) => p.name)).toContain(endpoint.port);
    expect(endpoint.path).toBe('/metrics');
  });

  it('runs a Redis behind the Service that REDIS_URL names', () => {
    // Arrange
    const url = new URL(podEnv().REDIS_URL);
    const service = named('Service', url.hostname);
    const redis = ofKind('Deployment').find((d) => matches(service.spec.selector, d.spec.template.metadata.labels));

    // Act
    const port = service.spec.ports.find((p: Json) => p.port === Number(url.port || 6379));

    // Assert
    expect(redis).toBeDefined();
    expect(port).toBeDefined();
    expect(containerPort(redis.spec.template.spec.containers[0], port.targetPort)).toBe(6379);
  });

  it('builds with kubectl kustomize into one namespace', () => {
    // Arrange
    const kubectl = findExecutable('kubectl');
    if (!kubectl) {
      console.log('kubectl kustomize skipped: kubectl is not installed');
      return;
    }

    // Act
    const result = spawnSync(kubectl, ['kustomize', resolve(ROOT, K8S_DIR)], { encoding: 'utf8', timeout: 60_000 });
    const built = parseAllDocuments(result.stdout).map((d) => d.toJS() as Json);

    // Assert
    expect(result.status).toBe(0);
    expect(built.map((d) => d.kind).sort()).toEqual(manifests.filter((m) => !m.file.startsWith('optional/') && m.doc.kind !== 'Kustomization').map((m) => m.doc.kind).sort());
    expect(built.filter((d) => d.kind !== 'Namespace' && d.metadata.namespace !== ofKind('Kustomization')[0].namespace)).toEqual([]);
  });
});

// =============================================================================================

describe('every deploy asset', () => {
  const files = ['Dockerfile', 'docker-compose.yml', '.dockerignore', ...walk('deploy')];

  it('parses: every YAML file under deploy/ and docker-compose.yml', () => {
    // Act
    const yamlFiles = files.filter((f) => /\.ya?ml$/.test(f));

    // Assert
    expect(yamlFiles.length).toBeGreaterThan(10);
    for (const file of yamlFiles) expect(() => yamlDocuments(file)).not.toThrow();
  });

  it('commits no secret: no key digests, private keys, or literal passwords and keys in configuration', () => {
    // Arrange
    const anywhere = [
      /\b[0-9a-f]{64}\b/i, // a sha256 key digest
      /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
      /rediss?:\/\/[^\s/@]*:(?!<)[^\s/@]+@/, // a password in a Redis URL (a <placeholder> aside)
    ];
    // In configuration (not prose): a key or password is an interpolation or a REPLACE-ME placeholder.
    const literal = /^\s*(GF_SECURITY_ADMIN_PASSWORD|API_KEYS|ADMIN_API_KEYS|REDIS_PASSWORD)\s*[:=]\s*(?!["']?\$\{)(?!["']?[\w-]*:sha256:REPLACE-ME)["']?\S/m;

    // Act
    const hits = files.flatMap((file) => {
      const text = read(file).split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
      const patterns = file.endsWith('.md') ? anywhere : [...anywhere, literal];
      return patterns.filter((re) => re.test(text)).map((re) => `${file}: ${re}`);
    });

    // Assert
    expect(hits).toEqual([]);
  });
});
