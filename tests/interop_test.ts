// Round trips checked by real PyTorch: what ckptkit writes must load in
// torch.load to the same value as the input, record by record.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import type { PyObject } from "../lib/pickle/py_object.ts";
import { runPython, skipTorch } from "./_python.ts";

const root = new URL("../", import.meta.url).pathname;
const FIXTURES = ["state_dict", "tensors", "training", "values", "layout_small"];

for (const name of FIXTURES) {
  Deno.test({
    name: `torch.load reads ckptkit's rewrite of ${name}.ckpt as the original`,
    ignore: skipTorch,
    async fn() {
      const input = `${root}tests/fixtures/${name}.ckpt`;
      const dir = await Deno.makeTempDir();
      const output = `${dir}/${name}.ckpt`;
      try {
        const ckpt = await Checkpoint.open(input);
        await ckpt.save(output);
        ckpt.close();
        await runPython([`${root}tests/interop/compare.py`, input, output]);
        assert.match(await runPython([`${root}tests/interop/check_records.py`, output]), /ok/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "torch.load sees renamed keys and new tensors written by ckptkit",
  ignore: skipTorch,
  async fn() {
    const dir = await Deno.makeTempDir();
    const output = `${dir}/edited.ckpt`;
    try {
      const ckpt = await Checkpoint.open(`${root}tests/fixtures/state_dict.ckpt`);
      const stateDict = ckpt.root as PyObject<string, unknown>;
      stateDict.set("classifier.weight", stateDict.pop("fc.weight"));
      stateDict.set(
        "extra",
        Tensor.fromTypedArray(new Float64Array([1.5, -2, 3.25, 4, 5, 6]), [2, 3]),
      );
      await ckpt.save(output);
      ckpt.close();
      const out = await runPython([
        "-c",
        `import torch, sys
sd = torch.load(sys.argv[1])
assert "fc.weight" not in sd and list(sd)[-2:] == ["classifier.weight", "extra"], list(sd)
assert sd["classifier.weight"].shape == (8, 8)
assert sd["extra"].dtype == torch.float64 and sd["extra"].tolist() == [[1.5, -2, 3.25], [4, 5, 6]]
assert sd._metadata is not None
print("ok")`,
        output,
      ]);
      assert.match(out, /ok/);
      assert.match(await runPython([`${root}tests/interop/check_records.py`, output]), /ok/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "dis lists the same opcodes as python -m pickletools",
  ignore: skipTorch,
  async fn() {
    const { dis } = await import("../lib/pickle/dis.ts");
    for (const name of FIXTURES) {
      const ckpt = await Checkpoint.open(`${root}tests/fixtures/${name}.ckpt`);
      const file = await Deno.makeTempFile();
      await Deno.writeFile(file, ckpt.pickleBytes);
      ckpt.close();
      const expected = await runPython(["-m", "pickletools", file]);
      await Deno.remove(file);
      assert.equal(dis(ckpt.pickleBytes), expected.trimEnd(), name);
    }
  },
});
