import { RegistryState } from './registry-state';

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
