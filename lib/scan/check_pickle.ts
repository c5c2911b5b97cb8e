/**
 * The check that `migrate` and `rewrite` run before they write a
 * checkpoint, and the summary `check` and `inspect` print: which globals and
 * findings make a pickle dangerous or unknown.
 *
 * @module
 */

import { ScanPolicy } from "./policy.ts";
import { scanPickle } from "./scan_pickle.ts";
import type { ScanResult, Verdict } from "./scan_result.ts";
import { UntrustedPickleError } from "./untrusted_pickle_error.ts";

/** Options of {@linkcode checkPickle}. */
export interface CheckPickleOptions {
  /** The policy (default: the built-in lists). */
  policy?: ScanPolicy;
  /** Refuse unknown globals too (`--strict-globals`). */
  strict?: boolean;
  /** Accept dangerous globals (`--allow-dangerous-globals`). */
  allowDangerous?: boolean;
}

/** What makes a pickle untrusted, for messages. */
export interface PickleSummary {
  /** The verdict. */
  verdict: Verdict;
  /** Paths of dangerous globals, in this pickle and the payloads it nests. */
  dangerous: string[];
  /** Paths of unknown globals. */
  unknown: string[];
  /** The first dangerous finding, then the first unknown one, for a message when no global is to blame. */
  finding: string | undefined;
}

/**
 * Summarizes a scan: its dangerous and unknown globals, nested payloads
 * included, and its first finding.
 */
export function summarizeScan(result: ScanResult): PickleSummary {
  const dangerous = new Set<string>();
  const unknown = new Set<string>();
  let dangerousFinding: string | undefined;
  let unknownFinding: string | undefined;
  const visit = (r: ScanResult) => {
    for (const g of r.globals) {
      if (g.rating === "dangerous") dangerous.add(g.path);
      else if (g.rating === "unknown") unknown.add(g.path);
    }
    for (const f of r.findings) {
      if (f.rating === "dangerous") dangerousFinding ??= `offset ${f.offset}: ${f.message}`;
      else unknownFinding ??= `offset ${f.offset}: ${f.message}`;
    }
    for (const n of r.nested) if (n.scan !== undefined) visit(n.scan);
  };
  visit(result);
  return {
    verdict: result.verdict,
    dangerous: [...dangerous],
    unknown: [...unknown],
    finding: result.verdict === "dangerous" ? dangerousFinding : unknownFinding,
  };
}

function listed(paths: string[]): string {
  return paths.length > 5 ? `${paths.slice(0, 5).join(", ")}, ...` : paths.join(", ");
}

/**
 * Scans `data.pkl` bytes as torch.load runs them and throws when the
 * result may not be written: dangerous (unless `allowDangerous`), or
 * unknown with `strict`. Returns the scan otherwise.
 *
 * @example Refuse a pickle that calls os.system
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPickle } from "./check_pickle.ts";
 * import { UntrustedPickleError } from "./untrusted_pickle_error.ts";
 *
 * const data = new TextEncoder().encode("cos\nsystem\n(S'echo hi'\ntR.");
 * assert.throws(() => checkPickle(data, "migrate"), UntrustedPickleError);
 * assert.equal(checkPickle(data, "migrate", { allowDangerous: true }).verdict, "dangerous");
 * ```
 *
 * @param data The pickle bytes.
 * @param action The verb for the message: `"migrate"`, `"rewrite"`.
 * @throws {UntrustedPickleError} when the pickle may not be written.
 */
export function checkPickle(
  data: Uint8Array,
  action: string,
  options: CheckPickleOptions = {},
): ScanResult {
  const result = scanPickle(data, { policy: options.policy ?? ScanPolicy.default });
  const summary = summarizeScan(result);
  if (result.verdict === "dangerous" && !options.allowDangerous) {
    const what = summary.dangerous.length > 0
      ? `references dangerous globals (${
        listed(summary.dangerous)
      }) that run code when Python loads it`
      : `is dangerous to load: ${summary.finding}`;
    throw new UntrustedPickleError(
      `Cannot ${action}: data.pkl ${what}; pass --allow-dangerous-globals to ${action} it anyway`,
      "dangerous",
      summary.dangerous,
    );
  }
  if (result.verdict === "unknown" && options.strict) {
    const what = summary.unknown.length > 0
      ? `references globals not on the allowlist (${listed(summary.unknown)})`
      : `cannot be vetted: ${summary.finding}`;
    throw new UntrustedPickleError(
      `Cannot ${action}: data.pkl ${what} and --strict-globals is set; allow them with --allow-global or a --policy file`,
      "unknown",
      summary.unknown,
    );
  }
  return result;
}
