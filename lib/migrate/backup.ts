/**
 * The backup an in-place migrate keeps of the original. It is made in two
 * steps that follow the replace: a hidden pending backup
 * (`.{name}.{random}.ckptkit-backup`, a hard link or a copy of the
 * original) before the migrated file takes the original's path, and its
 * final name (`{stem}-v{version}-{count}.ckpt`) after. Interrupted between
 * them, by a signal or a crash, the next migrate of the checkpoint finishes
 * the job: it removes a pending backup of an original that is still in
 * place, and gives its final name to one whose original was replaced.
 *
 * @module
 */

import { basename, dirname, extname, join } from "node:path";
import { Checkpoint } from "../torch/checkpoint.ts";
import { createHidden, hiddenFilesOf, onInterrupt, reason } from "../torch/_atomic_write.ts";
import { kernelCopy } from "../torch/_kernel_copy.ts";
import { sameFile } from "../torch/_save_target.ts";
import { MigrationError } from "./migration_error.ts";
import { type RegisteredMigration, registeredMigrations } from "./registration.ts";

/** A pending backup's name ends with this. */
export const PENDING_SUFFIX = ".ckptkit-backup";

/**
 * The backup name anemoi-models uses for the checkpoint at `path` before it
 * is migrated in place: `{stem}-v{version}-{count}{ext}`, where version is
 * the last registered migration's anemoi-models version and count how many
 * are registered; `{stem}-v0{ext}` when none are.
 *
 * @example Backup names
 * ```ts
 * import assert from "node:assert/strict";
 * import { backupPath } from "../../mod.ts";
 *
 * assert.equal(backupPath("/runs/last.ckpt", []), "/runs/last-v0.ckpt");
 * const registered = [{ name: "1_a", version: "0.9.0", final: false, signature: undefined }];
 * assert.equal(backupPath("/runs/last.ckpt", registered), "/runs/last-v0.9.0-1.ckpt");
 * ```
 */
export function backupPath(path: string, registered: readonly RegisteredMigration[]): string {
  const ext = extname(path);
  const stem = basename(path, ext);
  const last = registered[registered.length - 1];
  const version = last === undefined ? "" : `${last.version ?? "unknown"}-`;
  return join(dirname(path), `${stem}-v${version}${registered.length}${ext}`);
}

// {stem}-v0 or {stem}-v{version}-{count}, then _n when the name was taken.
const BACKUP_NAME = /^(.+)-v(?:0|(.+)-(\d+))(?:_\d+)?$/;

/** What a file's name says if it is a backup: the original's path and the registered count. */
function backupName(
  path: string,
): { original: string; count: number; version?: string } | undefined {
  const ext = extname(path);
  const match = BACKUP_NAME.exec(basename(path, ext));
  if (match === null) return undefined;
  return {
    original: join(dirname(path), `${match[1]}${ext}`),
    count: match[3] === undefined ? 0 : Number(match[3]),
    version: match[2],
  };
}

/**
 * Why `path` is a backup an in-place migrate made, or undefined when it is
 * not. A backup is recognised by what it is, never by a name alone: its
 * name is exactly `{stem}-v{version}-{count}` or `{stem}-v0`, maybe with
 * `_n`; its original `{stem}` is beside it; and it is a checkpoint that
 * registers `count` migrations, the last of them of anemoi-models version
 * `version` (as recorded in the file). So `resnet-v1-50.ckpt` or
 * `model-vae-3.ckpt` are checkpoints to migrate, not backups.
 *
 * @example A backup is the original's, registered as its name says
 * ```ts
 * import assert from "node:assert/strict";
 * import { backupOf } from "../../mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.copyFile("tests/fixtures/migration_empty.ckpt", `${dir}/last.ckpt`);
 * await Deno.copyFile("tests/fixtures/migration_empty.ckpt", `${dir}/last-v0.ckpt`);
 * await Deno.copyFile("tests/fixtures/migration_empty.ckpt", `${dir}/resnet-v1-50.ckpt`);
 * assert.match((await backupOf(`${dir}/last-v0.ckpt`))!, /backup of last\.ckpt/);
 * assert.equal(await backupOf(`${dir}/resnet-v1-50.ckpt`), undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function backupOf(path: string): Promise<string | undefined> {
  const name = backupName(path);
  if (name === undefined) return undefined;
  const original = await Deno.stat(name.original).catch(() => undefined);
  if (original === undefined || !original.isFile) return undefined;
  let registered: RegisteredMigration[];
  try {
    const ckpt = await Checkpoint.open(path);
    try {
      registered = registeredMigrations(ckpt.root) ?? [];
    } finally {
      ckpt.close();
    }
  } catch {
    return undefined; // Not a readable checkpoint: not one migrate made.
  }
  const last = registered.at(-1);
  if (registered.length !== name.count) return undefined;
  // Without a recorded version, the name took it from the script (or "unknown").
  if (name.count > 0 && last?.version !== undefined && name.version !== last.version) {
    return undefined;
  }
  return `a backup of ${basename(name.original)} (${
    name.count === 0
      ? "no migration"
      : `${name.count} migration${name.count === 1 ? "" : "s"}, the last of v${name.version}`
  } registered)`;
}

/** A pending backup of a checkpoint: hidden until the migrated file has replaced the original. */
export interface PendingBackup {
  /** The hidden file. */
  readonly path: string;
  /**
   * Gives the backup its final name when the original was replaced, or
   * removes it when the original is still in place; returns the final name.
   */
  finish(): Promise<string | undefined>;
}

/**
 * Keeps the file at `path` as a hidden pending backup beside it, to be named
 * `wanted` (or `_1`, `_2`, ... when taken) once the original is replaced: a
 * hard link where the filesystem allows (instant, and the atomic save that
 * follows never touches the original's bytes), else a synced copy. Until
 * {@linkcode PendingBackup.finish} runs, a SIGINT, SIGTERM or SIGHUP
 * finishes it by what happened to `path`.
 */
export async function pendingBackup(path: string, wanted: string): Promise<PendingBackup> {
  const original = await Deno.stat(path);
  // Refused before anything is replaced: a name the folder cannot hold.
  await Deno.lstat(wanted).catch((error) => {
    if ((error as { code?: string }).code === "ENAMETOOLONG") throw tooLong(wanted);
  });
  let hidden: string;
  let file: Deno.FsFile | undefined;
  try {
    hidden = await linkHidden(path);
  } catch (error) {
    if (!(error instanceof NoHardLinks)) throw error;
    // A copy, locked while it is pending so no recovery takes it.
    const created = await createHidden(path, PENDING_SUFFIX);
    hidden = created.path;
    file = created.file;
    try {
      await file.lock(true);
      await kernelCopy(path, hidden);
      await file.sync();
    } catch (error) {
      file.close();
      await Deno.remove(hidden).catch(() => {});
      throw error;
    }
  }
  // Whether the original left its path: decided by identity, not by how far
  // the save got, so a signal between its rename and its return keeps the backup.
  const replaced = () => {
    try {
      return !sameFile(Deno.statSync(path), original);
    } catch {
      return true;
    }
  };
  const finish = (): string | undefined => {
    if (!replaced()) {
      Deno.removeSync(hidden);
      syncFolderSync(hidden);
      return undefined;
    }
    return giveName(hidden, wanted);
  };
  syncFolderSync(hidden);
  let done = false;
  const release = onInterrupt(() => {
    if (done) return undefined;
    try {
      finish();
    } catch {
      // Left pending: the next migrate finishes it.
    }
    return path;
  });
  return {
    path: hidden,
    finish() {
      try {
        return Promise.resolve(finish());
      } catch (error) {
        return Promise.reject(error);
      } finally {
        done = true;
        release();
        file?.close();
      }
    },
  };
}

class NoHardLinks extends Error {}

/** A hard link of `path` under a new hidden pending name; NoHardLinks where links fail. */
async function linkHidden(path: string): Promise<string> {
  for (let attempt = 0; attempt < 8; attempt++) {
    // createHidden picks a name the folder accepts; the link takes its place.
    const { path: hidden, file } = await createHidden(path, PENDING_SUFFIX);
    file.close();
    await Deno.remove(hidden);
    try {
      await Deno.link(path, hidden);
      return hidden;
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      if (error instanceof Deno.errors.NotFound) throw error;
      throw new NoHardLinks();
    }
  }
  throw new NoHardLinks();
}

/**
 * Gives the pending backup `hidden` the name `wanted`, or `{stem}_1{ext}`,
 * `_2`, ... when taken (never overwriting), and syncs the folder.
 * Synchronous, so a signal handler can run it.
 */
function giveName(hidden: string, wanted: string): string {
  const ext = extname(wanted);
  const stem = wanted.slice(0, wanted.length - ext.length);
  for (let n = 0; n < 10_000; n++) {
    const candidate = n === 0 ? wanted : `${stem}_${n}${ext}`;
    try {
      Deno.linkSync(hidden, candidate);
      Deno.removeSync(hidden);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      if ((error as { code?: string }).code === "ENAMETOOLONG") throw tooLong(candidate);
      // No hard links: the name must still be free, and this process holds
      // the checkpoint's lock.
      if (exists(candidate)) continue;
      Deno.renameSync(hidden, candidate);
    }
    syncFolderSync(candidate);
    return candidate;
  }
  throw new MigrationError(`Cannot back up the checkpoint: too many backups named ${wanted}`);
}

function tooLong(name: string): MigrationError {
  return new MigrationError(
    `Cannot back up the checkpoint: the backup name ${basename(name)} is too long for the ` +
      "filesystem; migrate it with --out instead",
  );
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function syncFolderSync(path: string): void {
  try {
    const folder = Deno.openSync(dirname(path), { read: true });
    try {
      folder.syncSync();
    } finally {
      folder.close();
    }
  } catch {
    // Some filesystems refuse fsync on a folder; the rename still happened.
  }
}

/**
 * Finishes what an interrupted in-place migrate of `path` left beside it:
 * pending backups of an original still in place are removed (a link of it,
 * or a copy cut short or of the same content), the others get their final
 * backup names. Call it holding the checkpoint's lock. Returns the backups
 * it named.
 */
export async function recoverBackups(path: string): Promise<string[]> {
  const named: string[] = [];
  const current = await Deno.stat(path).catch(() => undefined);
  for (const hidden of await hiddenFilesOf(path, PENDING_SUFFIX)) {
    try {
      const info = await Deno.stat(hidden);
      // A link of the file this process holds locked: nothing else uses it.
      if (sameFile(info, current)) {
        await Deno.remove(hidden);
        continue;
      }
      const file = await Deno.open(hidden, { read: true });
      try {
        if (!await file.tryLock(true)) continue; // A live migrate's copy.
        const registered = await registeredOf(hidden);
        // A copy cut short (a copy is pending only once complete and synced).
        if (registered === undefined) {
          await Deno.remove(hidden);
          continue;
        }
        // A complete copy of an original still in place.
        if (
          info.nlink === 1 && current !== undefined && current.size === info.size &&
          JSON.stringify(await registeredOf(path)) === JSON.stringify(registered)
        ) {
          await Deno.remove(hidden);
          continue;
        }
        named.push(giveName(hidden, backupPath(path, registered)));
      } finally {
        file.close();
      }
    } catch (error) {
      throw new MigrationError(
        `Cannot finish an interrupted backup ${basename(hidden)}: ${reason(error)}`,
        { cause: error },
      );
    }
  }
  return named;
}

/** The migrations registered in the checkpoint at `path`; undefined when it cannot be read. */
async function registeredOf(path: string): Promise<RegisteredMigration[] | undefined> {
  try {
    const ckpt = await Checkpoint.open(path);
    try {
      return registeredMigrations(ckpt.root) ?? [];
    } finally {
      ckpt.close();
    }
  } catch {
    return undefined;
  }
}
