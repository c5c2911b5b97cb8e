/**
 * The error of weights that cannot be extracted as asked.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";

/**
 * Weights cannot be extracted: the source holds no state_dict, a module
 * whose state_dict only its code could make (hooks, quantized classes), a
 * key or dtype the output format cannot hold.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExtractError, moduleStateDict } from "../../mod.ts";
 * assert.throws(() => moduleStateDict("not a module"), ExtractError);
 * ```
 */
export class ExtractError extends CkptkitError {
  /** Creates the error with a `"Cannot <action>: <state>"` message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ExtractError";
  }
}
