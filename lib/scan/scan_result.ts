/**
 * What a scan reports: every global a pickle makes Python import, rated,
 * and every structural finding, with one verdict over them.
 *
 * @module
 */

import type { Rating } from "./policy.ts";

/** How Python loads a pickle, which decides how some of its opcodes resolve. */
export type Loader =
  /** torch.load of a zip checkpoint's data.pkl: torch's find_class and persistent_load. */
  | "torch"
  /** torch.load's main pickle of a legacy (pre-1.6) file. */
  | "torch-legacy"
  /** pickle.load: no persistent_load, Python 2 strings decoded as ASCII. */
  | "plain";

/**
 * The verdict over a whole pickle or file: `"clean"` when every global is
 * allowed and used as its entry allows and nothing else was found,
 * `"dangerous"` when anything dangerous was, `"unknown"` otherwise.
 */
export type Verdict = "clean" | "unknown" | "dangerous";

/** A global the pickle makes the unpickler look up, with every place it does. */
export interface GlobalReference {
  /** Module, as Python imports it (Python 3 spelling). */
  module: string;
  /** Qualified name inside the module; dotted for nested names. */
  name: string;
  /** `module.name`. */
  path: string;
  /** How the pickle spells it when that differs (`__builtin__.set`, `torch.tensor...`). */
  spelling: string | undefined;
  /** Its rating, made worse by any use its allowlist entry does not allow. */
  rating: Rating;
  /** Why it has that rating. */
  reason: string;
  /** The list the rating comes from, e.g. `"picklescan, fickling"`. */
  source: string | undefined;
  /** Number of lookups. */
  count: number;
  /** Offsets of the first few opcodes that look it up. */
  offsets: number[];
}

/** Something about the pickle's structure: how it uses globals, frames, errors. */
export interface Finding {
  /** `"dangerous"` or `"unknown"`. */
  rating: Exclude<Rating, "allowed">;
  /** Offset of the opcode. */
  offset: number;
  /** What was found, in one line. */
  message: string;
}

/** Bytes handed to a function that unpickles them when Python loads the pickle. */
export interface NestedPickle {
  /** Offset of the first opcode that makes the call. */
  offset: number;
  /** Number of calls that load this same payload (shared through the memo). */
  count: number;
  /** The loading function, e.g. `pickle.loads`. */
  loader: string;
  /** Size of the payload. */
  size: number;
  /** What the payload is. */
  kind: "pickle" | "zip" | "npy" | "unknown";
  /** The scan of the payload, when it is a pickle or an .npy object array. */
  scan: ScanResult | undefined;
}

/** What a scan of one pickle stream found. */
export interface ScanResult {
  /** The worst of every global's rating and every finding. */
  verdict: Verdict;
  /** Every global, in order of first lookup. */
  globals: GlobalReference[];
  /** Structural findings, in order. */
  findings: Finding[];
  /** Payloads handed to unpickling functions. */
  nested: NestedPickle[];
  /**
   * Why CPython's unpickler stops before STOP, when it does; everything
   * before that point runs, so the findings before it stand.
   */
  error: string | undefined;
  /** Offset just after the first pickle's STOP, or undefined when it has none. */
  end: number | undefined;
}
