// `rewrite`: decode, re-encode and rewrite a checkpoint without migrating it.
import { Checkpoint, type SaveStrategy } from "../torch/checkpoint.ts";
import { type Command, onePath, parse, UsageError } from "./_command.ts";
import { stderrProgress } from "./_progress.ts";

const STRATEGIES = ["auto", "stream", "clone"];

export const rewrite: Command = {
  name: "rewrite",
  summary: "decode, re-encode and rewrite the archive (no migration)",
  help: `Usage: deno run -A cli.ts rewrite CKPT --out PATH [--strategy stream|clone] [--quiet]

Decodes CKPT, re-encodes it and writes it to PATH, copying every tensor
storage as an untouched byte range. PATH may be CKPT itself: the new file is
written beside it, synced and renamed over it.

Options:
  --out PATH         where to write (required)
  --strategy NAME    stream: write every record in torch's own layout;
                     clone: let the kernel copy CKPT (a reflink where the
                     filesystem has them) and rewrite only the records around
                     the storages; needs the same storages in the same order.
                     Default: clone when that is possible and the filesystem
                     clones (btrfs, XFS, ZFS, APFS), else stream.
  --quiet            print nothing on success (no progress bar, no summary)

A progress bar is drawn on stderr when it is a terminal.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      out: { type: "string" },
      strategy: { type: "string" },
      quiet: { type: "boolean" },
    });
    const path = onePath(positionals, "rewrite");
    if (typeof values.out !== "string") throw new UsageError("rewrite needs --out PATH");
    const strategy = values.strategy ?? "auto";
    if (typeof strategy !== "string" || !STRATEGIES.includes(strategy)) {
      throw new UsageError(`--strategy must be stream or clone, got '${strategy}'`);
    }
    context.subject = path;
    const ckpt = await Checkpoint.open(path);
    const bar = stderrProgress("rewrite", { quiet: values.quiet });
    try {
      context.subject = values.out;
      const result = await ckpt.save(values.out, {
        strategy: strategy as SaveStrategy,
        onProgress: bar && ((progress) => bar.update(progress)),
      });
      bar?.done();
      if (!values.quiet) {
        console.log(
          `wrote ${result.path}: ${result.size} bytes, ${result.storages} storages, data.pkl ${result.pickleSize} bytes (${result.strategy})`,
        );
      }
    } finally {
      bar?.done();
      ckpt.close();
    }
    return 0;
  },
};
