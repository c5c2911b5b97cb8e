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
 * import { castElements, dtype, TensorError } from "../../mod.ts";
 *
 * assert.throws(
 *   () => castElements(new Uint8Array(8), dtype("complex64")!, dtype("float32")!),
 *   (error) => error instanceof TensorError && error.torchError === undefined,
 * );
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
