import { ModelRoutingState } from './state/registry-state';

/** A change of one model's routing state, planned on the state it is made to; undefined when it does not apply to that state. Pure. */
export type RoutingPlan = (state: ModelRoutingState) => ModelRoutingState | undefined;

/** The part of a logger the pending changes use (Nest's Logger fits). */
export interface PendingChangesLogger {
  warn(message: string): void;
}

interface PendingChange {
  /** What the change is, for log lines: "the abort of canary version 1". */
  what: string;
  plan: RoutingPlan;
}

/**
 * Changes this replica made while the shared store could not take them (a canary aborting itself
 * during a Redis outage), one per model, kept until they are committed. Until then a shared state
 * applied here gets the change made over it (the end of the outage must not revive an aborted
 * canary); a change that no longer applies to the shared state (made already, or the model changed
 * through another replica meanwhile) is dropped with a warning: the shared state wins.
 */
export class PendingRoutingChanges {
  private readonly changes = new Map<string, PendingChange>();

  constructor(private readonly logger: PendingChangesLogger) {}

  /** The models with a change pending. */
  get models(): string[] {
    return [...this.changes.keys()];
  }

  has(model: string): boolean {
    return this.changes.has(model);
  }

  /** Keeps `plan` for `model` until {@link delete}; it replaces a change pending for the model (planned on a state that had it). */
  add(model: string, what: string, plan: RoutingPlan): void {
    this.changes.set(model, { what, plan });
  }

  /** The change was committed (or the state it was made on was written back whole): no longer pending. */
  delete(model: string): void {
    this.changes.delete(model);
  }

  /** The model's pending change made over `shared`, or undefined when there is none or it no longer applies (then dropped, with a warning). */
  planned(model: string, shared: ModelRoutingState): ModelRoutingState | undefined {
    const change = this.changes.get(model);
    if (!change) return undefined;
    const next = change.plan(shared);
    if (next === undefined) this.drop(model, 'no longer applies to the shared state (made already, or the model changed meanwhile)');
    return next;
  }

  /** `shared` as this replica must apply it: with the model's pending change made over it, when there is one that still applies. */
  over(model: string, shared: ModelRoutingState): ModelRoutingState {
    return this.planned(model, shared) ?? shared;
  }

  /** Drops the model's pending change, saying why. */
  drop(model: string, why: string): void {
    const change = this.changes.get(model);
    if (!change) return;
    this.changes.delete(model);
    this.logger.warn(`${change.what} of '${model}', made on this replica only while the shared state could not be changed, ${why}: dropped, the shared state applies`);
  }
}
