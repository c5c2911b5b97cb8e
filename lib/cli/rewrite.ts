// `rewrite`: decode, re-encode and rewrite a checkpoint without migrating it.
import { Checkpoint } from "../torch/checkpoint.ts";
import { type Command, onePath, parse, UsageError } from "./_command.ts";

export const rewrite: Command = {
  name: "rewrite",
  summary: "decode, re-encode and rewrite the archive (no migration)",
  help: `Usage: deno run -A cli.ts rewrite CKPT --out PATH

Decodes CKPT, re-encodes it and writes it to PATH in torch's own layout,
copying every tensor storage as an untouched byte range. PATH may be CKPT
itself: the new file is written beside it and renamed over it.

Options:
  --out PATH      where to write (required)`,
  async run(args, context) {
    const { values, positionals } = parse(args, { out: { type: "string" } });
    const path = onePath(positionals, "rewrite");
    if (typeof values.out !== "string") throw new UsageError("rewrite needs --out PATH");
    context.subject = path;
    const ckpt = await Checkpoint.open(path);
    try {
      context.subject = values.out;
      const result = await ckpt.save(values.out);
      console.log(
        `wrote ${result.path}: ${result.size} bytes, ${result.storages} storages, data.pkl ${result.pickleSize} bytes`,
      );
    } finally {
      ckpt.close();
    }
    return 0;
  },
};
