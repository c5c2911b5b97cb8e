/**
 * Migrating and inspecting checkpoint files: what the `migrate`, `inspect`
 * and `check` commands do, as a library.
 *
 * @module
 */

import { basename } from "node:path";
import { CheckpointError, CkptkitError } from "../errors.ts";
import { checkPickle, type PickleSummary, summarizeScan } from "../scan/check_pickle.ts";
import { ScanPolicy } from "../scan/policy.ts";
import { scanPickle } from "../scan/scan_pickle.ts";
import { Checkpoint, type SaveProgress } from "../torch/checkpoint.ts";
import { reason, removeStaleTemps, saveError } from "../torch/_atomic_write.ts";
import { resolveSaveTarget, sameFile, type SaveTarget } from "../torch/_save_target.ts";
import { type FileLock, lockFile } from "../torch/file_lock.ts";
import { FileSource } from "../zip/source.ts";
import { backupPath, type PendingBackup, pendingBackup, recoverBackups } from "./backup.ts";
import type { Migration } from "./migration.ts";
import { MigrationError } from "./migration_error.ts";
import {
  type MigrationLog,
  type MigrationPlan,
  type MigrationRun,
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
   * Also refuse globals that are not on the allowlist (unknown: importing
   * them runs code nobody vetted).
   */
  strictGlobals?: boolean;
  /** The scan policy: the built-in lists, optionally extended (see {@linkcode ScanPolicy}). */
  policy?: ScanPolicy;
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
  if (options.dryRun) return await migrateLocked(path, migrator, options, undefined);
  // Held while reading and writing, so a second process waits, then reads
  // the migrated file (and finds nothing to do) instead of migrating twice.
  let lock: FileLock;
  try {
    lock = await lockFile(path, { timeoutMs: options.lockTimeoutMs, action: "migrate" });
  } catch (error) {
    throw error instanceof CheckpointError ? new MigrationError(error.message) : error;
  }
  try {
    // A migrate killed outright (SIGKILL, power loss) leaves its hidden
    // temporary file and maybe a pending backup; with the lock held, no
    // live migrate of ours owns them.
    await removeStaleTemps(lock.path);
    await recoverBackups(lock.path);
    return await migrateLocked(path, migrator, options, lock);
  } finally {
    lock.release();
  }
}

async function migrateLocked(
  path: string,
  migrator: Migrator,
  options: MigrateOptions,
  lock: FileLock | undefined,
): Promise<MigrationReport> {
  const checkpoint = await Checkpoint.open(path);
  let run: MigrationRun;
  try {
    const source = checkpoint.source;
    // The file read must be the file locked (and not swapped between the two).
    if (lock !== undefined && source instanceof FileSource && !sameFile(source.opened, lock.info)) {
      throw new MigrationError(
        "Cannot migrate: another process replaced the checkpoint while it was opened; try again",
      );
    }
    run = await migrator.migrate(checkpoint, options.log);
  } catch (error) {
    checkpoint.close();
    throw error;
  }
  const { plan, executed } = run;
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
    // Users torch.load(weights_only=False) what migrate writes.
    checkPickle(checkpoint.pickleBytes, "migrate", {
      policy: options.policy,
      strict: options.strictGlobals,
      allowDangerous: options.allowDangerousGlobals,
    });
    const saveOptions = {
      verify: options.verify,
      onProgress: options.onProgress,
      lockTimeoutMs: options.lockTimeoutMs,
    };
    // --out naming the input itself (by any path: a link, `..`) is an
    // in-place migration, with a backup.
    const out = options.out === undefined ? undefined : await resolveOut(options.out);
    if (out !== undefined && !sameFile(out.existing, lock?.info)) {
      await checkpoint.save(options.out!, saveOptions);
      report.output = options.out;
      return report;
    }
    // A symlink (such as Lightning's last.ckpt) is migrated through: the file
    // it names is backed up beside itself and replaced, and the link stays.
    const target = lock!.path;
    let backup: PendingBackup;
    try {
      backup = await pendingBackup(target, backupPath(target, plan.registered));
    } catch (error) {
      const why = error instanceof CkptkitError
        ? error.message
        : `Cannot back up the checkpoint: ${reason(error)}`;
      throw new MigrationError(`${why}; the original is unchanged`, { cause: error });
    }
    let failure: unknown;
    try {
      await checkpoint.save(target, saveOptions);
    } catch (error) {
      failure = error;
    }
    // Named when the original left its path (migrated, or replaced by
    // another process meanwhile: then both are kept), removed otherwise.
    report.backup = await backup.finish();
    if (failure !== undefined) {
      if (report.backup === undefined || !(failure instanceof CkptkitError)) throw failure;
      throw new MigrationError(
        `${failure.message}; the checkpoint that was read is kept as ${basename(report.backup)}`,
        { cause: failure },
      );
    }
    report.output = path;
    return report;
  } finally {
    checkpoint.close();
  }
}

/** Where `--out` writes, or a one-line error for a path that cannot be written. */
async function resolveOut(out: string): Promise<SaveTarget> {
  try {
    return await resolveSaveTarget(out);
  } catch (error) {
    throw saveError(error, false);
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
  /** What a scan of its data.pkl found: Python runs dangerous globals when it loads the file. */
  globals: PickleSummary;
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
  options: {
    migrations: readonly Migration[] | Migrator;
    policy?: ScanPolicy;
    /** For a URL: how long each range request may take, in milliseconds (default 30 s). */
    timeoutMs?: number;
  },
): Promise<InspectReport> {
  const migrator = options.migrations instanceof Migrator
    ? options.migrations
    : new Migrator(options.migrations);
  const checkpoint = await Checkpoint.open(path, { timeoutMs: options.timeoutMs });
  let plan: MigrationPlan;
  let globals: PickleSummary;
  try {
    plan = migrator.plan(checkpoint.root);
    globals = summarizeScan(
      scanPickle(checkpoint.pickleBytes, { policy: options.policy ?? ScanPolicy.default }),
    );
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
    globals,
  };
}

function summary(migration: Migration): MigrationSummary {
  return { name: migration.name, version: migration.version };
}

function registeredSummary(migration: RegisteredMigration): MigrationSummary {
  return { name: migration.name, version: migration.version };
}
