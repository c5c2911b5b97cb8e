// `show`: the decoded object tree of a checkpoint.
import { Checkpoint } from "../torch/checkpoint.ts";
import { formatTree, toJsonTree } from "../torch/show.ts";
import {
  type Command,
  integerOption,
  onePath,
  parse,
  remoteSummary,
  TIMEOUT_HELP,
  timeoutOption,
} from "./_command.ts";

export const show: Command = {
  help: `Usage: deno run -A cli.ts show CKPT [--depth N] [--max-items N] [--json]

Prints the decoded object graph of CKPT: dict keys, tensor dtype, shape and
storage, numpy arrays and the classes objects are built from. Reads only the
central directory and data.pkl. CKPT may be an http(s) URL: it is read with
range requests, and the bytes fetched are reported on stderr.

Options:
  --depth N       expand containers down to depth N (default 6, at most 1000)
  --max-items N   show at most N items of each container (default: all)
  --json          print one JSON document instead of the tree
${TIMEOUT_HELP}`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      depth: { type: "string" },
      "max-items": { type: "string" },
      json: { type: "boolean" },
      timeout: { type: "string" },
    }, context);
    const path = onePath(positionals, "show");
    const options = {
      depth: integerOption(values.depth, "depth"),
      maxItems: integerOption(values["max-items"], "max-items"),
    };
    context.subject = path;
    const ckpt = await Checkpoint.open(path, { timeoutMs: timeoutOption(values.timeout) });
    try {
      const remote = remoteSummary(ckpt);
      if (values.json) {
        const root = toJsonTree(ckpt.root, options);
        console.log(JSON.stringify({ file: path, ...(remote && { remote }), root }));
      } else {
        console.log(formatTree(ckpt.root, options));
      }
    } finally {
      ckpt.close();
    }
    return 0;
  },
};
