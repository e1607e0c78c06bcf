import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ChildServer, startServer } from './support/child-server';

const ADMIN = 'restart-admin';
const headers = { 'content-type': 'application/json', 'x-api-key': ADMIN };

describe('registry state survives a restart (child processes)', () => {
  jest.setTimeout(120_000);
  let dir: string;
  let server: ChildServer | undefined;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'nms-restart-')); });
  afterEach(async () => {
    if (server && server.proc.exitCode === null) { server.proc.kill('SIGTERM'); await server.exited; }
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  const model = async (url: string) => (await fetch(`${url}/models/iris`)).json() as Promise<Record<string, unknown>>;

  it('a promotion, a canary and a shadow are restored after SIGTERM and a new start', async () => {
    const stateFile = join(dir, 'state.json');
    const env = { ADMIN_API_KEYS: `ops:${ADMIN}`, REGISTRY_STATE_FILE: stateFile };
    server = await startServer(env);
    const { url } = server;
    expect((await fetch(`${url}/models/iris/promote`, { method: 'POST', headers, body: JSON.stringify({ version: 1 }) })).status).toBe(200);
    expect((await fetch(`${url}/models/iris/canary`, { method: 'PUT', headers, body: JSON.stringify({ version: 2, percentage: 25, sticky: true }) })).status).toBe(200);
    expect((await fetch(`${url}/models/iris/shadow`, { method: 'PUT', headers, body: '{"version":2,"percentage":5}' })).status).toBe(200);
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const saved = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(saved.models.iris).toMatchObject({ active: 1, staging: 2, previous_active: 2, canary: { version: 2, percentage: 25, sticky: true }, shadow: { version: 2, percentage: 5 } });

    server = await startServer(env);
    const restored = await model(server.url);
    expect(restored).toMatchObject({
      active_version: '1', staging_version: '2', previous_active_version: '2',
      canary: { version: 2, percentage: 25, sticky: true }, shadow: { version: 2, percentage: 5 },
    });
    const res = await fetch(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model_id: 'iris', model_version: 1, features: [5.1, 3.5, 1.4, 0.2] }) });
    expect(res.status).toBe(200);
  });

  it('a corrupt state file is reported and the model.json defaults are used; the service still starts', async () => {
    const stateFile = join(dir, 'corrupt.json');
    await writeFile(stateFile, '{ "version": 1, "models": { oops');
    server = await startServer({ REGISTRY_STATE_FILE: stateFile, LOG_LEVEL: 'info' });
    expect(await model(server.url)).toMatchObject({ active_version: '2', canary: null });
    expect(server.output()).toContain(stateFile);
    expect(await readFile(stateFile, 'utf8')).toBe('{ "version": 1, "models": { oops');
  });
});
