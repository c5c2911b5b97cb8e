/**
 * An advisory lock on a checkpoint, so two processes (two jobs of an array,
 * two shells, a migrate and a rewrite) never rewrite the same file at once.
 *
 * The lock is a `flock` on the checkpoint file itself, not on a sidecar
 * file: nothing is left behind. A save replaces the file by renaming a new
 * one over it, so a waiting process may hold the lock on the old inode;
 * after locking, it checks that the path still names the file it locked,
 * and starts over on the new one otherwise. Within one process the lock is
 * reentrant: a migrate holding it can save the same file.
 *
 * @module
 */

import { CheckpointError, fileKind, NotAFileError } from "../errors.ts";

/** A held lock; release it when done (closing the process releases it too). */
export interface FileLock {
  /** The locked file's path, every symlink followed. */
  readonly path: string;
  /** The locked file as it was when locked. */
  readonly info: Deno.FileInfo;
  /** Releases the lock (this holder's share of it, when the process holds it twice). */
  release(): void;
}

/** Options for {@linkcode lockFile}. */
export interface LockOptions {
  /** How long to wait for another process's lock, in milliseconds (default 10 s). */
  timeoutMs?: number;
  /** Time between attempts, in milliseconds (default 100). */
  pollMs?: number;
  /** What the lock is for, as the error names it (default `"lock the checkpoint"`). */
  action?: string;
}

interface Held {
  file: Deno.FsFile;
  path: string;
  info: Deno.FileInfo;
  holders: number;
}

// Locks this process holds, by device and inode: a second flock on another
// descriptor of the same file would wait for the first.
const held = new Map<string, Held>();

function key(info: Deno.FileInfo): string {
  return `${info.dev}:${info.ino}`;
}

/**
 * Takes an exclusive advisory lock on the file at `path` (following
 * symlinks), waiting up to `timeoutMs` for another process's; throws
 * {@linkcode CheckpointError} when it stays locked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockFile } from "../../mod.ts";
 * const path = await Deno.makeTempFile();
 * const lock = await lockFile(path);
 * const child = new Deno.Command(Deno.execPath(), {
 *   args: ["eval", `const f = await Deno.open(${JSON.stringify(path)}); Deno.exit(await f.tryLock(true) ? 0 : 3)`],
 * });
 * assert.equal((await child.output()).code, 3, "another process cannot take it");
 * lock.release();
 * assert.equal((await child.output()).code, 0);
 * await Deno.remove(path);
 * ```
 */
export async function lockFile(path: string, options: LockOptions = {}): Promise<FileLock> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pollMs = options.pollMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await Deno.stat(path);
    // Opening a FIFO would wait for a writer; a device is not a checkpoint.
    if (!found.isFile) throw new NotAFileError("open", fileKind(found));
    const mine = held.get(key(found));
    if (mine !== undefined) return share(mine);
    const file = await Deno.open(path, { read: true });
    let locked = false;
    try {
      for (;;) {
        if (await file.tryLock(true)) {
          locked = true;
          break;
        }
        if (Date.now() >= deadline) {
          throw new CheckpointError(
            `Cannot ${options.action ?? "lock the checkpoint"}: the checkpoint is locked by ` +
              `another process (still after ${
                Math.round(timeoutMs / 1000)
              } s); is a migrate or rewrite running on it?`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
      const info = await file.stat();
      const current = await Deno.stat(path);
      if (info.ino === current.ino && info.dev === current.dev) {
        const entry = { file, path: await Deno.realPath(path), info, holders: 0 };
        held.set(key(info), entry);
        return share(entry);
      }
      // The file was replaced while we waited: lock the new one.
    } catch (error) {
      file.close();
      throw error;
    }
    if (locked) file.close();
  }
}

function share(entry: Held): FileLock {
  entry.holders++;
  let released = false;
  return {
    path: entry.path,
    info: entry.info,
    release() {
      if (released) return;
      released = true;
      if (--entry.holders > 0) return;
      held.delete(key(entry.info));
      try {
        entry.file.close();
      } catch {
        // Already closed.
      }
    },
  };
}
