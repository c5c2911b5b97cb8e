// `show`: the decoded object tree of a checkpoint, or of one part of it.
import { Checkpoint } from "../torch/checkpoint.ts";
import { selectPath } from "../torch/select_path.ts";
import { formatTree, toJsonTree, toPlainJson } from "../torch/show.ts";
import {
  type Command,
  integerOption,
  parse,
  remoteSummary,
  TIMEOUT_HELP,
  timeoutOption,
  UsageError,
} from "./_command.ts";

export const show: Command = {
  help:
    `Usage: deno run -A cli.ts show CKPT [PATH] [--depth N] [--max-items N] [--json | --plain] [--raw]

Prints the decoded object graph of CKPT, or of the part PATH names: dict
keys, tensor dtype, shape and storage, numpy arrays and the classes objects
are built from. omegaconf configs show as their values. Reads only the
central directory and data.pkl. CKPT may be an http(s) URL: it is read with
range requests, and the bytes fetched are reported on stderr.

PATH is dotted: at each dict the longest run of parts that is a key is
taken, so state_dict keys need no quoting (state_dict.encoder.weight,
hyper_parameters.config.training, optimizer_states.0.param_groups).

Options:
  --depth N       expand containers down to depth N (default 6, at most 1000)
  --max-items N   show at most N items of each container (default: all)
  --json          print one typed JSON document: every node has a type, shared
                  objects appear once and then as {"type": "ref", "id": n}
  --plain         print plain JSON for jq: dicts as objects, tensors as
                  {dtype, shape, stride, ...}, shared objects written out
                  each time (e.g. show CKPT state_dict --plain |
                  jq 'map_values(.shape)')
  --raw           show omegaconf configs as their pickled nodes
${TIMEOUT_HELP}`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      depth: { type: "string" },
      "max-items": { type: "string" },
      json: { type: "boolean" },
      plain: { type: "boolean" },
      raw: { type: "boolean" },
      timeout: { type: "string" },
    }, context);
    if (positionals.length === 0 || positionals.length > 2) {
      throw new UsageError("show takes a checkpoint and, optionally, a path inside it");
    }
    if (values.json && values.plain) throw new UsageError("--json and --plain exclude each other");
    const [path, inside] = positionals;
    const options = {
      depth: integerOption(values.depth, "depth"),
      maxItems: integerOption(values["max-items"], "max-items"),
      raw: values.raw,
    };
    context.subject = path;
    const ckpt = await Checkpoint.open(path, { timeoutMs: timeoutOption(values.timeout) });
    try {
      const remote = remoteSummary(ckpt);
      const root = inside === undefined ? ckpt.root : selectPath(ckpt.root, inside, options);
      if (values.json) {
        const tree = toJsonTree(root, options);
        const where = inside === undefined ? {} : { path: inside };
        console.log(
          JSON.stringify({ file: path, ...where, ...(remote && { remote }), root: tree }),
        );
      } else if (values.plain) {
        console.log(JSON.stringify(toPlainJson(root, options)));
      } else {
        console.log(formatTree(root, options));
      }
    } finally {
      ckpt.close();
    }
    return 0;
  },
};
