// `verify`: read every record of a checkpoint and check it against the
// central directory and data.pkl.
import { verifyCheckpoint, type VerifyProblem } from "../torch/verify.ts";
import { type Command, onePath, parse, TIMEOUT_HELP, timeoutOption } from "./_command.ts";

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** One line per problem: the record first, warnings marked. */
function problemLine(path: string, problem: VerifyProblem): string {
  const kind = problem.severity === "warning" ? "warning: " : "";
  return `ckptkit: ${path}: ${kind}${JSON.stringify(problem.record)}: ${problem.message}`;
}

export const verify: Command = {
  help: `Usage: deno run -A cli.ts verify CKPT [--json] [--strict]

Reads every record of CKPT and checks:
  - its CRC-32 and size against the central directory;
  - its local header and data descriptor against the central directory;
  - that storages start on the archive's alignment (64 bytes, as torch writes);
  - that data.pkl decodes, every storage it references exists with at least
    numel * itemsize bytes, and every tensor view fits in its storage.

CKPT may be an http(s) URL, read with range requests.

Prints one line per problem on stderr, naming the record, and a summary.
Exit code 1 when any error is found. Warnings (unaligned or unreferenced
storages, big-endian data) do not fail unless --strict is given.

Options:
  --json          print one JSON document instead of the summary
  --strict        exit 1 on warnings too
  --quiet, -q     no progress and no summary: only the problems, on stderr
${TIMEOUT_HELP}`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      json: { type: "boolean" },
      strict: { type: "boolean" },
      timeout: { type: "string" },
    }, context);
    const path = onePath(positionals, "verify");
    context.subject = path;
    const progress = !values.json && !context.quiet && Deno.stderr.isTerminal();
    let shown = 0;
    const report = await verifyCheckpoint(path, {
      timeoutMs: timeoutOption(values.timeout),
      onProgress: progress
        ? ({ bytesDone, bytesTotal }) => {
          const percent = bytesTotal === 0 ? 100 : Math.floor((100 * bytesDone) / bytesTotal);
          if (percent === shown) return;
          shown = percent;
          Deno.stderr.writeSync(new TextEncoder().encode(`\rverifying ${path}: ${percent}%`));
        }
        : undefined,
    });
    if (progress) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
    const errors = report.problems.filter((p) => p.severity === "error").length;
    const warnings = report.problems.length - errors;
    if (values.json) {
      console.log(JSON.stringify({ file: path, ...report }));
    } else {
      for (const problem of report.problems) console.error(problemLine(path, problem));
      const verdict = report.problems.length === 0
        ? "OK"
        : [errors > 0 ? count(errors, "error") : "", warnings > 0 ? count(warnings, "warning") : ""]
          .filter((x) => x !== "").join(", ");
      if (!context.quiet) {
        console.log(
          `${path}: ${count(report.records, "record")}, ${size(report.bytes)}, ${
            count(report.storages, "storage")
          }, ${count(report.tensors, "tensor")}: ${verdict}`,
        );
      }
    }
    return errors > 0 || (values.strict && warnings > 0) ? 1 : 0;
  },
};
