/**
 * Migrating and inspecting checkpoint files: what the `migrate`, `inspect`
 * and `check` commands do, as a library.
 *
 * @module
 */

import { basename, dirname, extname, join, resolve } from "node:path";
import { CheckpointError } from "../errors.ts";
import { dangerousGlobals } from "../pickle/scan.ts";
import { Checkpoint, type SaveProgress } from "../torch/checkpoint.ts";
import {
  onInterrupt,
  reason,
  removeStaleTemps,
  syncFolder,
  tempPathBeside,
} from "../torch/_atomic_write.ts";
import { kernelCopy } from "../torch/_kernel_copy.ts";
import type { Migration } from "./migration.ts";
import { lockFile } from "./file_lock.ts";
import { MigrationError } from "./migration_error.ts";
import {
  type MigrationLog,
  type MigrationPlan,
  type MigrationStatus,
  Migrator,
  planRefusal,
} from "./migrator.ts";
import type { RegisteredMigration } from "./registration.ts";

/** A migration as reports list it. */
export interface MigrationSummary {
  /** The migration's name. */
  name: string;
  /** Its anemoi-models version, when known. */
  version: string | undefined;
}

/** Options for {@linkcode migrateCheckpoint}. */
export interface MigrateOptions {
  /** The migrations, in order, or a migrator built from them. */
  migrations: readonly Migration[] | Migrator;
  /**
   * Where to write the migrated checkpoint; the input is left alone. Without
   * it, the input is first kept as a backup (see {@linkcode backupPath}) and
   * the migrated checkpoint takes its path.
   */
  out?: string;
  /** Run the migrations in memory and write nothing. */
  dryRun?: boolean;
  /** Receives warnings and details. */
  log?: MigrationLog;
  /** How long to wait for another process's lock on the checkpoint (default 10 s). */
  lockTimeoutMs?: number;
  /**
   * Write a checkpoint whose pickle references dangerous globals (code
   * execution on load, e.g. `os.system`). Refused by default: users will
   * `torch.load(weights_only=False)` what migrate writes.
   */
  allowDangerousGlobals?: boolean;
  /**
   * Check the written file before it replaces anything (default `true`):
   * the `verify` option of `Checkpoint.save`.
   */
  verify?: boolean;
  /** Called as the migrated checkpoint is written, e.g. to draw a progress bar. */
  onProgress?: (progress: SaveProgress) => void;
}

/** What {@linkcode migrateCheckpoint} did. */
export interface MigrationReport {
  /** The input checkpoint. */
  path: string;
  /** `"migrated"`, `"up-to-date"` (nothing to run, nothing written) or `"dry-run"`. */
  status: "migrated" | "up-to-date" | "dry-run";
  /** The migrations that ran (or would run, for a dry run), in order. */
  executed: MigrationSummary[];
  /** The migrations registered before the run. */
  registered: MigrationSummary[];
  /** The backup of the original, when one was made. */
  backup: string | undefined;
  /** The file the migrated checkpoint was written to, when written. */
  output: string | undefined;
  /** Registered migrations whose script changed since they ran. */
  changed: string[];
  /** Globals the setups redirected: original path to new path. */
  redirected: Record<string, string>;
}

/**
 * Migrates the checkpoint at `path` with `options.migrations`, as
 * `anemoi-models migration sync` does. Throws
 * {@linkcode IncompatibleCheckpointError} when it cannot be migrated and
 * {@linkcode MigrationError} when a migration fails; the input is unchanged then.
 *
 * @example Migrate to a new file
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadMigrationsFromDir, migrateCheckpoint } from "../../mod.ts";
 *
 * const out = await Deno.makeTempFile({ suffix: ".ckpt" });
 * const report = await migrateCheckpoint("tests/fixtures/migration_after_foo.ckpt", {
 *   migrations: await loadMigrationsFromDir("tests/migrations/first_group"),
 *   out,
 * });
 * assert.equal(report.status, "migrated");
 * assert.deepEqual(report.executed.map((m) => m.name), [
 *   "1750841219_add_bar",
 *   "1750859824_add_baz",
 *   "1750859905_rename_baz",
 * ]);
 * await Deno.remove(out);
 * ```
 */
export async function migrateCheckpoint(
  path: string,
  options: MigrateOptions,
): Promise<MigrationReport> {
  const migrator = options.migrations instanceof Migrator
    ? options.migrations
    : new Migrator(options.migrations);
  // Held while reading and writing, so a second process waits, then reads
  // the migrated file (and finds nothing to do) instead of migrating twice.
  const lock = options.dryRun ? undefined : await lockFile(path, {
    timeoutMs: options.lockTimeoutMs,
  });
  try {
    // A save killed outright (SIGKILL, power loss) leaves its hidden
    // temporary file; with the lock held, no live save of ours owns one.
    if (lock !== undefined) await removeStaleTemps(path);
    return await migrateLocked(path, migrator, options);
  } finally {
    lock?.release();
  }
}

async function migrateLocked(
  path: string,
  migrator: Migrator,
  options: MigrateOptions,
): Promise<MigrationReport> {
  const run = await migrator.run(path, options.log);
  const { checkpoint, plan, executed } = run;
  const report: MigrationReport = {
    path,
    status: executed.length === 0 ? "up-to-date" : options.dryRun ? "dry-run" : "migrated",
    executed: executed.map(summary),
    registered: plan.registered.map(registeredSummary),
    backup: undefined,
    output: undefined,
    changed: plan.changed,
    redirected: Object.fromEntries([...run.redirected].map(([from, to]) => [from, to.path])),
  };
  try {
    if (report.status !== "migrated") return report;
    const dangerous = dangerousGlobals(checkpoint.pickleBytes);
    if (dangerous.length > 0 && !options.allowDangerousGlobals) {
      throw new MigrationError(
        `Cannot migrate: data.pkl references dangerous globals (${
          dangerous.join(", ")
        }) that run code when Python loads it; pass --allow-dangerous-globals to migrate it anyway`,
      );
    }
    // --out naming the input itself is an in-place migration: keep a backup.
    const saveOptions = { verify: options.verify, onProgress: options.onProgress };
    if (options.out !== undefined && !await samePath(options.out, path)) {
      await checkpoint.save(options.out, saveOptions);
      report.output = options.out;
      return report;
    }
    // A symlink (such as Lightning's last.ckpt) is migrated through: the file
    // it names is backed up beside itself and replaced, and the link stays.
    const target = await Deno.realPath(path);
    let backup: string;
    try {
      backup = await createBackup(target, backupPath(target, plan.registered));
    } catch (error) {
      if (error instanceof CheckpointError || error instanceof MigrationError) throw error;
      throw new MigrationError(
        `Cannot back up the checkpoint: ${reason(error)}; the original is unchanged`,
        { cause: error },
      );
    }
    report.backup = backup;
    // Interrupted before the rename, the backup is only a second name for
    // the untouched original: remove it, as a failed save does below.
    const release = onInterrupt(() => {
      removeIfSameFile(backup, target);
      return path;
    });
    try {
      await checkpoint.save(target, saveOptions);
    } catch (error) {
      // A failed save never replaced the original: the backup is redundant.
      await Deno.remove(backup).catch(() => {});
      report.backup = undefined;
      throw error;
    } finally {
      release();
    }
    report.output = path;
    return report;
  } finally {
    checkpoint.close();
  }
}

/** What {@linkcode inspectCheckpoint} found. */
export interface InspectReport {
  /** The checkpoint. */
  path: string;
  /** Where it stands. */
  status: MigrationStatus;
  /** Registered migrations, in order. */
  registered: MigrationSummary[];
  /** Migrations to run, in order. */
  missing: MigrationSummary[];
  /** Registered migrations these scripts do not have. */
  extra: string[];
  /** For `"too-old"`: use an anemoi-models version below this one. */
  firstIncompatibleVersion: string | undefined;
  /** Registered migrations whose script changed since they ran. */
  changed: string[];
  /** Why it cannot be migrated, as `migrate` would refuse it; undefined when it can. */
  problem: string | undefined;
}

/**
 * Reports a checkpoint's migration state without changing anything, as
 * `anemoi-models migration inspect`. Throws
 * {@linkcode IncompatibleCheckpointError} for a non-training checkpoint.
 *
 * @example Inspect a checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { inspectCheckpoint, loadMigrationsFromDir } from "../../mod.ts";
 *
 * const report = await inspectCheckpoint("tests/fixtures/migration_recent.ckpt", {
 *   migrations: await loadMigrationsFromDir("tests/migrations/two_groups"),
 * });
 * assert.equal(report.status, "pending");
 * assert.deepEqual(report.missing.map((m) => m.name), ["1751895203_recent"]);
 * ```
 */
export async function inspectCheckpoint(
  path: string,
  options: { migrations: readonly Migration[] | Migrator },
): Promise<InspectReport> {
  const migrator = options.migrations instanceof Migrator
    ? options.migrations
    : new Migrator(options.migrations);
  const checkpoint = await Checkpoint.open(path);
  let plan: MigrationPlan;
  try {
    plan = migrator.plan(checkpoint.root);
  } finally {
    checkpoint.close();
  }
  return {
    path,
    status: plan.status,
    registered: plan.registered.map(registeredSummary),
    missing: plan.missing.map(summary),
    extra: plan.extra,
    firstIncompatibleVersion: plan.firstIncompatibleVersion,
    changed: plan.changed,
    problem: planRefusal(plan)?.message,
  };
}

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

/**
 * True when `path` has the name {@linkcode backupPath} gives backups:
 * `{stem}-v0{ext}` or `{stem}-v{version}-{count}{ext}`, maybe with `_N`.
 * PyTorch Lightning's own `-v1`, `-v2`, ... names never match.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isBackupPath } from "./migrate_checkpoint.ts";
 * assert.ok(isBackupPath("/runs/last-v0.9.0-1.ckpt"));
 * assert.ok(isBackupPath("/runs/last-v0_2.ckpt"));
 * assert.ok(!isBackupPath("/runs/last-v1.ckpt"));
 * ```
 */
export function isBackupPath(path: string): boolean {
  const ext = extname(path);
  const stem = basename(path, ext);
  return /-v(0|[^/]+-\d+)(_\d+)?$/.test(stem);
}

/**
 * Keeps the file at `path` under `wanted` (or `{stem}_1{ext}`, `_2`, ...
 * when taken; never overwriting) and returns the name used. A hard link
 * when the filesystem allows (instant, and the original's bytes are not
 * touched by the atomic save that follows), else a copy written to a
 * temporary file, synced and renamed. The folder is synced either way.
 */
export async function createBackup(path: string, wanted: string): Promise<string> {
  const ext = extname(wanted);
  const stem = wanted.slice(0, wanted.length - ext.length);
  for (let n = 0; n < 10_000; n++) {
    const candidate = n === 0 ? wanted : `${stem}_${n}${ext}`;
    try {
      await Deno.link(path, candidate);
      await syncFolder(candidate);
      return candidate;
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      if (error instanceof Deno.errors.NotFound) throw error;
    }
    // No hard links here: copy to a temporary file, then rename it to a
    // name still free (the caller holds the checkpoint's lock).
    if (await Deno.lstat(candidate).then(() => true, () => false)) continue;
    await copyBeside(path, candidate);
    return candidate;
  }
  throw new MigrationError(`Cannot back up the checkpoint: too many backups named ${wanted}`);
}

/** Copies `path` to `target` through a synced temporary file beside `target`. */
async function copyBeside(path: string, target: string): Promise<void> {
  await removeStaleTemps(target);
  const temp = tempPathBeside(target);
  const file = await Deno.open(temp, { write: true, createNew: true });
  const release = onInterrupt(() => {
    try {
      Deno.removeSync(temp);
    } catch { /* already gone */ }
    return path;
  });
  try {
    await file.lock(true);
    // The kernel's copy into the same, still locked file: half the time of
    // streaming it through this process for 2 GB.
    await kernelCopy(path, temp);
    await file.sync();
    await Deno.rename(temp, target);
    await syncFolder(target);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  } finally {
    release();
    file.close();
  }
}

/** Whether `a` and `b` name one file, directly or through symlinks. */
async function samePath(a: string, b: string): Promise<boolean> {
  if (resolve(a) === resolve(b)) return true;
  const [realA, realB] = await Promise.all(
    [a, b].map((p) => Deno.realPath(p).catch(() => undefined)),
  );
  return realA !== undefined && realA === realB;
}

/** Removes `backup` when it is still a second name of the file at `path`. */
function removeIfSameFile(backup: string, path: string): void {
  try {
    const a = Deno.statSync(backup);
    const b = Deno.statSync(path);
    if (a.ino !== null && a.ino === b.ino && a.dev === b.dev) Deno.removeSync(backup);
  } catch {
    // Either is gone: keep whatever is left.
  }
}

function summary(migration: Migration): MigrationSummary {
  return { name: migration.name, version: migration.version };
}

function registeredSummary(migration: RegisteredMigration): MigrationSummary {
  return { name: migration.name, version: migration.version };
}
