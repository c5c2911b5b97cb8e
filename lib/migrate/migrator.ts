/**
 * Which migrations a checkpoint needs, and running them: compatibility
 * groups, resolution and registration as anemoi-models' migrator does.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import type { PyGlobal } from "../pickle/py_global.ts";
import { Checkpoint } from "../torch/checkpoint.ts";
import type { CkptType, Migration } from "./migration.ts";
import { MigrationContext } from "./migration_context.ts";
import { IncompatibleCheckpointError, MigrationError } from "./migration_error.ts";
import {
  historySignatures,
  migrationHistory,
  type RegisteredMigration,
  registeredMigrations,
  registerMigration,
} from "./registration.ts";

/**
 * Where a checkpoint stands: `"up-to-date"`, `"pending"` (migrations to
 * run), `"too-old"` (it cannot be migrated past its compatibility group) or
 * `"extra"` (it registers migrations unknown to this list).
 */
export type MigrationStatus = "up-to-date" | "pending" | "too-old" | "extra";

/**
 * What {@linkcode Migrator.plan} found for a checkpoint.
 *
 * @example Plan a checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, loadMigrationsFromDir, Migrator } from "../../mod.ts";
 *
 * const migrator = new Migrator(await loadMigrationsFromDir("tests/migrations/first_group"));
 * const ckpt = await Checkpoint.open("tests/fixtures/migration_after_foo.ckpt");
 * const plan = migrator.plan(ckpt.root);
 * ckpt.close();
 * assert.equal(plan.status, "pending");
 * assert.deepEqual(plan.missing.map((m) => m.name), [
 *   "1750841219_add_bar",
 *   "1750859824_add_baz",
 *   "1750859905_rename_baz",
 * ]);
 * ```
 */
export interface MigrationPlan {
  /** The outcome. */
  status: MigrationStatus;
  /** The migrations registered in the checkpoint, in order. */
  registered: RegisteredMigration[];
  /** The migrations to run, in order (empty unless `"pending"`). */
  missing: Migration[];
  /** Registered names this list does not have in the checkpoint's group. */
  extra: string[];
  /** Index of the checkpoint's compatibility group, when known. */
  group: number | undefined;
  /**
   * For `"too-old"`: the first anemoi-models version the checkpoint is not
   * compatible with (use an older one), when known.
   */
  firstIncompatibleVersion: string | undefined;
  /** Registered migrations whose script changed since they ran (from the history signatures). */
  changed: string[];
}

/** What {@linkcode Migrator.run} did. */
export interface MigrationRun {
  /** The checkpoint, open, with the migrated root; save or close it. */
  checkpoint: Checkpoint;
  /** The plan it followed. */
  plan: MigrationPlan;
  /** The migrations that ran, in order. */
  executed: Migration[];
  /** Globals the setup callbacks redirected: original path to new global. */
  redirected: Map<string, PyGlobal>;
}

/** Receives the engine's messages; every method is optional. */
export interface MigrationLog {
  /** Details: each redirected global. */
  debug?(message: string): void;
  /** Progress: each migration as it runs. */
  info?(message: string): void;
  /** Things the user should know: scripts changed since they ran. */
  warn?(message: string): void;
}

/**
 * Applies an ordered list of migrations. Final migrations split the list
 * into compatibility groups; a checkpoint's group is found from the first
 * migration it registers (none: the first group), and only checkpoints of
 * the last group can be migrated.
 *
 * @example Migrate a checkpoint and save it
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, loadMigrationsFromDir, Migrator, type CkptType } from "../../mod.ts";
 *
 * const migrator = new Migrator(await loadMigrationsFromDir("tests/migrations/first_group"));
 * const run = await migrator.run("tests/fixtures/migration_empty.ckpt");
 * assert.equal(run.executed.length, 4);
 * const out = await Deno.makeTempFile({ suffix: ".ckpt" });
 * await run.checkpoint.save(out);
 * run.checkpoint.close();
 *
 * const saved = await Checkpoint.open(out);
 * assert.equal((saved.root as CkptType).get("test"), "baz");
 * saved.close();
 * await Deno.remove(out);
 * ```
 */
export class Migrator {
  /** The migrations, split into compatibility groups by final migrations. */
  readonly groups: readonly (readonly Migration[])[];

  /** Creates a migrator for `migrations`, in execution order. */
  constructor(migrations: readonly Migration[]) {
    const names = new Set<string>();
    const groups: Migration[][] = [];
    let current: Migration[] = [];
    for (const migration of migrations) {
      if (names.has(migration.name)) {
        throw new MigrationError(`Cannot load migrations: ${migration.name} appears twice`);
      }
      names.add(migration.name);
      if (migration.final) {
        groups.push(current);
        current = [];
      }
      current.push(migration);
    }
    groups.push(current);
    this.groups = groups;
  }

  /** Every migration, in order. */
  get migrations(): Migration[] {
    return this.groups.flat();
  }

  /**
   * Works out what `root` (a decoded checkpoint) needs. Throws
   * {@linkcode IncompatibleCheckpointError} with reason `"not-training"`
   * when it is not a training checkpoint; the other outcomes are statuses.
   */
  plan(root: unknown): MigrationPlan {
    if (!(root instanceof PyDict) || !root.has("pytorch-lightning_version")) {
      throw new IncompatibleCheckpointError(
        "not-training",
        "Cannot migrate: only training checkpoints can be migrated (no 'pytorch-lightning_version'); " +
          "migrate the training checkpoint, then regenerate the inference checkpoint from it " +
          "with `anemoi-training checkpoint inference`",
      );
    }
    const scripts = new Map(this.migrations.map((m) => [m.name, m]));
    const registered = registeredMigrations(root)?.map((m) => ({
      ...m,
      version: m.version ?? scripts.get(m.name)?.version,
    }));
    const plan: MigrationPlan = {
      status: "too-old",
      registered: registered ?? [],
      missing: [],
      extra: [],
      group: undefined,
      firstIncompatibleVersion: undefined,
      changed: [],
    };
    const last = this.groups.length - 1;
    if (registered === undefined) {
      plan.firstIncompatibleVersion = this.migrations[0]?.version;
      return plan;
    }
    let group = 0;
    if (registered.length > 0) {
      const first = registered[0].name;
      group = this.groups.findIndex((g) => g[0]?.name === first);
      if (group < 0) group = this.groups.findIndex((g) => g.some((m) => m.name === first));
    }
    if (group < 0) {
      const known = new Set(this.migrations.map((m) => m.name));
      plan.extra = registered.map((m) => m.name).filter((name) => !known.has(name));
      plan.status = "extra";
      return plan;
    }
    plan.group = group;
    if (group < last) {
      plan.firstIncompatibleVersion = this.groups[group + 1][0].version;
      return plan;
    }
    const migrations = this.groups[last];
    const inGroup = new Set(migrations.map((m) => m.name));
    const done = new Set(registered.map((m) => m.name));
    plan.extra = registered.map((m) => m.name).filter((name) => !inGroup.has(name));
    if (plan.extra.length > 0) {
      plan.status = "extra";
      return plan;
    }
    const digests = new Map(migrations.map((m) => [m.name, m]));
    for (const [name, signature] of historySignatures(root)) {
      const migration = digests.get(name);
      if (migration === undefined || plan.changed.includes(name)) continue;
      if (signature !== migration.signature && signature !== migration.digest) {
        plan.changed.push(name);
      }
    }
    plan.missing = migrations.filter((m) => !done.has(m.name));
    plan.status = plan.missing.length > 0 ? "pending" : "up-to-date";
    return plan;
  }

  /**
   * Opens the checkpoint at `path`, runs the missing migrations on it and
   * returns it open, unsaved. The setups of all missing migrations run
   * together before the one decode that applies their redirects. Throws
   * {@linkcode IncompatibleCheckpointError} when the checkpoint is too old,
   * has extra migrations or is not a training checkpoint.
   */
  async run(path: string, log: MigrationLog = {}): Promise<MigrationRun> {
    let checkpoint = await Checkpoint.open(path);
    try {
      const plan = this.plan(checkpoint.root);
      this.#refuse(plan);
      for (const name of plan.changed) {
        log.warn?.(
          `Your checkpoint has executed migration ${name}, but the script has changed. ` +
            "Re-run the migrations if possible to use the new updated script.",
        );
      }
      const redirected = new Map<string, PyGlobal>();
      if (plan.missing.length === 0) return { checkpoint, plan, executed: [], redirected };

      const context = new MigrationContext();
      for (const migration of plan.missing) {
        try {
          migration.migrateSetup?.(context);
        } catch (error) {
          throw new MigrationError(
            `Cannot run the setup of migration ${migration.name}: ${messageOf(error)}`,
            { cause: error },
          );
        }
      }
      if (!context.isEmpty) {
        // Decode again, now resolving moved and deleted globals.
        checkpoint.close();
        const findGlobal = context.findGlobal((from, to) => {
          redirected.set(from, to);
          log.debug?.(`redirect ${from} -> ${to.path}`);
        });
        checkpoint = await Checkpoint.open(path, { findGlobal });
      }

      let root = checkpoint.root as CkptType;
      migrationHistory(root); // created before any migration runs, as anemoi does
      for (const migration of plan.missing) {
        if (migration.migrate === undefined) {
          throw new MigrationError(
            `Cannot run migration ${migration.name}: it has no migrate function`,
          );
        }
        log.info?.(`running ${migration.name}`);
        let result: unknown;
        try {
          result = await migration.migrate(root);
        } catch (error) {
          throw new MigrationError(
            `Cannot run migration ${migration.name}: ${messageOf(error)}`,
            { cause: error },
          );
        }
        if (!(result instanceof PyDict)) {
          throw new MigrationError(
            `Cannot run migration ${migration.name}: migrate returned ${
              result === undefined ? "nothing" : "a non-dict"
            } (it must return the checkpoint)`,
          );
        }
        root = result as CkptType;
        registerMigration(root, migration);
      }
      checkpoint.root = root;
      return { checkpoint, plan, executed: plan.missing, redirected };
    } catch (error) {
      checkpoint.close();
      throw error;
    }
  }

  #refuse(plan: MigrationPlan): void {
    if (plan.status === "too-old") {
      const hint = plan.firstIncompatibleVersion === undefined
        ? ""
        : `; use a version of anemoi-models < ${plan.firstIncompatibleVersion}`;
      throw new IncompatibleCheckpointError(
        "too-old",
        `Cannot migrate: no compatible migration available, the checkpoint is too old${hint}`,
      );
    }
    if (plan.status === "extra") {
      throw new IncompatibleCheckpointError(
        "extra",
        `Cannot migrate: the checkpoint registers migrations these scripts do not have: ${
          plan.extra.join(", ")
        }`,
      );
    }
  }
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}
