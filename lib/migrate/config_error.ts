/**
 * The error of a config edit omegaconf would refuse.
 *
 * @module
 */

import { MigrationError } from "./migration_error.ts";

/** The config edits that can be refused. */
export type ConfigAction = "set" | "pop" | "delete";

/**
 * A {@linkcode Config} edit that omegaconf refuses (a value a typed node
 * cannot convert, a new key in struct mode or in a structured config, a
 * read-only config, ...), with omegaconf's exception class and message; or
 * one ckptkit cannot make faithfully (`pythonError` undefined). Nothing was
 * changed. The message reads `Cannot set training.lr: ValidationError:
 * Value 'oops' of type 'str' could not be converted to Float`.
 *
 * @example Catch a refused assignment
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, Config, ConfigError, type CkptType } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/structured_config.ckpt");
 * const training = Config.of(ckpt.root as CkptType).at("training");
 * try {
 *   training.set("lr", "oops");
 *   assert.fail("a FloatNode refuses 'oops'");
 * } catch (error) {
 *   assert.ok(error instanceof ConfigError);
 *   assert.equal(error.pythonError, "ValidationError");
 *   assert.equal(error.fullKey, "training.lr");
 *   assert.equal(Number(training.get("lr")), 0.001); // unchanged
 * } finally {
 *   ckpt.close();
 * }
 * ```
 */
export class ConfigError extends MigrationError {
  /** What was refused. */
  readonly action: ConfigAction;
  /** omegaconf's full key of the edited entry, from the config's root (`training.lr`). */
  readonly fullKey: string;
  /**
   * omegaconf's exception class (`ValidationError`, `ReadonlyConfigError`,
   * `ConfigAttributeError`, `ConfigTypeError`, `ConfigKeyError`,
   * `ConfigIndexError`, `KeyValidationError`, `UnsupportedValueType`,
   * `GrammarParseError`, `OverflowError`), or undefined when ckptkit
   * cannot make the edit as omegaconf would.
   */
  readonly pythonError: string | undefined;
  /** omegaconf's message without its context lines, or why ckptkit cannot make the edit. */
  readonly pythonMessage: string;

  /**
   * Creates the error; `at` is omegaconf's full key of the node that failed
   * when it is not the edited one (an item of an assigned list).
   */
  constructor(
    action: ConfigAction,
    fullKey: string,
    pythonError: string | undefined,
    pythonMessage: string,
    at?: string,
  ) {
    const where = at !== undefined && at !== fullKey ? ` (full_key: ${at})` : "";
    const what = pythonError === undefined ? pythonMessage : `${pythonError}: ${pythonMessage}`;
    super(`Cannot ${action} ${fullKey || "the config"}: ${what}${where}`);
    this.name = "ConfigError";
    this.action = action;
    this.fullKey = fullKey;
    this.pythonError = pythonError;
    this.pythonMessage = pythonMessage;
  }
}
