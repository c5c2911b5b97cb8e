// `scan`: every global data.pkl references, rated, without decoding it.
import { CkptkitError } from "../errors.ts";
import { type GlobalReference, type Rating, scanPickle, type ScanResult } from "../pickle/scan.ts";
import { assertTorchZip } from "../zip/detect_format.ts";
import { localHeadersFor, openSource } from "../zip/open_source.ts";
import { readEntry } from "../zip/read_entry.ts";
import { type Command, onePath, parse, TIMEOUT_HELP, timeoutOption } from "./_command.ts";

const GROUPS: ReadonlyArray<[Rating, string]> = [
  ["dangerous", "dangerous (Python runs these when it loads the file)"],
  ["unknown", "unknown (importing them runs their modules' code)"],
  ["safe", "safe"],
];

function counts(globals: GlobalReference[]): string {
  const n = (rating: Rating) => globals.filter((g) => g.rating === rating).length;
  const total = globals.length === 1 ? "1 global" : `${globals.length} globals`;
  return `${total}: ${n("dangerous")} dangerous, ${n("unknown")} unknown, ${n("safe")} safe`;
}

function describe(result: ScanResult, indent: string, lines: string[]): void {
  for (const [rating, title] of GROUPS) {
    const group = result.globals.filter((g) => g.rating === rating);
    if (group.length === 0) continue;
    lines.push(`${indent}${title}:`);
    for (const g of group) {
      const where = `offset ${g.offsets.join(", ")}${g.count > g.offsets.length ? ", ..." : ""}`;
      const why = g.reason === undefined ? "" : `: ${g.reason}`;
      lines.push(`${indent}  ${g.path}${why} (${where})`);
    }
  }
  if (result.nested.length > 0) lines.push(`${indent}nested pickles:`);
  for (const n of result.nested) {
    const size = n.size === undefined ? "data built at load time" : `${n.kind} of ${n.size} bytes`;
    const calls = n.count > 1 ? ` (${n.count} calls)` : "";
    lines.push(`${indent}  ${n.loader} at offset ${n.offset}${calls}: ${size}`);
    if (n.scan !== undefined) describe(n.scan, `${indent}    `, lines);
  }
}

function dangerous(result: ScanResult, found = new Set<string>()): Set<string> {
  for (const g of result.globals) if (g.rating === "dangerous") found.add(g.path);
  for (const n of result.nested) {
    found.add(`nested pickle via ${n.loader}`);
    if (n.scan !== undefined) dangerous(n.scan, found);
  }
  return found;
}

export const scan: Command = {
  help: `Usage: deno run -A cli.ts scan CKPT [--json]

Lists every global (class or function) that CKPT's data.pkl references,
grouped by rating, without decoding or running anything:

  dangerous  runs code, commands, files, network or other unpicklers when
             Python loads the file (os.system, builtins.eval, pickle.loads, ...)
  unknown    anything else outside the lists below (omegaconf, anemoi, ...):
             importing it runs that module's code
  safe       tensor rebuilds, storages, dtypes, OrderedDict, numpy arrays

CKPT may be an http(s) URL: only its central directory and data.pkl are
fetched, with range requests.

Bytes handed to an unpickling function (pickle.loads, torch.load,
torch.storage._load_from_bytes, ...) are flagged as nested pickles and
scanned too.

Exit code 1 when a dangerous global or a nested pickle is found, or when the
pickle's opcodes cannot be listed to the end.

Options:
  --json          print one JSON document instead of the listing
${TIMEOUT_HELP}`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      json: { type: "boolean" },
      timeout: { type: "string" },
    }, context);
    const path = onePath(positionals, "scan");
    context.subject = path;
    const source = await openSource(path, { timeoutMs: timeoutOption(values.timeout) });
    let record: string;
    let result: ScanResult;
    try {
      const { directory, prefix } = await assertTorchZip(source, {
        localHeaders: localHeadersFor(source),
      });
      record = `${prefix}/data.pkl`;
      const entry = directory.entries.find((e) => e.name === record)!;
      result = scanPickle(await readEntry(source, entry));
    } finally {
      source.close();
    }
    const flagged = [...dangerous(result)];
    if (values.json) {
      console.log(JSON.stringify({ file: path, record, dangerous: flagged, ...result }));
    } else {
      const lines = [`${path}: ${record} references ${counts(result.globals)}`];
      describe(result, "", lines);
      console.log(lines.join("\n"));
    }
    if (result.error !== undefined) {
      throw new CkptkitError(result.error);
    }
    if (flagged.length > 0) {
      const shown = flagged.length > 5 ? [...flagged.slice(0, 5), "..."] : flagged;
      console.error(`ckptkit: ${path}: Cannot trust ${record}: it references ${shown.join(", ")}`);
      return 1;
    }
    return 0;
  },
};
