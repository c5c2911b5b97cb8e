// `diff`: what differs between two checkpoints, with diff(1)'s exit codes.
import { diffCheckpoints } from "../diff/diff.ts";
import { Checkpoint } from "../torch/checkpoint.ts";
import {
  type Command,
  describeError,
  parse,
  TIMEOUT_HELP,
  timeoutOption,
  UsageError,
} from "./_command.ts";

const SAME = 0;
const DIFFERENT = 1;
const TROUBLE = 2;

export const diff: Command = {
  help: `Usage: deno run -A cli.ts diff A B [--json] [--exact]

Says what differs between checkpoints A and B:
  state_dict tensors only in A (-), only in B (+), renamed (~: the same
  bytes, shape and dtype under a new name), with another shape or dtype
  (!), with other values (*); every other value that differs, by its path
  (omegaconf configs by their values: training.lr: 0.001 -> 0.0001); the
  migrations one registers and the other does not.

Tensors are compared from the central directory (each storage record's
CRC-32 and size) and each view's dtype, shape, stride and offset, so only
the directories and data.pkl are read (A and B may be http(s) URLs). A
tensor whose storage is shared with others counts as changed when any part
of that storage changed; --exact compares the bytes of each view, streamed.

Options:
  --exact        compare tensor bytes (reads every tensor of both)
  --json         print one JSON document
  --quiet, -q    print nothing: the exit code says it all
${TIMEOUT_HELP}

Exit codes, as diff(1): 0 the same, 1 different, 2 usage error or a
checkpoint cannot be read.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      exact: { type: "boolean" },
      json: { type: "boolean" },
      timeout: { type: "string" },
    }, context);
    if (positionals.length !== 2) throw new UsageError("diff takes two checkpoints");
    const timeoutMs = timeoutOption(values.timeout);
    let subject: string | undefined;
    const opened: Checkpoint[] = [];
    try {
      for (const path of positionals) {
        subject = path;
        opened.push(await Checkpoint.open(path, { timeoutMs }));
      }
      subject = undefined;
      const result = await diffCheckpoints(opened[0], opened[1], { exact: values.exact });
      if (values.json) {
        console.log(JSON.stringify({ a: positionals[0], b: positionals[1], ...result }));
      } else if (!context.quiet && result.different) console.log(lines(result).join("\n"));
      return result.different ? DIFFERENT : SAME;
    } catch (error) {
      console.error(`ckptkit: ${describeError(error, subject)}`);
      if (args.includes("--debug")) console.error(error);
      return TROUBLE;
    } finally {
      for (const ckpt of opened) ckpt.close();
    }
  },
};

function lines(result: Awaited<ReturnType<typeof diffCheckpoints>>): string[] {
  const t = result.tensors;
  const out: string[] = [];
  const counts = [
    [t.onlyInA.length, "only in A"],
    [t.onlyInB.length, "only in B"],
    [t.renamed.length, "renamed"],
    [t.reshaped.length, "with another shape or dtype"],
    [t.changed.length, "with other values"],
  ].filter(([n]) => n as number > 0).map(([n, what]) => `${n} ${what}`);
  if (counts.length > 0) {
    out.push(`state_dict: ${counts.join(", ")}; ${t.same} the same`);
    for (const name of t.onlyInA) out.push(`  - ${name}`);
    for (const name of t.onlyInB) out.push(`  + ${name}`);
    for (const [from, to] of t.renamed) out.push(`  ~ ${from} -> ${to}`);
    for (const { name, a, b } of t.reshaped) out.push(`  ! ${name}: ${a} -> ${b}`);
    for (const name of t.changed) out.push(`  * ${name}`);
  }
  for (const { path, a, b } of result.values) {
    out.push(`${path}: ${a ?? "(absent)"} -> ${b ?? "(absent)"}`);
  }
  const m = result.migrations;
  for (const name of m.onlyInA) out.push(`migrations: - ${name}`);
  for (const name of m.onlyInB) out.push(`migrations: + ${name}`);
  return out;
}
