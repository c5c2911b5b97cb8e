/**
 * The migration records a checkpoint carries, read and written the way
 * anemoi-models pickles them: `ckpt["migrations"]`, a list of
 * `{name, metadata, signature}` whose metadata is a `MigrationMetadata`
 * dataclass, and `hyper_parameters.metadata.migrations.history`.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";
import type { CkptType, Migration, MigrationMetadata } from "./migration.ts";
import { MigrationError } from "./migration_error.ts";

/** The class anemoi-models pickles a registered migration's metadata as. */
export const MIGRATION_METADATA_CLASS: PyGlobal = PyGlobal.of(
  "anemoi.models.migrations.migrator",
  "MigrationMetadata",
);

/**
 * A migration registered in a checkpoint.
 */
export interface RegisteredMigration {
  /** The migration's name. */
  name: string;
  /** Its anemoi-models version, when the metadata says. */
  version: string | undefined;
  /** Whether its metadata marks it final. */
  final: boolean;
  /** The signature it was registered with, when present. */
  signature: string | undefined;
}

/**
 * The migrations registered in `root["migrations"]`, or `undefined` when the
 * key is absent (a checkpoint older than the migration system). Entries may
 * hold their metadata as a `MigrationMetadata` object or as a plain dict.
 *
 * @example Read the registered migrations
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, registeredMigrations } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/migration_after_foo.ckpt");
 * const registered = registeredMigrations(ckpt.root)!;
 * assert.deepEqual(registered.map((m) => m.name), ["1750840837_add_foo"]);
 * ckpt.close();
 * ```
 */
export function registeredMigrations(root: unknown): RegisteredMigration[] | undefined {
  if (!(root instanceof PyDict) || !root.has("migrations")) return undefined;
  const list = root.get("migrations");
  if (!Array.isArray(list)) {
    throw new MigrationError("Cannot read registered migrations: 'migrations' is not a list");
  }
  return list.map((entry, index) => {
    const name = entry instanceof PyDict ? entry.get("name") : undefined;
    if (typeof name !== "string") {
      throw new MigrationError(`Cannot read registered migrations: entry ${index} has no name`);
    }
    const metadata = readMigrationMetadata(entry.get("metadata"));
    const signature = entry.get("signature");
    return {
      name,
      version: metadata?.versions["anemoi-models"],
      final: metadata?.final ?? false,
      signature: typeof signature === "string" ? signature : undefined,
    };
  });
}

/**
 * Reads a registered migration's metadata: a `MigrationMetadata` object
 * (its BUILD state) or a plain dict. `undefined` when it is neither.
 *
 * @example Both forms read the same
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrationMetadataObject, PyDict, readMigrationMetadata } from "../../mod.ts";
 *
 * const metadata = { versions: { migration: "1.0.0", "anemoi-models": "0.9.0" }, final: true };
 * const plain = new PyDict<string, unknown>([
 *   ["versions", PyDict.fromObject(metadata.versions)],
 *   ["final", true],
 * ]);
 * assert.deepEqual(readMigrationMetadata(plain), metadata);
 * assert.deepEqual(readMigrationMetadata(migrationMetadataObject(metadata)), metadata);
 * ```
 */
export function readMigrationMetadata(
  value: unknown,
): { versions: Record<string, string>; final: boolean } | undefined {
  let fields: unknown = value;
  if (value instanceof PyObject && value.state instanceof PyDict) fields = value.state;
  if (!(fields instanceof PyDict)) return undefined;
  const versions: Record<string, string> = {};
  const raw = fields.get("versions");
  if (raw instanceof PyDict) {
    for (const [key, version] of raw) {
      if (typeof key === "string" && typeof version === "string") versions[key] = version;
    }
  }
  return { versions, final: fields.get("final") === true };
}

/**
 * The `MigrationMetadata` object anemoi-models pickles: NEWOBJ of the
 * dataclass with no arguments, then BUILD of `{versions, final}`.
 *
 * @example The object anemoi-models writes
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrationMetadataObject, PyDict } from "../../mod.ts";
 *
 * const object = migrationMetadataObject({
 *   versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
 * });
 * assert.equal(object.className, "anemoi.models.migrations.migrator.MigrationMetadata");
 * assert.equal(object.how, "newobj");
 * assert.deepEqual([...(object.state as PyDict).keys()], ["versions", "final"]);
 * ```
 */
export function migrationMetadataObject(metadata: MigrationMetadata): PyObject {
  const state = new PyDict<string, unknown>([
    ["versions", new PyDict<string, string>(Object.entries(metadata.versions))],
    ["final", metadata.final === true],
  ]);
  return new PyObject(MIGRATION_METADATA_CLASS, Tuple.of(), "newobj", state);
}

/**
 * The history list `hyper_parameters.metadata.migrations.history`, created
 * when `migrations` or `history` is absent, as anemoi-models does before it
 * runs migrations. anemoi-models fails with a `KeyError` when
 * `hyper_parameters` or its `metadata` is missing; ckptkit refuses then,
 * rather than invent the levels that a Lightning module's constructor would
 * receive as arguments.
 */
export function migrationHistory(root: CkptType): unknown[] {
  const hyperParameters = root.get("hyper_parameters");
  if (!(hyperParameters instanceof PyDict)) {
    throw new MigrationError(
      `Cannot record migration history: the checkpoint has ${
        hyperParameters === undefined ? "no" : "a non-dict"
      } 'hyper_parameters'`,
    );
  }
  const metadata = hyperParameters.get("metadata");
  if (!(metadata instanceof PyDict)) {
    throw new MigrationError(
      `Cannot record migration history: hyper_parameters has ${
        metadata === undefined ? "no" : "a non-dict"
      } 'metadata'`,
    );
  }
  const migrations = metadata.setdefault("migrations", new PyDict());
  if (!(migrations instanceof PyDict)) {
    throw new MigrationError(
      "Cannot record migration history: hyper_parameters.metadata['migrations'] is not a dict",
    );
  }
  const history = migrations.setdefault("history", []);
  if (!Array.isArray(history)) {
    throw new MigrationError(
      "Cannot record migration history: hyper_parameters.metadata.migrations.history is not a list",
    );
  }
  return history;
}

/**
 * The history entries already in the checkpoint, without creating anything:
 * `[name, signature]` pairs of the entries that have both as strings.
 */
export function historySignatures(root: unknown): Array<[string, string]> {
  let node: unknown = root;
  for (const key of ["hyper_parameters", "metadata", "migrations", "history"]) {
    node = node instanceof PyDict ? node.get(key) : undefined;
  }
  if (!Array.isArray(node)) return [];
  const pairs: Array<[string, string]> = [];
  for (const entry of node) {
    if (!(entry instanceof PyDict)) continue;
    const name = entry.get("name");
    const signature = entry.get("signature");
    if (typeof name === "string" && typeof signature === "string") pairs.push([name, signature]);
  }
  return pairs;
}

/**
 * Records that `migration` ran, exactly as anemoi-models does: appends
 * `{name, metadata, signature}` to `root["migrations"]` and
 * `{type: "migrate", name, signature}` to the history.
 */
export function registerMigration(root: CkptType, migration: Migration): void {
  const list = root.get("migrations");
  if (!Array.isArray(list)) {
    throw new MigrationError(
      `Cannot register migration ${migration.name}: the checkpoint's 'migrations' is not a list`,
    );
  }
  list.push(
    new PyDict<string, unknown>([
      ["name", migration.name],
      ["metadata", migrationMetadataObject(migration.metadata)],
      ["signature", migration.signature],
    ]),
  );
  migrationHistory(root).push(
    new PyDict<string, unknown>([
      ["type", "migrate"],
      ["name", migration.name],
      ["signature", migration.signature],
    ]),
  );
}
