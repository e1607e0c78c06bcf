import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

import { isConnectionProblem, RedisConnection, RedisScript } from '../../../redis/redis-connection';
import { ModelRoutingState, RegistryState, validateRegistryState } from './registry-state';
import { CommitOutcomeUnknownError, CommitResult, ModelStateChange, RevisedModelState, SharedRegistryStateStore, SharedSnapshot } from './registry-state.store';
import { StateStoreLogger } from './file-registry-state.store';

/**
 * KEYS: states hash, revisions hash, epoch. ARGV: an epoch to create when there is none.
 * Replies {epoch, flat states hash, flat revisions hash}, read at one instant.
 */
const SNAPSHOT_SCRIPT = `
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  redis.call('SET', KEYS[3], ARGV[1])
  epoch = ARGV[1]
end
return {epoch, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
`;

/**
 * Compare-and-set of one model. KEYS: as SNAPSHOT. ARGV: model, expected revision, state JSON,
 * channel, expected epoch. Replies {1, new revision} after storing and publishing, or
 * {0, current revision} when the epoch or the revision is not the expected one.
 */
const COMMIT_SCRIPT = `
local epoch = redis.call('GET', KEYS[3])
local current = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if epoch ~= ARGV[5] or current ~= tonumber(ARGV[2]) then return {0, current} end
local rev = current + 1
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], rev)
redis.call('PUBLISH', ARGV[4], '{"model":' .. cjson.encode(ARGV[1]) .. ',"revision":' .. rev .. ',"epoch":' .. cjson.encode(epoch) .. ',"state":' .. ARGV[3] .. '}')
return {1, rev}
`;

/** KEYS: as SNAPSHOT. ARGV: model. Replies {epoch, state JSON, revision} ('' for what is absent, revision '0'). */
const READ_SCRIPT = `
return {redis.call('GET', KEYS[3]) or '', redis.call('HGET', KEYS[1], ARGV[1]) or '', redis.call('HGET', KEYS[2], ARGV[1]) or '0'}
`;

/** One model's document as stored, read at one instant. */
interface StoredModel {
  epoch: string;
  /** The state JSON as committed ('' when absent). */
  text: string;
  revision: number;
}

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Problems of one model's state, as the state document validator sees them. */
const problemsOf = (model: string, state: unknown): string[] =>
  validateRegistryState({ version: 1, updated_at: new Date(0).toISOString(), models: { [model]: state } }).problems;

/** A flat [field, value, field, value, …] reply as pairs. */
function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

/**
 * The registry state in Redis, shared by every replica (REDIS_URL). Keys under REDIS_KEY_PREFIX:
 * - `registry:models` — hash, model → its routing state as JSON (active, staging, previous_active, canary, shadow);
 * - `registry:revisions` — hash, model → revision, bumped by every commit;
 * - `registry:epoch` — a random id written when absent: a Redis that lost its data gets a new one;
 * - channel `registry` — every commit, `{"model","revision","epoch","state"}`, published by the
 *   commit script itself, so no committed change goes unannounced.
 * A commit is one Lua script (compare epoch and revision, set, bump, publish): two replicas
 * changing the same model at once cannot interleave — one commits, the other is told to reload.
 * Invalid documents (hand edits) are skipped per model, never applied, and reported once each
 * (a warning naming the problem); their revision is still given, so the next change of the model
 * compare-and-sets on it and replaces the document.
 */
export class RedisRegistryStateStore extends SharedRegistryStateStore {
  private readonly snapshotScript: RedisScript;
  private readonly commitScript: RedisScript;
  private readonly readScript: RedisScript;
  private readonly keys: [string, string, string];
  private readonly listeners: ((change: ModelStateChange) => void)[] = [];
  /** Per model, the unusable document last reported (each is reported once, not at every read). */
  private readonly reported = new Map<string, string>();

  constructor(private readonly connection: RedisConnection, private readonly logger: StateStoreLogger = new Logger('RegistryState')) {
    super();
    this.snapshotScript = connection.script('nmsRegistrySnapshot', 3, SNAPSHOT_SCRIPT);
    this.commitScript = connection.script('nmsRegistryCommit', 3, COMMIT_SCRIPT);
    this.readScript = connection.script('nmsRegistryRead', 3, READ_SCRIPT);
    this.keys = [connection.key('registry', 'models'), connection.key('registry', 'revisions'), connection.key('registry', 'epoch')];
    connection.subscribe('registry', (message) => this.received(message));
  }

  get location(): string {
    return `Redis at ${this.connection.location}`;
  }

  get writable(): boolean {
    return this.connection.ready;
  }

  /** The shared state at boot; undefined (model.json defaults, resynchronised once Redis answers) when Redis cannot be reached. */
  override async load(): Promise<RegistryState | undefined> {
    const snapshot = await this.snapshot();
    if (!snapshot) {
      this.logger.warn(`registry state: ${this.location} cannot be read at start; using model.json defaults until it answers`);
      return undefined;
    }
    const models = Object.fromEntries([...snapshot.models].map(([name, { state }]) => [name, state]));
    return { version: 1, updated_at: new Date().toISOString(), models };
  }

  override save(): Promise<void> {
    return Promise.reject(new Error('the Redis registry state is changed per model by commit(), not saved whole'));
  }

  override async snapshot(): Promise<SharedSnapshot | undefined> {
    if (!this.connection.available) return undefined;
    let reply: [string, string[], string[]];
    try {
      reply = (await this.snapshotScript.run(...this.keys, randomUUID())) as [string, string[], string[]];
    } catch (e) {
      this.connection.failed('state_load', e);
      return undefined;
    }
    const [epoch, states, revisions] = reply;
    const revisionOf = new Map(pairs(revisions).map(([model, n]) => [model, Number(n)]));
    const models = new Map<string, RevisedModelState>();
    const unusable = new Map<string, number>();
    for (const [model, text] of pairs(states)) {
      const state = this.parse(model, text);
      const revision = revisionOf.get(model) ?? 0;
      if (state) models.set(model, { state, revision });
      else unusable.set(model, revision);
    }
    return { epoch, models, unusable };
  }

  override async commit(model: string, state: ModelRoutingState, expected: { epoch: string; revision: number }): Promise<CommitResult> {
    const problems = problemsOf(model, state);
    if (problems.length) throw new Error(`refusing to commit an invalid registry state: ${problems.join('; ')}`);
    if (!this.connection.available) throw new Error(`${this.location} is unavailable`);
    const text = JSON.stringify(state);
    try {
      const [committed, revision] = (await this.commitScript.run(
        ...this.keys, model, expected.revision, text, this.connection.key('registry'), expected.epoch,
      )) as [number, number];
      return committed === 1 ? { committed: true, revision } : { committed: false };
    } catch (e) {
      this.connection.failed('state_commit', e);
      // A reply error: Redis refused the script, which did not run.
      if (!isConnectionProblem(e)) throw new Error(`${this.location}: ${reason(e)}`, { cause: e });
      return this.outcomeOf(model, text, expected, e);
    }
  }

  /**
   * What became of a commit of `text` whose reply was lost (`cause`: a timeout, a connection
   * dropped after sending), told by the model's document read back once Redis answers: the read
   * goes behind the commit on the same connection, so it sees the commit's effect if it ran.
   */
  private async outcomeOf(model: string, text: string, expected: { epoch: string; revision: number }, cause: unknown): Promise<CommitResult> {
    const stored = await this.readBack(model);
    if (stored?.epoch === expected.epoch) {
      if (stored.revision === expected.revision + 1 && stored.text === text) return { committed: true, revision: stored.revision };
      // Nothing was stored since, and the commit, if it reached Redis, ran before this read: it was not made.
      if (stored.revision === expected.revision) throw new Error(`${this.location}: ${reason(cause)} (the change was not made)`, { cause });
      // Another replica's change was committed at that revision: the compare-and-set refused this one.
      if (stored.revision === expected.revision + 1) return { committed: false };
    }
    const seen = stored ? `the model is now at revision ${stored.revision}${stored.epoch === expected.epoch ? '' : ' of another epoch'}` : 'the model could not be read back';
    throw new CommitOutcomeUnknownError(`${this.location}: ${reason(cause)}; ${seen}`, { cause });
  }

  /** The model's document, read as soon as the command connection is up (within REDIS_TIMEOUT_MS, then within REDIS_TIMEOUT_MS again for the reply); undefined when it cannot be. */
  private async readBack(model: string): Promise<StoredModel | undefined> {
    if (!(await this.connection.whenConnected(this.connection.timeoutMs))) return undefined;
    try {
      const [epoch, text, revision] = (await this.readScript.run(...this.keys, model)) as [string, string, string];
      return { epoch, text, revision: Number(revision) };
    } catch (e) {
      this.connection.failed('state_load', e);
      return undefined;
    }
  }

  override onChange(listener: (change: ModelStateChange) => void): void {
    this.listeners.push(listener);
  }

  override onReconnect(listener: () => void): void {
    this.connection.onReady(listener);
  }

  /** The model's state from its document, or undefined (reported once per document) when the document is not JSON or invalid. */
  private parse(model: string, text: string): ModelRoutingState | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      this.reportUnusable(model, text, `is not JSON (${reason(e)})`);
      return undefined;
    }
    const problems = problemsOf(model, raw);
    if (problems.length) {
      this.reportUnusable(model, text, `is invalid: ${problems.join('; ')}`);
      return undefined;
    }
    this.reported.delete(model);
    return raw as ModelRoutingState;
  }

  private reportUnusable(model: string, text: string, problem: string): void {
    if (this.reported.get(model) === text) return;
    this.reported.set(model, text);
    this.logger.warn(`registry state of '${model}' in ${this.location} ${problem}; ignored: the next change of '${model}' replaces it`);
  }

  private received(message: string): void {
    let change: Partial<ModelStateChange>;
    try {
      change = JSON.parse(message) as Partial<ModelStateChange>;
    } catch {
      this.logger.error(`ignoring an unreadable registry change announced in ${this.location}`);
      return;
    }
    const { model, revision, epoch } = change;
    if (typeof model !== 'string' || typeof epoch !== 'string' || !Number.isSafeInteger(revision) || problemsOf(model, change.state).length) {
      this.logger.error(`ignoring an invalid registry change announced in ${this.location}`);
      return;
    }
    const valid: ModelStateChange = { model, epoch, revision: revision as number, state: change.state as ModelRoutingState };
    for (const listener of this.listeners) listener(valid);
  }
}
