import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';

import { AppError } from '../../common/errors/app-error';
import { ErrorCode } from '../../common/errors/error-code';
import { ModelEntry } from './model-entry';
import { ModelRegistryService } from './model-registry.service';
import { PendingRoutingChanges, RoutingPlan } from './pending-routing-changes';
import { commitOutcomeUnknown, stateStoreUnavailable } from './registry-state-errors';
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
 * The one change made while the store is unreachable, a canary aborting itself, is applied here at
 * once and kept over the shared state until the next resynchronisation commits it (or finds the
 * shared canary changed meanwhile: that state wins).
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
  /** Changes made here that the shared store could not take yet (see {@link applyNowAndShare}). */
  private readonly pending = new PendingRoutingChanges(this.logger);
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
      throw this.notCommitted(entry.name, e);
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
   * aborting itself; `what` names it in log lines): `plan` applied here at once to the model's
   * settings, then committed — by compare-and-set on the shared state, `plan` made again on it —
   * now or, if the store cannot take it, after the next resynchronisation (until then it is kept
   * over any shared state applied here; see {@link PendingRoutingChanges}). Resolves true once no
   * longer pending (committed, or no longer applying to the shared state), false when only this
   * replica has it for now (logged).
   */
  async applyNowAndShare(modelId: string, what: string, plan: RoutingPlan): Promise<boolean> {
    const next = plan(this.registry.get(modelId).routingState());
    if (!next) return true;
    this.registry.applyRouting(modelId, next);
    if (!this.shared) {
      await this.persist();
      return true;
    }
    this.pending.add(modelId, what, plan);
    // The read commits it (see sharePending); without the store it waits for the next one.
    if (this.writable) await this.resync();
    if (!this.pending.has(modelId)) return true;
    this.logger.warn(`${what} of '${modelId}' applied on this replica only: ${this.shared.location} could not take it; it is committed once it can, unless the model's shared state changes meanwhile`);
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
    await this.sharePending(snapshot);
    this.synced = this.shared!.writable;
    this.everSynced = true;
    return true;
  }

  /**
   * A new epoch: the first read, or a store that lost its data. Revisions start again; in the
   * latter case the models this replica had shared state for, and the store no longer has, are
   * written back as this replica last knew them (the first replica back wins; the others get it
   * announced; one that finds it restored already reads again). Nothing else changed while the
   * store was away: changes were refused, but for those this replica had to make (a canary's
   * abort), which are part of what it restores.
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
      if (!result.committed) {
        // Another replica restored it first (or the store went away again): read what it holds.
        this.readAgain = true;
        continue;
      }
      this.revisions.set(model, result.revision);
      // (What this replica held, its pending change included, is the shared state now.)
      this.pending.delete(model);
      restored.push(model);
    }
    if (restored.length) this.logger.warn(`${this.shared!.location} had lost the registry state; restored ${restored.join(', ')} as this replica last knew it`);
  }

  /**
   * Commits the changes made here while the store could not take them, each made again on the
   * model's state in `snapshot` (just applied here) and compare-and-set on its revision. One the
   * store still cannot take stays pending; one refused (the model changed meanwhile) is planned
   * again on a fresh read.
   */
  private async sharePending(snapshot: SharedSnapshot): Promise<void> {
    for (const model of this.pending.models) {
      const shared = snapshot.models.get(model);
      if (!shared) {
        // (A model restored by another replica meanwhile is read again.)
        if (!this.readAgain) this.pending.drop(model, 'finds no shared state of the model to be made on');
        continue;
      }
      const next = this.pending.planned(model, shared.state);
      if (!next) continue;
      const result = await this.shared!.commit(model, next, { epoch: snapshot.epoch, revision: shared.revision }).catch((e: unknown) => {
        this.logger.warn(`change of '${model}' made on this replica only is still not committed: ${reason(e)}`);
        return undefined;
      });
      if (!result) continue;
      if (!result.committed) {
        this.readAgain = true;
        continue;
      }
      this.pending.delete(model);
      this.apply({ model, epoch: snapshot.epoch, revision: result.revision, state: next }, false);
      this.logger.log(`change of '${model}' made on this replica only while ${this.shared!.location} was unavailable is now committed`);
    }
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
    // A change made here that the store has not taken yet stays made (see PendingRoutingChanges).
    const dropped = this.registry.applyRouting(model, this.pending.over(model, state));
    if (dropped.length) this.partial.set(model, { state, dropped });
    else this.partial.delete(model);
  }

  /** The 503 of a commit the store rejected: refused, nothing changed; or of unknown outcome (the state is then read again before any change). */
  private notCommitted(model: string, e: unknown): AppError {
    if (!(e instanceof CommitOutcomeUnknownError)) {
      this.logger.warn(`change of '${model}' not committed: ${reason(e)}`);
      return this.unavailable();
    }
    // Read again now if the store answers, else when it does (its return resynchronises).
    this.synced = false;
    void this.resync();
    this.logger.warn(`change of '${model}' may or may not have been committed: ${reason(e)}`);
    return commitOutcomeUnknown(this.location, model);
  }

  private unavailable(): AppError {
    return stateStoreUnavailable(this.location);
  }

  private get location(): string {
    return this.shared?.location ?? 'the registry state store';
  }
}
