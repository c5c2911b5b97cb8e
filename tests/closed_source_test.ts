// Tensors of another open checkpoint can be assigned and saved; once their
// checkpoint is closed, reading or saving them is one clear error.
import assert from "node:assert/strict";
import { CheckpointError } from "../lib/errors.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { Tensor } from "../lib/torch/tensor.ts";
import { ClosedSourceError } from "../lib/zip/source.ts";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;

async function transfer(localHeaders: "all" | "on-demand" = "all") {
  const target = await Checkpoint.open(`${fixtures}state_dict.ckpt`);
  const donor = await Checkpoint.open(`${fixtures}tensors.ckpt`, { localHeaders });
  const tensor = (donor.root as PyDict<string, Tensor>).getItem("base");
  (target.root as PyDict<string, Tensor>).set("donated", tensor);
  return { target, donor, tensor };
}

Deno.test("a tensor of another open checkpoint is saved with its bytes", async () => {
  const dir = await Deno.makeTempDir();
  const { target, donor, tensor } = await transfer();
  try {
    await target.save(`${dir}/out.ckpt`);
    const saved = await Checkpoint.open(`${dir}/out.ckpt`);
    const copy = (saved.root as PyDict<string, Tensor>).getItem("donated");
    assert.deepEqual(await copy.bytes(), await tensor.bytes());
    saved.close();
  } finally {
    target.close();
    donor.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saving a tensor whose checkpoint was closed is one line naming the cause", async () => {
  const dir = await Deno.makeTempDir();
  const { target, donor } = await transfer();
  // Its records' local headers not read yet: the save reads them first.
  const lazy = await transfer("on-demand");
  donor.close();
  lazy.donor.close();
  try {
    for (
      const [ckpt, strategy] of [[target, "auto"], [target, "stream"], [
        lazy.target,
        "auto",
      ]] as const
    ) {
      await assert.rejects(
        () => ckpt.save(`${dir}/out.ckpt`, { strategy }),
        (error) => {
          assert.ok(error instanceof CheckpointError, String(error));
          assert.equal(
            error.message,
            `Cannot save: the checkpoint file ${fixtures}tensors.ckpt was closed; ` +
              "keep a checkpoint open until its tensors are read or saved; nothing was written",
          );
          return true;
        },
      );
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    target.close();
    lazy.target.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reading a tensor of a closed checkpoint is a ClosedSourceError", async () => {
  const { target, donor, tensor } = await transfer();
  target.close();
  donor.close();
  // Closing twice is harmless.
  donor.close();
  await assert.rejects(
    () => tensor.bytes(),
    (error) =>
      error instanceof ClosedSourceError &&
      error.message ===
        `Cannot read tensor data: the checkpoint file ${fixtures}tensors.ckpt was closed; keep a checkpoint open until its tensors are read or saved`,
  );
  await assert.rejects(() => tensor.storage.bytes(), ClosedSourceError);
  await assert.rejects(() => target.save(`${fixtures}never-written.ckpt`), /was closed/);
  assert.equal(
    await Deno.stat(`${fixtures}never-written.ckpt`).then(() => true, () => false),
    false,
  );
});
