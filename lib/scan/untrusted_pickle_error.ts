/**
 * The error commands that write checkpoints raise when the pickle they
 * would write is not trusted.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";
import type { Verdict } from "./scan_result.ts";

/**
 * A pickle refused because loading it would run dangerous code (or, when
 * unknown globals are refused too, code nobody vetted).
 */
export class UntrustedPickleError extends CkptkitError {
  /** `"dangerous"` or `"unknown"`. */
  readonly verdict: Exclude<Verdict, "clean">;
  /** The globals that made it so, e.g. `["os.system"]`; empty when structural findings did. */
  readonly globals: string[];
  /** Creates the error. */
  constructor(
    message: string,
    verdict: Exclude<Verdict, "clean">,
    globals: string[],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "UntrustedPickleError";
    this.verdict = verdict;
    this.globals = globals;
  }
}
