import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

import { RegistryState, validateRegistryState } from './registry-state';
import { RegistryStateStore } from './registry-state.store';

/** The part of a logger the store uses (Nest's Logger fits). */
export interface StateStoreLogger {
  warn(message: string): void;
  error(message: string): void;
}

/** A save waiting for the one in progress; later saves replace its text so only the newest is written. */
interface QueuedSave {
  text: string;
  done: Promise<void>;
}

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The registry state in one JSON file (REGISTRY_STATE_FILE), for a single instance.
 *
 * Saves are atomic (temp file in the same directory, fsync, rename over the target), so a crash
 * mid-save leaves the previous state, never a torn file. Saves are serialized: one requested while
 * another is writing waits for it, and saves that pile up meanwhile are coalesced into one write of
 * the newest state — every caller's promise settles once a state at least as new as its own is on
 * disk. A corrupt or invalid file is reported and ignored (kept for inspection, not deleted).
 */
export class FileRegistryStateStore extends RegistryStateStore {
  private queued: QueuedSave | undefined;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly logger: StateStoreLogger = new Logger(FileRegistryStateStore.name),
  ) {
    super();
  }

  /** The saved state; undefined when the file is absent, or unreadable/corrupt/invalid (logged as an error). */
  override async load(): Promise<RegistryState | undefined> {
    const text = await this.read();
    if (text === undefined) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      this.logger.error(`registry state file ${this.path} is corrupt (${reason(e)}); using model.json defaults`);
      return undefined;
    }
    const { state, problems } = validateRegistryState(raw);
    if (!state) this.logger.error(`registry state file ${this.path} is invalid: ${problems.join('; ')}; using model.json defaults`);
    return state;
  }

  /**
   * Writes `state` atomically once any save in progress has finished. Rejects, leaving the file
   * as it was, when the state is invalid (so the next start can read what was written) or the
   * write fails. Callers must await or catch the promise.
   */
  override save(state: RegistryState): Promise<void> {
    const { problems } = validateRegistryState(state);
    if (problems.length) return Promise.reject(new Error(`refusing to save an invalid registry state: ${problems.join('; ')}`));
    // Serialized now, so that a caller mutating its object afterwards cannot change what is written.
    const text = `${JSON.stringify(state, null, 2)}\n`;
    if (this.queued) {
      this.queued.text = text;
      return this.queued.done;
    }
    const slot = { text } as QueuedSave;
    slot.done = this.tail.then(() => {
      // From here on, new saves queue behind this write instead of joining it.
      this.queued = undefined;
      return this.write(slot.text);
    });
    this.queued = slot;
    this.tail = slot.done.catch(() => undefined);
    return slot.done;
  }

  private async read(): Promise<string | undefined> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.logger.error(`registry state file ${this.path} cannot be read (${reason(e)}); using model.json defaults`);
      return undefined;
    }
  }

  /** Temp file in the same directory (rename is only atomic within one file system), fsync, rename. */
  private async write(text: string): Promise<void> {
    const dir = dirname(this.path);
    const tmp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(tmp, 'wx', 0o644);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new Error(`cannot save registry state to ${this.path}: ${reason(e)}`, { cause: e });
    }
    await syncDirectory(dir);
  }
}

/**
 * Flushes the directory entry so the rename itself survives a power loss. Best effort: some
 * platforms (Windows) cannot open a directory for syncing, and the data is already safe there.
 */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort, see above
  }
}
