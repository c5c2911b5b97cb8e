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
 * Where a checkpoint stands, as anemoi-models' `inspect` and `sync` see it:
 * `"up-to-date"`, `"pending"` (migrations to run), `"too-old"` (registered in
 * an older compatibility group), `"incompatible"` (no `migrations` key, or a
 * first registered migration that starts no group) or `"extra"` (registered
 * migrations these scripts do not have at their positions).
 */
export type MigrationStatus = "up-to-date" | "pending" | "too-old" | "incompatible" | "extra";

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
  /** The migrations registered in the checkpoint, in order (extra ones included). */
  registered: RegisteredMigration[];
  /**
   * The migrations to run, in order: for `"pending"`, and for `"extra"`,
   * where anemoi-models lists them too but refuses to run them.
   */
  missing: Migration[];
  /** Registered names that are extra, from the last registered backwards, as anemoi-models lists them. */
  extra: string[];
  /** Index of the checkpoint's compatibility group, when known. */
  group: number | undefined;
  /**
   * For `"too-old"`: the first anemoi-models version the checkpoint is not
   * compatible with (use an older one).
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
 * Applies an ordered list of migrations, resolving them exactly as
 * anemoi-models' `Migrator` does. Final migrations split the list into
 * compatibility groups. A checkpoint can be migrated only when it belongs to
 * the last group: its first registered migration is that group's first (or
 * it registers none and there is one group). Its registered list is then
 * compared position by position with the group's scripts: from the end
 * backwards, registered names that differ from the script at their position
 * are extra (and refused); going forwards, every script that differs from
 * the registered name at its position runs, in order.
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
   * when it is not a training checkpoint, and `"not-executable"` when a
   * migration it needs has no `migrate` function; the other outcomes are
   * statuses.
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
      status: "incompatible",
      registered: registered ?? [],
      missing: [],
      extra: [],
      group: undefined,
      firstIncompatibleVersion: undefined,
      changed: [],
    };
    const last = this.groups.length - 1;
    const group = this.#group(registered);
    plan.group = group;
    if (group === undefined) return plan;
    if (group < last) {
      plan.status = "too-old";
      plan.firstIncompatibleVersion = this.groups[group + 1][0].version;
      return plan;
    }
    const migrations = this.groups[last];
    const signatures = new Map(migrations.map((m) => [m.name, m.signature]));
    for (const [name, signature] of historySignatures(root)) {
      const expected = signatures.get(name);
      if (expected !== undefined && signature !== expected && !plan.changed.includes(name)) {
        plan.changed.push(name);
      }
    }
    const names = registered!.map((m) => m.name);
    // Backwards from the last registered name: each one that is not the
    // script at its position is extra, until one is.
    for (let index = names.length - 1; index >= 0; index--) {
      if (migrations[index]?.name === names[index]) break;
      plan.extra.push(names[index]);
    }
    // Forwards: a script runs unless the registered name at its position,
    // among the names before the extra ones, is its own.
    const matched = names.length - plan.extra.length;
    for (let index = 0; index < migrations.length; index++) {
      const migration = migrations[index];
      if (index < matched && migration.name === names[index]) continue;
      if (migration.migrate === undefined) {
        throw new IncompatibleCheckpointError(
          "not-executable",
          `Cannot migrate: migration ${migration.name} cannot be executed, it has no migrate function`,
        );
      }
      plan.missing.push(migration);
    }
    plan.status = plan.extra.length > 0
      ? "extra"
      : plan.missing.length > 0
      ? "pending"
      : "up-to-date";
    return plan;
  }

  /**
   * The compatibility group of a checkpoint registering `registered`
   * (undefined: no `migrations` key), or undefined when it starts none.
   */
  #group(registered: readonly RegisteredMigration[] | undefined): number | undefined {
    if (registered === undefined) return undefined;
    if (registered.length === 0) return 0;
    const first = registered[0].name;
    // The last group first: a checkpoint of it is compatible.
    for (let k = this.groups.length - 1; k >= 0; k--) {
      if (this.groups[k][0]?.name === first) return k;
    }
    return undefined;
  }

  /**
   * Opens the checkpoint at `path` and migrates it (see
   * {@linkcode Migrator.migrate}); the checkpoint is returned open, unsaved.
   */
  async run(path: string, log: MigrationLog = {}): Promise<MigrationRun> {
    const checkpoint = await Checkpoint.open(path);
    try {
      return await this.migrate(checkpoint, log);
    } catch (error) {
      checkpoint.close();
      throw error;
    }
  }

  /**
   * Runs the missing migrations on an open checkpoint: its `root` is
   * replaced by the migrated one, unsaved. The setups of all missing
   * migrations run together; when they redirect a global `data.pkl` names,
   * it is decoded again from the bytes read at open, with the redirects. Throws
   * {@linkcode IncompatibleCheckpointError} when the checkpoint cannot be
   * migrated (see {@linkcode Migrator.plan}).
   */
  async migrate(checkpoint: Checkpoint, log: MigrationLog = {}): Promise<MigrationRun> {
    const plan = this.plan(checkpoint.root);
    const refusal = planRefusal(plan);
    if (refusal !== undefined) throw refusal;
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
    let root = checkpoint.root as CkptType;
    if (!context.isEmpty) {
      const findGlobal = context.findGlobal((from, to) => {
        redirected.set(from, to);
        log.debug?.(`redirect ${from} -> ${to.path}`);
      });
      // Decoding again gives the same graph unless a global data.pkl names
      // is redirected; the hook remembers what it resolved for the decode.
      const moved = checkpoint.globals.filter(([module, name]) =>
        findGlobal(module, name).path !== `${module}.${name}`
      );
      if (moved.length > 0) root = checkpoint.decode({ findGlobal }) as CkptType;
    }
    migrationHistory(root); // checked and created before any migration runs, as anemoi does
    for (const migration of plan.missing) {
      log.info?.(`running ${migration.name}`);
      let result: unknown;
      try {
        result = await migration.migrate!(root);
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
  }
}

/**
 * The error `migrate` refuses a checkpoint of this plan with (one line), or
 * undefined when it can be migrated.
 */
export function planRefusal(plan: MigrationPlan): IncompatibleCheckpointError | undefined {
  switch (plan.status) {
    case "too-old":
      return new IncompatibleCheckpointError(
        "too-old",
        "Cannot migrate: no compatible migration available, the checkpoint is too old; " +
          `use a version of anemoi-models < ${plan.firstIncompatibleVersion}`,
      );
    case "incompatible": {
      const first = plan.registered[0]?.name;
      return new IncompatibleCheckpointError(
        "incompatible",
        first === undefined
          ? "Cannot migrate: the checkpoint is not compatible, it has no 'migrations' key " +
            "(it predates anemoi-models' migrations)"
          : "Cannot migrate: the checkpoint is not compatible, its first registered migration " +
            `${first} starts no compatibility group of these scripts`,
      );
    }
    case "extra":
      return new IncompatibleCheckpointError(
        "extra",
        `Cannot migrate: the checkpoint registers extra migrations: ${plan.extra.join(", ")}`,
      );
    default:
      return undefined;
  }
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}
