/**
 * Migration scripts and the migrations loaded from them.
 *
 * @module
 */

import type { PyDict } from "../pickle/py_dict.ts";
import type { MigrationContext } from "./migration_context.ts";
import { MigrationError } from "./migration_error.ts";

/**
 * A training checkpoint's root: the dict `torch.load` returns. Migration
 * code reads and edits it in place (see {@linkcode PyDict}).
 */
export type CkptType = PyDict<string, unknown>;

/** The versions a migration script records, as anemoi-models' `MigrationVersions`. */
export interface MigrationVersions {
  /** Version of the migration script format; `"1.0.0"`. */
  migration: string;
  /** The anemoi-models release that carries the change. */
  "anemoi-models": string;
  /** Other entries are kept as written. */
  [other: string]: string;
}

/**
 * A script's metadata, as anemoi-models' `MigrationMetadata`. Written once by
 * `create`; do not edit it afterwards.
 */
export interface MigrationMetadata {
  /** The migration format and anemoi-models versions. */
  versions: MigrationVersions;
  /** A final migration starts a new compatibility group: older checkpoints cannot pass it. */
  final?: boolean;
}

/**
 * What a migration script module exports. The file is named
 * `<unix-timestamp>_<snake_name>.ts` and the migration's name is its stem.
 *
 * @example A script module
 * ```ts
 * import type { CkptType, MigrationContext, MigrationScript } from "../../mod.ts";
 *
 * export const metadata = { versions: { migration: "1.0.0", "anemoi-models": "0.9.0" } };
 *
 * export function migrateSetup(context: MigrationContext): void {
 *   context.moveModule("anemoi.models.schemas.data_processor", "anemoi.models.schemas.data");
 * }
 *
 * export function migrate(ckpt: CkptType): CkptType {
 *   const stateDict = ckpt.getItem("state_dict") as CkptType;
 *   stateDict.set("model.y", stateDict.pop("model.x"));
 *   return ckpt;
 * }
 *
 * const script: MigrationScript = { metadata, migrateSetup, migrate };
 * void script;
 * ```
 */
export interface MigrationScript {
  /** The script's metadata. */
  readonly metadata: MigrationMetadata;
  /** Receives the old checkpoint's root and returns the migrated one. Final migrations have none. */
  readonly migrate?: (ckpt: CkptType) => CkptType | Promise<CkptType>;
  /** Runs before the checkpoint is decoded, to redirect moved or deleted classes. */
  readonly migrateSetup?: (context: MigrationContext) => void;
  /**
   * For a port of an anemoi-models script: the upstream signature (sha256 of
   * the Python script's AST dump), written into checkpoints in place of this
   * script's own digest so anemoi-models sees its script as unchanged.
   */
  readonly pinnedSignature?: string;
}

/**
 * A loaded migration: a script with its name and signatures.
 */
export interface Migration {
  /** The script's file stem, `<timestamp>_<name>`. */
  readonly name: string;
  /** The script's metadata. */
  readonly metadata: MigrationMetadata;
  /** The anemoi-models version of the metadata. */
  readonly version: string;
  /** Whether the migration is final. */
  readonly final: boolean;
  /** The signature written into checkpoints: the pinned upstream one, else {@linkcode digest}. */
  readonly signature: string;
  /** The digest of this script's source (see {@linkcode scriptDigest}). */
  readonly digest: string;
  /** The migrate callback, absent for final migrations. */
  readonly migrate?: (ckpt: CkptType) => CkptType | Promise<CkptType>;
  /** The setup callback, when the script has one. */
  readonly migrateSetup?: (context: MigrationContext) => void;
}

const NAME = /^\d+_\w+$/;

/**
 * Checks a script module and turns it into a {@linkcode Migration}.
 * `digest` is the script's source digest. Throws {@linkcode MigrationError}
 * when the metadata is missing or malformed (anemoi's `IncompleteMigrationScript`).
 *
 * @example Load a migration from a script
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CkptType, loadMigration } from "../../mod.ts";
 *
 * const migration = loadMigration("1750840837_add_foo", {
 *   metadata: { versions: { migration: "1.0.0", "anemoi-models": "0.8.1" } },
 *   migrate: (ckpt: CkptType) => ckpt.set("foo", "foo"),
 * }, "0".repeat(64));
 * assert.equal(migration.version, "0.8.1");
 * assert.equal(migration.final, false);
 * ```
 */
export function loadMigration(name: string, script: unknown, digest: string): Migration {
  if (!NAME.test(name)) {
    throw new MigrationError(
      `Cannot load migration ${name}: the name must be <unix-timestamp>_<snake_name>`,
    );
  }
  const module = script as Partial<Record<keyof MigrationScript, unknown>> | null;
  const metadata = module?.metadata as MigrationMetadata | undefined;
  const versions = metadata?.versions;
  if (
    typeof versions !== "object" || versions === null ||
    typeof versions.migration !== "string" || typeof versions["anemoi-models"] !== "string"
  ) {
    throw new MigrationError(
      `Cannot load migration ${name}: the script is missing metadata.versions (migration, anemoi-models)`,
    );
  }
  if (metadata!.final !== undefined && typeof metadata!.final !== "boolean") {
    throw new MigrationError(`Cannot load migration ${name}: metadata.final must be a boolean`);
  }
  for (const key of ["migrate", "migrateSetup"] as const) {
    if (module![key] !== undefined && typeof module![key] !== "function") {
      throw new MigrationError(`Cannot load migration ${name}: ${key} must be a function`);
    }
  }
  const pinned = module!.pinnedSignature;
  if (pinned !== undefined && (typeof pinned !== "string" || !/^[0-9a-f]{64}$/.test(pinned))) {
    throw new MigrationError(
      `Cannot load migration ${name}: pinnedSignature must be 64 lowercase hex digits`,
    );
  }
  return {
    name,
    metadata: metadata!,
    version: versions["anemoi-models"],
    final: metadata!.final === true,
    signature: (pinned as string | undefined) ?? digest,
    digest,
    migrate: module!.migrate as Migration["migrate"],
    migrateSetup: module!.migrateSetup as Migration["migrateSetup"],
  };
}
