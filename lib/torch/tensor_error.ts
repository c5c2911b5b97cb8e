/**
 * The error of a tensor operation that torch would refuse, or that ckptkit
 * does not do.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";

/**
 * A tensor helper refused its arguments. The message is one line,
 * `"Cannot <operation>: <reason>"`; where torch refuses the same call,
 * `reason` is torch's own text and `torchError` the Python exception class
 * torch raises.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Tensor, TensorError } from "../../mod.ts";
 *
 * const t = Tensor.zeros([2, 3]);
 * assert.throws(() => t.select(0, 5), (error) => {
 *   assert.ok(error instanceof TensorError);
 *   assert.equal(error.torchError, "IndexError");
 *   assert.equal(
 *     error.message,
 *     "Cannot select from tensor: select(): index 5 out of range for tensor of size [2, 3] at dimension 0",
 *   );
 *   return true;
 * });
 * ```
 */
export class TensorError extends CkptkitError {
  /** The operation, e.g. `"narrow tensor"`. */
  readonly operation: string;
  /** Why: torch's message where torch refuses the same call. */
  readonly reason: string;
  /** The Python exception torch raises for the same call; `undefined` where torch would not refuse. */
  readonly torchError: "IndexError" | "RuntimeError" | undefined;

  /** Creates the error for `operation` (`"narrow tensor"`) refused for `reason`. */
  constructor(
    operation: string,
    reason: string,
    torchError?: "IndexError" | "RuntimeError",
  ) {
    super(`Cannot ${operation}: ${reason}`);
    this.name = "TensorError";
    this.operation = operation;
    this.reason = reason;
    this.torchError = torchError;
  }
}
