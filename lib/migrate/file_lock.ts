/**
 * An advisory lock on a checkpoint, so two processes (two jobs of an array,
 * two shells) never migrate the same file at once.
 *
 * The lock is a `flock` on the checkpoint file itself, not on a sidecar
 * file: nothing is left behind. A migration replaces the file by renaming a
 * new one over it, so a waiting process may hold the lock on the old inode;
 * after locking, it checks that the path still names the file it locked,
 * and starts over on the new one otherwise. It then reads the migrated file.
 *
 * @module
 */

import { MigrationError } from "./migration_error.ts";

/** A held lock; release it when done (closing the process releases it too). */
export interface FileLock {
  /** Releases the lock. */
  release(): void;
}

/** Options for {@linkcode lockFile}. */
export interface LockOptions {
  /** How long to wait for another process's lock, in milliseconds (default 10 s). */
  timeoutMs?: number;
  /** Time between attempts, in milliseconds (default 100). */
  pollMs?: number;
}

/**
 * Takes an exclusive advisory lock on the file at `path`, waiting up to
 * `timeoutMs` for another holder; throws {@linkcode MigrationError} when it
 * stays locked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockFile } from "./file_lock.ts";
 * const path = await Deno.makeTempFile();
 * const lock = await lockFile(path);
 * await assert.rejects(() => lockFile(path, { timeoutMs: 50 }), /locked by another process/);
 * lock.release();
 * (await lockFile(path)).release();
 * await Deno.remove(path);
 * ```
 */
export async function lockFile(path: string, options: LockOptions = {}): Promise<FileLock> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pollMs = options.pollMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const file = await Deno.open(path, { read: true });
    let locked = false;
    try {
      for (;;) {
        if (await file.tryLock(true)) {
          locked = true;
          break;
        }
        if (Date.now() >= deadline) {
          throw new MigrationError(
            `Cannot migrate: the checkpoint is locked by another process (still after ${
              Math.round(timeoutMs / 1000)
            } s); is another migrate running on it?`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
      const held = await file.stat();
      const current = await Deno.stat(path);
      if (held.ino === current.ino && held.dev === current.dev) {
        return {
          release() {
            try {
              file.close();
            } catch {
              // Already closed.
            }
          },
        };
      }
      // The file was replaced while we waited: lock the new one.
    } catch (error) {
      file.close();
      throw error;
    }
    if (locked) file.close();
  }
}
