// `extract`: the weights alone, as .safetensors or a weights-only torch file.
import { extractWeights } from "../extract/extract.ts";
import { Checkpoint } from "../torch/checkpoint.ts";
import { type Command, onePath, parse, UsageError } from "./_command.ts";

export const extract: Command = {
  help: `Usage: deno run -A cli.ts extract CKPT --out OUT.safetensors|OUT.pt [--key PATH] [--json]

Writes the weights of CKPT alone: a training checkpoint's state_dict, the
dict of tensors at --key PATH, or, for a pickled nn.Module (torch.save(model),
such as an anemoi inference checkpoint), the state_dict module.state_dict()
would give: parameters and persistent buffers in module order, without the
model's code.

OUT.safetensors follows the safetensors format: each tensor written
row-major (strided views made contiguous, one at a time); a tensor that is
the same view of the same storage under several names (tied weights) is
stored once and the other names recorded in __metadata__; views that only
overlap are written as separate copies. Any other extension writes a torch
file of the state_dict that torch.load(weights_only=True) loads: storages
copied as byte ranges, views kept.

Options:
  --out PATH       where to write (required); .safetensors or a torch file
  --key PATH       the dict of tensors or the module to extract (a dotted
                   path as show takes it); default: the pickled module, else
                   state_dict, else the root
  --json           print the report as one JSON document
  --quiet, -q      print nothing on success

Exit codes: 0 written, 1 failure (nothing written), 2 usage error.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      out: { type: "string" },
      key: { type: "string" },
      json: { type: "boolean" },
    }, context);
    const path = onePath(positionals, "extract");
    if (typeof values.out !== "string") throw new UsageError("extract needs --out PATH");
    context.subject = path;
    const ckpt = await Checkpoint.open(path);
    try {
      const report = await extractWeights(ckpt, values.out, { key: values.key });
      if (values.json) console.log(JSON.stringify(report));
      else if (!context.quiet) {
        const from = report.key === "" ? "" : ` from ${report.key}`;
        const kind = report.kind === "module" ? " (the module's state_dict)" : "";
        console.log(
          `wrote ${report.path}: ${report.tensors} tensors${from}${kind}, ${report.bytes} bytes (${report.format})`,
        );
        for (const [name, kept] of report.shared) console.log(`  ${name}: stored as ${kept}`);
      }
    } finally {
      ckpt.close();
    }
    return 0;
  },
};
