/**
 * Errors of the migration engine.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";

/**
 * A migration could not be loaded, resolved or run: a script without
 * metadata, a script that throws or returns nothing, moves that form a cycle.
 *
 * @example Catch any migration failure
 * ```ts
 * import assert from "node:assert/strict";
 * import { MigrationContext, MigrationError } from "../../mod.ts";
 *
 * assert.throws(() => new MigrationContext().moveAttribute("NoDot", "pkg.B"), MigrationError);
 * ```
 */
export class MigrationError extends CkptkitError {
  /** Creates the error with a `"Cannot <action>: <state>"` message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MigrationError";
  }
}

/**
 * Why a checkpoint cannot be migrated, as anemoi-models decides it:
 * - `"not-training"`: no `pytorch-lightning_version` (an inference checkpoint);
 * - `"too-old"`: registered in an older compatibility group than the last one;
 * - `"incompatible"`: no `migrations` key, or a first registered migration
 *   that starts no compatibility group (anemoi-models: "Checkpoint is not
 *   compatible");
 * - `"extra"`: registered migrations that these scripts do not have at
 *   their positions;
 * - `"not-executable"`: a migration it needs has no `migrate` function.
 */
export type IncompatibleReason =
  | "not-training"
  | "too-old"
  | "incompatible"
  | "extra"
  | "not-executable";

/**
 * The checkpoint cannot be migrated with these migrations, as anemoi-models'
 * `IncompatibleCheckpointException`.
 *
 * @example Tell the reasons apart
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, IncompatibleCheckpointError, Migrator } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/state_dict.ckpt");
 * try {
 *   new Migrator([]).plan(ckpt.root);
 *   assert.fail("a state_dict is not a training checkpoint");
 * } catch (error) {
 *   assert.ok(error instanceof IncompatibleCheckpointError);
 *   assert.equal(error.reason, "not-training");
 * } finally {
 *   ckpt.close();
 * }
 * ```
 */
export class IncompatibleCheckpointError extends MigrationError {
  /** Why the checkpoint cannot be migrated. */
  readonly reason: IncompatibleReason;
  /** Creates the error for `reason`. */
  constructor(reason: IncompatibleReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IncompatibleCheckpointError";
    this.reason = reason;
  }
}
