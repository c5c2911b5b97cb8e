// `scan`: every global a file's pickles make Python import, rated, and the
// verdict, without decoding or running anything.
import { describeError } from "./_command.ts";
import { type Command, onePath, parse, TIMEOUT_HELP, timeoutOption } from "./_command.ts";
import { POLICY_OPTIONS, policyFrom, policyHelp } from "./_globals.ts";
import { summarizeScan } from "../scan/check_pickle.ts";
import type { Rating } from "../scan/policy.ts";
import { type FileScan, scanFile } from "../scan/scan_file.ts";
import type { ScanResult } from "../scan/scan_result.ts";

/** Exit codes of `scan`. */
const CLEAN = 0;
const DANGEROUS = 1;
const UNKNOWN = 3;

const FORMATS: Record<FileScan["format"], string> = {
  "torch-zip": "torch zip checkpoint",
  torchscript: "TorchScript archive",
  npz: ".npz archive",
  zip: "zip archive",
  "legacy-torch": "legacy torch file (before 1.6)",
  tar: "torch tar file (0.1.x)",
  npy: ".npy array",
  pickle: "pickle file",
  empty: "empty file",
};

const GROUPS: ReadonlyArray<[Rating, string]> = [
  ["dangerous", "dangerous (Python runs code, commands, files or the network when it loads these)"],
  ["unknown", "unknown (not on the allowlist: importing them runs code nobody vetted)"],
  ["allowed", "allowed"],
];

function counts(result: ScanResult): string {
  const n = (rating: Rating) => result.globals.filter((g) => g.rating === rating).length;
  const total = result.globals.length === 1 ? "1 global" : `${result.globals.length} globals`;
  return `${total}: ${n("dangerous")} dangerous, ${n("unknown")} unknown, ${n("allowed")} allowed`;
}

function describe(result: ScanResult, indent: string, lines: string[]): void {
  for (const [rating, title] of GROUPS) {
    const group = result.globals.filter((g) => g.rating === rating);
    if (group.length === 0) continue;
    lines.push(`${indent}${title}:`);
    for (const g of group) {
      const where = `offset ${g.offsets.join(", ")}${g.count > g.offsets.length ? ", ..." : ""}`;
      const spelled = g.spelling === undefined ? "" : ` (written ${g.spelling})`;
      const why = rating === "allowed"
        ? ""
        : `: ${g.reason}${g.source === undefined ? "" : ` [${g.source}]`}`;
      lines.push(`${indent}  ${g.path}${spelled}${why} (${where})`);
    }
  }
  if (result.findings.length > 0) lines.push(`${indent}findings:`);
  for (const f of result.findings) {
    lines.push(`${indent}  ${f.rating} at offset ${f.offset}: ${f.message}`);
  }
  if (result.nested.length > 0) lines.push(`${indent}nested pickles:`);
  for (const n of result.nested) {
    const calls = n.count > 1 ? ` (${n.count} calls)` : "";
    lines.push(
      `${indent}  ${n.loader} at offset ${n.offset}${calls}: ${n.kind} of ${n.size} bytes`,
    );
    if (n.scan !== undefined) describe(n.scan, `${indent}    `, lines);
  }
}

function listed(paths: string[]): string {
  return paths.length > 5 ? `${paths.slice(0, 5).join(", ")}, ...` : paths.join(", ");
}

/** The one line on stderr that says why the file is not clean. */
function reason(scan: FileScan): string {
  for (const verdict of ["dangerous", "unknown"] as const) {
    for (const r of scan.records) {
      if (r.result.verdict !== verdict) continue;
      const summary = summarizeScan(r.result);
      const paths = verdict === "dangerous" ? summary.dangerous : summary.unknown;
      if (paths.length > 0) {
        const what = verdict === "dangerous" ? "" : "globals not on the allowlist: ";
        return `${
          verdict === "dangerous" ? "Cannot trust" : "Cannot vouch for"
        } ${r.record}: it references ${what}${listed(paths)}`;
      }
      return `${
        verdict === "dangerous" ? "Cannot trust" : "Cannot vouch for"
      } ${r.record}: ${summary.finding}`;
    }
    const finding = scan.findings.find((f) => f.rating === verdict);
    if (finding !== undefined) {
      return `${
        verdict === "dangerous" ? "Cannot trust" : "Cannot vouch for"
      } the file: ${finding.message}`;
    }
  }
  return "";
}

function document(scan: FileScan) {
  const dangerous = new Set<string>();
  const unknown = new Set<string>();
  for (const r of scan.records) {
    const summary = summarizeScan(r.result);
    for (const p of summary.dangerous) dangerous.add(p);
    for (const p of summary.unknown) unknown.add(p);
  }
  return {
    file: scan.path,
    format: scan.format,
    verdict: scan.verdict,
    dangerous: [...dangerous],
    unknown: [...unknown],
    findings: scan.findings,
    records: scan.records.map((r) => ({
      record: r.record,
      loader: r.loader,
      offset: r.offset,
      ...r.result,
    })),
    error: null,
  };
}

export const scan: Command = {
  help:
    `Usage: deno run -A cli.ts scan FILE [--json] [--allow-global MODULE.NAME]... [--policy FILE]

Scans every pickle that torch.load or numpy.load would run from FILE, reading
its bytes exactly as CPython's unpickler does (frames, memo, protocol), and
rates every global (class or function) they make Python import, without
decoding or running anything:

  allowed    on the allowlist (what torch.load(weights_only=True) accepts,
             plus the classes training checkpoints hold: Lightning,
             omegaconf, anemoi, numpy, pathlib, datetime, enums), and used
             only as its entry allows
  dangerous  on the denylist (code, processes, files, network, other
             unpicklers), or a dotted name that walks through a module or
             a special attribute, or used in a shape that reaches code
             (getattr on a module, BUILD on a class, a name computed at load)
  unknown    anything else: importing it runs code nobody vetted

Structural findings count too: frames that CPython and ckptkit's decoder
read differently, errors that stop the unpickler, data after STOP,
extension codes, persistent ids torch refuses, damaged zip records.

FILE may be a torch zip checkpoint (every copy of its data.pkl, when names
repeat), a TorchScript archive, a legacy torch file (its five pickles), the
torch 0.1.x tar format, an .npy or .npz file (object arrays are pickles),
or a bare pickle file (every pickle in it). An http(s) URL is read with
range requests.

Options:
  --json            print one JSON document, also when the file cannot be read
${policyHelp(20)}
${TIMEOUT_HELP}

Exit codes: 0 clean, 1 dangerous (or the file cannot be read), 2 usage
error, 3 unknown: nothing dangerous, but something is not vetted.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      json: { type: "boolean" },
      timeout: { type: "string" },
      ...POLICY_OPTIONS,
    }, context);
    const path = onePath(positionals, "scan");
    const policy = await policyFrom(values);
    context.subject = path;
    let result: FileScan;
    try {
      result = await scanFile(path, { policy, timeoutMs: timeoutOption(values.timeout) });
    } catch (error) {
      if (!values.json) throw error;
      const message = describeError(error, undefined);
      console.log(JSON.stringify({ file: path, format: null, verdict: null, error: message }));
      console.error(`ckptkit: ${path}: ${message}`);
      return DANGEROUS;
    }
    if (values.json) {
      console.log(JSON.stringify(document(result), (_key, value) => value ?? null));
    } else {
      const lines = [`${path}: ${FORMATS[result.format]}: ${result.verdict}`];
      for (const f of result.findings) lines.push(`  ${f.rating}: ${f.message}`);
      for (const r of result.records) {
        lines.push(`${r.record}: ${counts(r.result)}; ${r.result.verdict}`);
        describe(r.result, "  ", lines);
      }
      console.log(lines.join("\n"));
    }
    if (result.verdict === "clean") return CLEAN;
    console.error(`ckptkit: ${path}: ${reason(result)}`);
    return result.verdict === "dangerous" ? DANGEROUS : UNKNOWN;
  },
};
