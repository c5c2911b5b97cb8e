// For tests/kernel_copy_test.ts: saves the checkpoint at Deno.args[0] to
// Deno.args[1] with one new tensor, in a process whose permissions and
// system calls the test chooses.
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Tensor } from "../lib/torch/tensor.ts";

const [source, target] = Deno.args;
const ckpt = await Checkpoint.open(source);
try {
  const bytes = new Uint8Array(777);
  for (let j = 0; j < bytes.length; j++) bytes[j] = (99 * 131 + j * 7 + (j >> 9)) & 0xff;
  const added = new Tensor({ storage: Storage.fromBytes(bytes, dtype("uint8")!), shape: [777] });
  // Between copied storages, so written and copied records alternate.
  const stateDict = ckpt.root as PyDict<string, Tensor>;
  const entries = [...stateDict.entries()];
  stateDict.clear();
  entries.forEach(([key, value], i) => {
    stateDict.set(key, value);
    if (i === 2) stateDict.set("added", added);
  });
  await ckpt.save(target, { strategy: "stream" });
} finally {
  ckpt.close();
}
