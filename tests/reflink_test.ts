// Saves on filesystems that share blocks (XFS, btrfs): `auto` clones, and
// the new file takes almost no space, because the kernel shares the source's
// blocks (FICLONE) instead of copying them; on ext4, which cannot, `auto`
// streams. Each filesystem is a loop-mounted image in a temporary folder;
// skipped without root and the mkfs tools unless REQUIRE_LOOP_FILESYSTEMS=1.
import assert from "node:assert/strict";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { Tensor } from "../lib/torch/tensor.ts";
import { verifyCheckpoint } from "../lib/torch/verify.ts";
import { writeZeroCheckpoint } from "./_big_checkpoint.ts";
import { loopFilesystems } from "./_tools.ts";

const TENSORS = 8;
const TENSOR_BYTES = 8 << 20;

async function run(command: string, ...args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(command, { args }).output();
  const text = new TextDecoder();
  assert.ok(success, `${command} ${args.join(" ")}: ${text.decode(stderr)}`);
  return text.decode(stdout);
}

/** Bytes free for files on the filesystem holding `path`, after a sync. */
async function freeBytes(path: string): Promise<number> {
  await run("sync", "-f", path);
  const [available, blockSize] = (await run("stat", "-f", "-c", "%a %S", path)).trim().split(" ");
  return Number(available) * Number(blockSize);
}

/** Runs `fn` in a fresh filesystem of `type`, mounted from an image in a temporary folder. */
async function withFilesystem(type: string, fn: (folder: string) => Promise<void>) {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "ckptkit-loop-" }));
  const image = `${dir}/fs.img`;
  const mount = `${dir}/mnt`;
  try {
    const file = await Deno.open(image, { write: true, create: true });
    await file.truncate(512 << 20);
    file.close();
    await run(`mkfs.${type}`, ...(type === "ext4" ? ["-q", "-F"] : ["-q", "-f"]), image);
    await Deno.mkdir(mount);
    await run("mount", "-o", "loop", image, mount);
    try {
      await fn(mount);
    } finally {
      await run("umount", mount);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const [type, shares] of [["xfs", true], ["btrfs", true], ["ext4", false]] as const) {
  Deno.test({
    name: `a save on ${type} ${shares ? "clones, sharing the source's blocks" : "streams"}`,
    ignore: loopFilesystems.ignore,
    fn: async () => {
      loopFilesystems.check();
      await withFilesystem(type, async (folder) => {
        const source = `${folder}/in.ckpt`;
        await writeZeroCheckpoint(source, { tensors: TENSORS, tensorBytes: TENSOR_BYTES });
        const before = await freeBytes(folder);
        const ckpt = await Checkpoint.open(source);
        let strategy: string;
        try {
          // A migration's kind of change: every key renamed, tensors untouched.
          const stateDict = ckpt.root as PyDict<string, Tensor>;
          const items = [...stateDict.entries()];
          stateDict.clear();
          for (const [key, value] of items) stateDict.set(`model.${key}`, value);
          ({ strategy } = await ckpt.save(`${folder}/out.ckpt`));
        } finally {
          ckpt.close();
        }
        const used = before - await freeBytes(folder);
        const data = TENSORS * TENSOR_BYTES;
        assert.equal(strategy, shares ? "clone" : "stream");
        if (shares) assert.ok(used < data / 4, `the clone took ${used} bytes`);
        else assert.ok(used >= data, `the copy took only ${used} bytes`);
        const report = await verifyCheckpoint(`${folder}/out.ckpt`);
        assert.deepEqual(report.problems, []);
        const out = await Checkpoint.open(`${folder}/out.ckpt`);
        try {
          const keys = [...(out.root as PyDict<string, Tensor>).keys()];
          assert.deepEqual(
            keys,
            Array.from({ length: TENSORS }, (_, i) => `model.layers.${i}.weight`),
          );
        } finally {
          out.close();
        }
      });
    },
  });
}
