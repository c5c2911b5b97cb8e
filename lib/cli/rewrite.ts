// `rewrite`: decode, re-encode and rewrite a checkpoint without migrating it.
import { checkPickle } from "../scan/check_pickle.ts";
import { type FileLock, lockFile } from "../torch/file_lock.ts";
import { Checkpoint, type SaveStrategy } from "../torch/checkpoint.ts";
import { type Command, onePath, parse, UsageError } from "./_command.ts";
import { POLICY_OPTIONS, policyFrom, policyHelp } from "./_globals.ts";
import { stderrProgress } from "./_progress.ts";

const STRATEGIES = ["auto", "stream", "clone"];

export const rewrite: Command = {
  help: `Usage: deno run -A cli.ts rewrite CKPT --out PATH [--strategy stream|clone] [--quiet]

Decodes CKPT, re-encodes it and writes it to PATH, copying every tensor
storage as an untouched byte range. PATH may be CKPT itself: the new file is
written beside it, synced, checked and renamed over it, and CKPT is locked
meanwhile as migrate locks it. On any failure or interruption PATH is left
as it was.

Options:
  --out PATH         where to write (required)
  --strategy NAME    stream: write every record in torch's own layout, the
                     kernel copying the storages (copy_file_range);
                     clone: copy CKPT whole (sharing its blocks where the
                     filesystem can) and rewrite only the records around
                     the storages; needs the same storages in the same order.
                     Default: clone when that is possible and the filesystem
                     shares blocks (the kernel is asked: XFS, btrfs; APFS),
                     else stream.
  --quiet, -q        print nothing on success (no progress bar, no summary)
  --no-verify        skip re-reading the written file before it replaces PATH
                     (central directory, data.pkl, storage sizes, the CRC-32
                     of new records); on by default
  --allow-dangerous-globals
                     write it even when data.pkl references globals that run
                     code on load (see 'scan'): refused by default
  --strict-globals   also refuse globals that are not on the allowlist
${policyHelp(21)}

A progress bar is drawn on stderr when it is a terminal.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      out: { type: "string" },
      strategy: { type: "string" },
      "no-verify": { type: "boolean" },
      "allow-dangerous-globals": { type: "boolean" },
      "strict-globals": { type: "boolean" },
      ...POLICY_OPTIONS,
    }, context);
    const path = onePath(positionals, "rewrite");
    if (typeof values.out !== "string") throw new UsageError("rewrite needs --out PATH");
    const strategy = values.strategy ?? "auto";
    if (typeof strategy !== "string" || !STRATEGIES.includes(strategy)) {
      throw new UsageError(`--strategy must be stream or clone, got '${strategy}'`);
    }
    const policy = await policyFrom(values);
    context.subject = path;
    // In place (by any name of the file): wait for (or refuse) a migrate
    // holding the file, then read what it wrote.
    const [input, output] = await Promise.all(
      [path, values.out].map((p) => Deno.stat(p).catch(() => undefined)),
    );
    const inPlace = input !== undefined && output !== undefined && input.ino !== null &&
      input.ino === output.ino && input.dev === output.dev;
    const lock = inPlace ? await lockInPlace(path) : undefined;
    let ckpt: Checkpoint;
    try {
      ckpt = await Checkpoint.open(path);
    } catch (error) {
      lock?.release();
      throw error;
    }
    try {
      // Users torch.load(weights_only=False) what rewrite writes.
      checkPickle(ckpt.pickleBytes, "rewrite", {
        policy,
        strict: values["strict-globals"],
        allowDangerous: values["allow-dangerous-globals"],
      });
    } catch (error) {
      ckpt.close();
      lock?.release();
      throw error;
    }
    const bar = stderrProgress("rewrite", { quiet: context.quiet });
    try {
      context.subject = values.out;
      const result = await ckpt.save(values.out, {
        strategy: strategy as SaveStrategy,
        onProgress: bar && ((progress) => bar.update(progress)),
        verify: !values["no-verify"],
      });
      bar?.done();
      if (!context.quiet) {
        console.log(
          `wrote ${result.path}: ${result.size} bytes, ${result.storages} storages, data.pkl ${result.pickleSize} bytes (${result.strategy})`,
        );
      }
    } finally {
      bar?.done();
      ckpt.close();
      lock?.release();
    }
    return 0;
  },
};

function lockInPlace(path: string): Promise<FileLock> {
  return lockFile(path, { action: "rewrite" });
}
