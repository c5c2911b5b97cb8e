// `transfer`: a checkpoint with another checkpoint's tensors where they fit.
import { Checkpoint } from "../torch/checkpoint.ts";
import { transferWeights } from "../transfer/transfer.ts";
import { type Command, parse, UsageError } from "./_command.ts";
import { stderrProgress } from "./_progress.ts";

export const transfer: Command = {
  help:
    `Usage: deno run -A cli.ts transfer SOURCE TARGET --out OUT [--include RE] [--exclude RE] [--json]

Writes OUT: TARGET with each state_dict tensor replaced by SOURCE's tensor
of the same name when their shape and dtype match; the rest of TARGET is
kept (its other tensors, its config, its training state). SOURCE may be a
training checkpoint, a dict of tensors, or a pickled model (its
module.state_dict()). Tensor bytes are copied as byte ranges from both
files, so memory stays flat. Prints how many tensors were transferred,
skipped (and why, with both shapes), filtered out, only in TARGET and only
in SOURCE.

The optimizer state of TARGET is kept by default: the moments of the
transferred tensors then describe the weights they replaced. With
--optimizer drop, optimizer_states is emptied, so a resumed run starts its
optimizers afresh.

Options:
  --out PATH        where to write (required; may be TARGET itself)
  --include RE      transfer only names matching the regular expression RE
  --exclude RE      never transfer names matching RE
  --optimizer keep|drop
                    what to do with TARGET's optimizer state (default keep)
  --source-key PATH where SOURCE's weights are (default: found)
  --target-key PATH where TARGET's state_dict is (default state_dict)
  --json            print the report as one JSON document
  --quiet, -q       print nothing on success

Exit codes: 0 written, 1 failure (nothing written), 2 usage error.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      out: { type: "string" },
      include: { type: "string" },
      exclude: { type: "string" },
      optimizer: { type: "string" },
      "source-key": { type: "string" },
      "target-key": { type: "string" },
      json: { type: "boolean" },
    }, context);
    if (positionals.length !== 2) throw new UsageError("transfer takes SOURCE and TARGET");
    if (typeof values.out !== "string") throw new UsageError("transfer needs --out PATH");
    const optimizer = values.optimizer ?? "keep";
    if (optimizer !== "keep" && optimizer !== "drop") {
      throw new UsageError(`--optimizer must be keep or drop, got '${optimizer}'`);
    }
    const include = pattern(values.include, "include");
    const exclude = pattern(values.exclude, "exclude");
    const [sourcePath, targetPath] = positionals;
    context.subject = sourcePath;
    const source = await Checkpoint.open(sourcePath);
    try {
      context.subject = targetPath;
      const target = await Checkpoint.open(targetPath);
      try {
        const report = transferWeights(source, target, {
          include,
          exclude,
          optimizer,
          sourceKey: values["source-key"],
          targetKey: values["target-key"],
        });
        context.subject = values.out;
        const bar = stderrProgress("transfer", { quiet: context.quiet, json: values.json });
        try {
          await target.save(values.out, { onProgress: bar && ((p) => bar.update(p)) });
        } finally {
          bar?.done();
        }
        if (values.json) console.log(JSON.stringify({ out: values.out, ...report }));
        else if (!context.quiet) {
          console.log(
            `wrote ${values.out}: ${report.transferred.length} transferred, ${report.skipped.length} ` +
              `skipped, ${report.filtered.length} filtered out, ${report.onlyInTarget.length} only ` +
              `in target, ${report.onlyInSource.length} only in source; optimizer state ${report.optimizer}`,
          );
          for (const { name, reason } of report.skipped) {
            console.log(`  skipped ${name}: ${reason}`);
          }
        }
      } finally {
        target.close();
      }
    } finally {
      source.close();
    }
    return 0;
  },
};

function pattern(text: string | undefined, name: string): RegExp | undefined {
  if (text === undefined) return undefined;
  try {
    return new RegExp(text);
  } catch (error) {
    throw new UsageError(`--${name}: ${(error as Error).message}`);
  }
}
