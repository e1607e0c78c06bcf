import { ModelRoutingState, RegistryState } from './registry-state';

/**
 * Where the registry's stages, canary and shadow settings persist across restarts (the port;
 * also the DI token). The file adapter serves a single instance; a Redis adapter shares the
 * state across replicas.
 */
export abstract class RegistryStateStore {
  /**
   * The saved state, or undefined when there is none or it cannot be used (unreadable, corrupt,
   * invalid) — the caller then starts from the model.json defaults. Reports problems itself and
   * never rejects, so a bad state can never stop the service from starting.
   */
  abstract load(): Promise<RegistryState | undefined>;

  /**
   * Persists `state` atomically: a later `load()` sees either the previous state or this one,
   * never a mix. Concurrent saves are serialized and the last one requested wins. Rejects when
   * the state is invalid or cannot be written; the previously saved state is then left intact.
   */
  abstract save(state: RegistryState): Promise<void>;
}

/** One model's routing state as a shared store holds it, at its revision (1, 2, … per model; 0 = never written). */
export interface RevisedModelState {
  state: ModelRoutingState;
  revision: number;
}

/** A change committed through some replica, as the shared store announces it. */
export interface ModelStateChange extends RevisedModelState {
  model: string;
  /** The store's epoch the revision belongs to (see {@link SharedSnapshot.epoch}). */
  epoch: string;
}

/** Everything a shared store holds, read at one instant. */
export interface SharedSnapshot {
  /**
   * Identifies the store's contents: a new epoch means the store lost what it held (a Redis
   * restarted without persistence, or another one) and revisions start again from 0.
   */
  epoch: string;
  /** By model name; models absent here (and from {@link unusable}) were never changed through the shared store. */
  models: Map<string, RevisedModelState>;
  /**
   * Models whose document in the store cannot be used (not JSON, or invalid: a hand edit), by the
   * revision it is at. Never applied; a change compare-and-sets on that revision, and so replaces it.
   */
  unusable: Map<string, number>;
}

export type CommitResult = { committed: true; revision: number } | { committed: false };

/**
 * A commit was sent to the shared store, but what became of it could not be learnt (no reply in
 * time, and the state could not be read back): it may have been made, or may still be.
 */
export class CommitOutcomeUnknownError extends Error {
  override readonly name = 'CommitOutcomeUnknownError';
}

/**
 * A store shared by replicas (Redis). Besides `load()` at boot it holds one document per model
 * with a revision, changed only by compare-and-set ({@link commit}), and announces every committed
 * change to every replica ({@link onChange}). `save()` of a whole registry snapshot is a
 * single-instance notion: a shared store rejects it (use {@link commit}).
 */
export abstract class SharedRegistryStateStore extends RegistryStateStore {
  /** What and where the store is, for messages: "Redis at redis://cache:6379". */
  abstract readonly location: string;

  /** Changes can be committed and announcements received now. */
  abstract readonly writable: boolean;

  /** Every model's state and revision at one instant, or undefined when the store cannot be reached. Never rejects. */
  abstract snapshot(): Promise<SharedSnapshot | undefined>;

  /**
   * Stores `state` as the model's routing state if, and only if, the store is still at
   * `expected` (epoch and the model's revision), and announces it. Resolves `{ committed: false }`
   * when another replica changed the model first (or the epoch changed). A commit whose reply is
   * lost (a timeout, a connection dropped after sending) is settled by reading the model back once
   * the store answers. Rejects with {@link CommitOutcomeUnknownError} when it was sent and that
   * read failed too (it may have been made); with another Error when nothing was changed (the
   * store cannot be reached, or `state` is invalid).
   */
  abstract commit(model: string, state: ModelRoutingState, expected: { epoch: string; revision: number }): Promise<CommitResult>;

  /** Calls `listener` for every change committed through any replica (this one included). */
  abstract onChange(listener: (change: ModelStateChange) => void): void;

  /** Calls `listener` each time the store becomes reachable again (changes made meanwhile may have been missed). */
  abstract onReconnect(listener: () => void): void;
}
