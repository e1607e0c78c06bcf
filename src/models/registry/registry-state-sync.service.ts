import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { ModelEntry } from './model-entry';
import { ModelRegistryService } from './model-registry.service';
import { ModelRoutingState } from './state/registry-state';
import { CommitOutcomeUnknownError, ModelStateChange, RegistryStateStore, SharedRegistryStateStore, SharedSnapshot } from './state/registry-state.store';

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Keeps the registry's rollout settings and their store in step, for the RolloutService.
 *
 * Single instance (the state file): a change is applied, then the whole registry is saved
 * (a failed save is logged; the change stays live).
 *
 * Shared store (Redis, several replicas): a change is committed first — compare-and-set on the
 * model's revision — and applied only once committed, so no replica serves a state the others
 * do not have. Every committed change, whichever replica made it, is announced and applied here
 * in revision order (an older revision arriving late is ignored). At start and after every
 * reconnection the whole state is read again (changes missed while disconnected are applied; a
 * Redis that lost its data gets this replica's last known state back). While the store cannot
 * be reached, or before that resynchronisation, changes are refused with 503
 * DEPENDENCY_UNAVAILABLE naming the store, and the last known state keeps serving. A commit whose
 * reply is lost (a timeout) is settled by the store reading the model back: made (applied as any
 * commit), not made (503 as above), or unknown (503 saying so; the state is read again first).
 */
@Injectable()
export class RegistryStateSync implements OnApplicationBootstrap {
  private readonly logger = new Logger('RegistryStateSync');
  private readonly shared: SharedRegistryStateStore | undefined;
  /** The shared store's epoch this replica's revisions belong to. */
  private epoch: string | undefined;
  /** Per model, the revision of the shared state applied here. */
  private revisions = new Map<string, number>();
  /**
   * Models whose shared state this replica applied only in part (it names versions not loaded
   * here, e.g. loaded through another replica): the state, and what was dropped. A change planned
   * from such a model's local settings would write the partial state back over everyone's, so it is
   * refused until the versions are loaded here (a load applies the shared state again).
   */
  private readonly partial = new Map<string, { state: ModelRoutingState; dropped: string[] }>();
  private synced = false;
  private everSynced = false;
  private initialSync: Promise<unknown> = Promise.resolve();
  private resyncing: Promise<boolean> | undefined;
  private readAgain = false;

  constructor(private readonly registry: ModelRegistryService, private readonly store: RegistryStateStore) {
    this.shared = store instanceof SharedRegistryStateStore ? store : undefined;
  }

  /** After every module's init (the registry's boot has started): listen to the shared store, then read it whole once the boot-time loads are done. */
  onApplicationBootstrap(): void {
    const shared = this.shared;
    if (!shared) return;
    shared.onChange((change) => this.received(change));
    shared.onReconnect(() => {
      this.synced = false;
      void this.resync();
    });
    this.initialSync = this.resync();
  }

  /** True when several replicas share the state (REDIS_URL). */
  get isShared(): boolean {
    return this.shared !== undefined;
  }

  /**
   * This replica has read the shared state at least once since it started (always true for a
   * single instance). Before that it serves its model.json defaults, which need not be the
   * deployment's state: readiness waits for it. Once true it stays true through outages (the
   * last known state is the deployment's).
   */
  get hasSynced(): boolean {
    return !this.shared || this.everSynced;
  }

  /** Where the shared state is ("Redis at …"), or undefined for a single instance. */
  get sharedLocation(): string | undefined {
    return this.shared?.location;
  }

  /** Changes can be made now (always, for a single instance). */
  get writable(): boolean {
    return !this.shared || (this.shared.writable && this.synced);
  }

  /** Resolves when changes can be made; rejects with 503 DEPENDENCY_UNAVAILABLE naming the store otherwise. */
  async ensureWritable(): Promise<void> {
    if (!this.shared) return;
    await this.initialSync;
    if (this.shared.writable && !this.synced) await this.resync();
    if (!this.writable) throw this.unavailable();
  }

  /**
   * Makes `next` the model's routing state everywhere it must be: true once done; false when
   * another replica changed the model first (the registry then holds the fresh shared state:
   * plan the change again). Rejects with 503 when the shared store cannot be reached, also when
   * the fresh state cannot be read after such a refusal (planning again on a stale state would
   * only be refused again, and the caller would wrongly answer 409).
   */
  async commit(entry: ModelEntry, next: ModelRoutingState): Promise<boolean> {
    if (!this.shared) {
      this.registry.applyRouting(entry.name, next);
      await this.persist();
      return true;
    }
    const epoch = this.epoch;
    if (epoch === undefined) throw this.unavailable();
    const partial = this.partial.get(entry.name);
    if (partial) {
      throw new AppError(ErrorCode.CONFLICT, `This replica holds only part of the deployment's routing state of '${entry.name}' (${partial.dropped.join('; ')}): load the missing versions on this replica first, so that no change is made from a partial state`);
    }
    let result;
    try {
      result = await this.shared.commit(entry.name, next, { epoch, revision: this.revisions.get(entry.name) ?? 0 });
    } catch (e) {
      if (!(e instanceof CommitOutcomeUnknownError)) {
        this.logger.warn(`change of '${entry.name}' not committed: ${reason(e)}`);
        throw this.unavailable();
      }
      // Whatever the store holds must be read again before any change: now if it answers, else
      // when it does (the connection's return resynchronises).
      this.synced = false;
      void this.resync();
      this.logger.warn(`change of '${entry.name}' may or may not have been committed: ${reason(e)}`);
      throw this.outcomeUnknown(entry.name);
    }
    if (result.committed) {
      this.apply({ model: entry.name, epoch, revision: result.revision, state: next }, false);
      return true;
    }
    // Planning again needs the fresh state: without it the change would only be refused again.
    if (!(await this.resync())) throw this.unavailable();
    return false;
  }

  /**
   * A change this replica must make even while the shared store is unreachable (a canary
   * aborting itself): applied here at once, then committed when possible. Resolves true when
   * every replica has it, false when only this one does (logged).
   */
  async applyNowAndShare(modelId: string, next: (entry: ModelEntry) => ModelRoutingState | undefined): Promise<boolean> {
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const entry = this.registry.get(modelId);
      const state = next(entry);
      if (!state) return true;
      this.registry.applyRouting(modelId, state);
      if (!this.shared) {
        await this.persist();
        return true;
      }
      if (!this.writable) break;
      const committed = await this.commit(entry, state).catch(() => false);
      if (committed) return true;
    }
    this.logger.warn(`rollout change of '${modelId}' applied on this replica only: ${this.shared?.location ?? 'the state store'} could not take it`);
    return false;
  }

  /** Saves the whole registry (single instance; shared stores are changed per model by {@link commit}). A failed save is logged, not thrown. */
  async persist(): Promise<void> {
    if (this.shared) {
      // After a load: the shared state of models applied only in part may now apply whole.
      for (const [model, { state }] of [...this.partial]) this.applyShared(model, state);
      return;
    }
    try {
      await this.store.save(this.registry.snapshot());
    } catch (err) {
      // The change is live; losing its persistence must be loud, not fatal.
      this.logger.error({ err }, 'registry state could not be saved');
    }
  }

  /**
   * Reads the shared state whole and applies what is newer, after the boot-time loads. One at a
   * time: asked again while one runs (a reconnection, an announcement of an unknown epoch), it
   * reads once more afterwards, so nothing announced during a read is lost. Resolves true when the
   * (last) read succeeded, false when the store could not be read (changes then wait for the next).
   */
  private resync(): Promise<boolean> {
    if (this.resyncing) {
      this.readAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      let read: boolean;
      do {
        this.readAgain = false;
        read = await this.readAndApply();
      } while (this.readAgain);
      return read;
    })().finally(() => { this.resyncing = undefined; });
    return this.resyncing;
  }

  private async readAndApply(): Promise<boolean> {
    await this.registry.whenLoaded();
    const snapshot = await this.shared!.snapshot();
    if (!snapshot) {
      this.synced = false;
      return false;
    }
    if (snapshot.epoch !== this.epoch) await this.adoptEpoch(snapshot);
    for (const [model, { state, revision }] of snapshot.models) this.apply({ model, epoch: snapshot.epoch, revision, state }, true);
    // Not applied (the store reported it), but the next change must compare-and-set on it to replace it.
    for (const [model, revision] of snapshot.unusable) this.revisions.set(model, Math.max(revision, this.revisions.get(model) ?? 0));
    this.synced = this.shared!.writable;
    this.everSynced = true;
    return true;
  }

  /**
   * A new epoch: the first read, or a store that lost its data. Revisions start again; in the
   * latter case the models this replica had shared state for, and the store no longer has, are
   * written back as this replica last knew them (the first replica back wins; the others get it
   * announced). Nothing changed while the store was away: changes were refused.
   */
  private async adoptEpoch(snapshot: SharedSnapshot): Promise<void> {
    const held = (m: string) => snapshot.models.has(m) || snapshot.unusable.has(m);
    const lost = this.epoch !== undefined ? [...this.revisions.keys()].filter((m) => !held(m)) : [];
    this.epoch = snapshot.epoch;
    this.revisions = new Map();
    const restored: string[] = [];
    for (const model of lost) {
      const entry = this.registry.list().find((e) => e.name === model && !e.error);
      // (A state this replica holds only in part is not everyone's to restore.)
      if (!entry || this.partial.has(model)) continue;
      const result = await this.shared!.commit(model, entry.routingState(), { epoch: snapshot.epoch, revision: 0 }).catch(() => ({ committed: false as const }));
      if (!result.committed) continue;
      this.revisions.set(model, result.revision);
      restored.push(model);
    }
    if (restored.length) this.logger.warn(`${this.shared!.location} had lost the registry state; restored ${restored.join(', ')} as this replica last knew it`);
  }

  private received(change: ModelStateChange): void {
    // Before the first read (or from a store that lost its data): read it all.
    if (change.epoch !== this.epoch) {
      void this.resync();
      return;
    }
    this.apply(change, false);
  }

  /** Applies a shared state newer than the one applied here (`orSame`: or at the same revision, as a resync may correct a local-only change). */
  private apply(change: ModelStateChange, orSame: boolean): void {
    if (change.epoch !== this.epoch) return;
    const known = this.revisions.get(change.model) ?? 0;
    if (change.revision < known || (change.revision === known && !orSame)) return;
    this.revisions.set(change.model, change.revision);
    this.applyShared(change.model, change.state);
  }

  /** Applies a shared state here, remembering it when part of it could not be (see {@link partial}). */
  private applyShared(model: string, state: ModelRoutingState): void {
    const dropped = this.registry.applyRouting(model, state);
    if (dropped.length) this.partial.set(model, { state, dropped });
    else this.partial.delete(model);
  }

  private outcomeUnknown(model: string): AppError {
    const where = this.shared?.location ?? 'the registry state store';
    return new AppError(
      ErrorCode.DEPENDENCY_UNAVAILABLE,
      `${where} did not answer in time: whether the change of '${model}' was made is unknown. This replica applies what ${where} holds once it answers; check the model's state before trying again`,
      [],
      5,
    );
  }

  private unavailable(): AppError {
    const where = this.shared?.location ?? 'the registry state store';
    return new AppError(
      ErrorCode.DEPENDENCY_UNAVAILABLE,
      `${where} is unavailable: rollout changes are refused until it is back, so that every replica keeps the same registry state`,
      [],
      5,
    );
  }
}
