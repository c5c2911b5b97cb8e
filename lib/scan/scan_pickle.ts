/**
 * Scans pickle bytes the way CPython's unpickler runs them, without running
 * anything: every global it would import, rated by the policy, every use of
 * those globals checked against their allowlist entry, and every place where
 * readers disagree about the bytes (frames), or the unpickler stops with an
 * error, reported as a finding.
 *
 * @module
 */

import type { InputMode } from "./_input.ts";
import { runPickle } from "./_machine.ts";
import { readNpyHeader } from "./_npy.ts";
import { Report } from "./_report.ts";
import { ScanPolicy } from "./policy.ts";
import type { Loader, NestedPickle, ScanResult } from "./scan_result.ts";

/** Options of {@linkcode scanPickle}. */
export interface ScanOptions {
  /** The policy to rate globals with (default: the built-in lists). */
  policy?: ScanPolicy;
  /**
   * How Python loads the bytes: `"torch"` (a zip checkpoint's data.pkl under
   * torch.load: its find_class and persistent_load), `"torch-legacy"` (the
   * main pickle of a pre-1.6 file) or `"plain"` (pickle.load). Default `"torch"`.
   */
  loader?: Loader;
  /**
   * `"one"` (default): one pickle, as torch.load runs a data.pkl; anything
   * after its STOP is a finding, and scanned as the pickles a reader of
   * several pickles would run. `"all"`: a file of pickles back to back, as
   * `while True: pickle.load(f)` runs them.
   */
  stream?: "one" | "all";
}

/** Pickles scanned from one stream, at most; a hostile stream could hold millions. */
const MAX_PICKLES = 10_000;
const MAX_DEPTH = 4;

/**
 * Scans a pickle: the globals it makes Python import, rated, the structural
 * findings, and the payloads it hands to other unpicklers (scanned too).
 *
 * @example A pickle that calls `os.system`
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanPickle } from "./scan_pickle.ts";
 *
 * // cos\nsystem\n(S'echo hi'\ntR.
 * const data = new TextEncoder().encode("cos\nsystem\n(S'echo hi'\ntR.");
 * const result = scanPickle(data);
 * assert.equal(result.verdict, "dangerous");
 * assert.equal(result.globals[0].path, "os.system");
 * ```
 *
 * @example Frames read as CPython reads them
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanPickle } from "./scan_pickle.ts";
 *
 * // PROTO 5, FRAME 4 over "cmac", then "os\nsystem\n)R.": a linear reader
 * // sees GLOBAL 'macos system'; CPython over a file reads os.system.
 * const data = new Uint8Array([
 *   0x80, 5, 0x95, 4, 0, 0, 0, 0, 0, 0, 0,
 *   ...new TextEncoder().encode("cmacos\nsystem\n)R."),
 * ]);
 * const result = scanPickle(data);
 * assert.equal(result.verdict, "dangerous");
 * assert.ok(result.globals.some((g) => g.path === "os.system"));
 * ```
 */
export function scanPickle(data: Uint8Array, options: ScanOptions = {}): ScanResult {
  const report = new Report();
  scanInto(data, 0, data.length, options, report, 0);
  return report.result();
}

/**
 * Scans the one pickle that starts at `start` into `report`; returns where a
 * reader of several pickles would start the next one (a file reader and a
 * linear reader may disagree), empty when the unpickler stops with an error.
 */
export function scanOne(
  data: Uint8Array,
  start: number,
  end: number,
  options: ScanOptions,
  report: Report,
  depth = 0,
): number[] {
  const policy = options.policy ?? ScanPolicy.default;
  const loader = options.loader ?? "torch";
  const nested = (payload: Uint8Array) => scanPayload(payload, policy, depth + 1);
  const run = (mode: InputMode) =>
    runPickle(data, start, end, { policy, loader, mode, nested }, report, depth);
  const outcome = run("stream");
  const outcomes = [outcome];
  // Where CPython over a file and a linear reader (pickle.loads, files with
  // peek()) read different bytes, both readings are scanned.
  if (outcome.diverged) outcomes.push(run("bytes"));
  const next = new Set<number>();
  for (const o of outcomes) {
    if (!o.stopped) continue;
    next.add(o.filePosition);
    next.add(o.end);
  }
  return [...next];
}

/** Scans `data[start, end)` into `report`; see {@linkcode scanPickle}. */
export function scanInto(
  data: Uint8Array,
  start: number,
  end: number,
  options: ScanOptions,
  report: Report,
  depth: number,
): void {
  const all = options.stream === "all";
  const pending = [start];
  const seen = new Set<number>();
  let count = 0;
  while (pending.length > 0) {
    const at = pending.shift()!;
    // The first pickle always runs: an empty stream is "Ran out of input".
    if (seen.has(at) || (at >= end && at !== start)) continue;
    seen.add(at);
    if (++count > MAX_PICKLES) {
      report.finding("unknown", at, `more than ${MAX_PICKLES} pickles: the rest is not scanned`);
      return;
    }
    if (at !== start && !all) {
      report.finding(
        "unknown",
        at,
        `${
          end - at
        } bytes after STOP: torch.load ignores them, a reader of several pickles runs them`,
      );
    }
    const first = report.error;
    pending.push(...scanOne(data, at, end, options, report, depth));
    if (at !== start && first === undefined) report.error = undefined;
  }
}

/** Scans a payload handed to an unpickling function. */
function scanPayload(
  payload: Uint8Array,
  policy: ScanPolicy,
  depth: number,
): { kind: NestedPickle["kind"]; scan: ScanResult | undefined } {
  if (payload.length >= 4 && payload[0] === 0x50 && payload[1] === 0x4b && payload[2] === 3) {
    return { kind: "zip", scan: undefined };
  }
  if (depth > MAX_DEPTH) return { kind: "unknown", scan: undefined };
  const report = new Report();
  const npy = readNpyHeader(payload);
  if (npy !== undefined) {
    if (npy.error !== undefined) {
      report.finding("unknown", 0, `.npy header: ${npy.error}`);
    } else if (npy.hasObject) {
      scanInto(payload, npy.dataOffset, payload.length, { policy, loader: "plain" }, report, depth);
    }
    return { kind: "npy", scan: report.result() };
  }
  scanInto(payload, 0, payload.length, { policy, loader: "plain" }, report, depth);
  return { kind: "pickle", scan: report.result() };
}
