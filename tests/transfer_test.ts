// `transfer`: TARGET with SOURCE's tensors where names, shapes and dtypes
// match, the rest kept; equal under torch.load to what the same transfer
// does in Python; byte ranges copied from both files.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { transferWeights } from "../lib/transfer/transfer.ts";
import { cli, fixture, withTempDir } from "./_migrate_cli.ts";
import { runPython, skipTorch } from "./_python.ts";

Deno.test("transfer reports what fits, what does not and why, and edits only what fits", async () => {
  const source = await Checkpoint.open(fixture("training.ckpt"));
  const target = await Checkpoint.open(fixture("training.ckpt"));
  try {
    const sd = (target.root as PyDict).get("state_dict") as PyDict<string, unknown>;
    const original = sd.get("encoder.bias");
    sd.set("decoder.weight", Tensor.fromTypedArray(new Float32Array(6), [3, 2]));
    sd.set("decoder.bias", Tensor.fromTypedArray(new Float64Array(2)));
    sd.set("extra", Tensor.fromTypedArray(new Float32Array(1)));
    const report = transferWeights(source, target, { exclude: /\.bias$/, optimizer: "drop" });
    assert.deepEqual(report.transferred, ["encoder.weight"]);
    assert.deepEqual(report.skipped, [{
      name: "decoder.weight",
      reason: "target float32 [3, 2], source float32 [2, 3]",
    }]);
    assert.deepEqual(report.filtered, ["encoder.bias", "decoder.bias"]);
    assert.deepEqual(report.onlyInTarget, ["extra"]);
    assert.deepEqual(report.onlyInSource, []);
    assert.equal(sd.get("encoder.bias"), original);
    const moved = sd.get("encoder.weight") as Tensor;
    const from = ((source.root as PyDict).get("state_dict") as PyDict).get(
      "encoder.weight",
    ) as Tensor;
    assert.equal(moved.storage, from.storage, "a view of the source's storage, not a copy");
    assert.deepEqual((target.root as PyDict).get("optimizer_states"), []);
    // A mismatch of dtype is named too.
    const dtypes = transferWeights(source, target, { include: /^decoder\.bias$/ });
    assert.deepEqual(dtypes.skipped.map((s) => s.reason), [
      "target float64 [2], source float32 [2]",
    ]);
  } finally {
    source.close();
    target.close();
  }
});

Deno.test("transfer from a pickled model into a training checkpoint, and usage errors", async () => {
  await withTempDir(async (dir) => {
    const { code, stdout, stderr } = await cli([
      "transfer",
      fixture("module.pt"),
      fixture("training.ckpt"),
      "--out",
      `${dir}/out.ckpt`,
    ]);
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      /^wrote \S+: 0 transferred, 0 skipped, 0 filtered out, 4 only in target, 14 only in source; optimizer state kept\n$/,
    );
    const bad = await cli([
      "transfer",
      fixture("module.pt"),
      fixture("training.ckpt"),
      "--out",
      `${dir}/x`,
      "--include",
      "(",
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--include: Invalid regular expression/);
  });
});

Deno.test({
  name: "torch.load reads transfer's output equal to the same transfer done in Python",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      // A source trained further, with one layer resized, and a target.
      await runPython([
        "-c",
        `import sys, torch
torch.manual_seed(0)
def ckpt(sizes):
    sd = {f"layer{i}.weight": torch.randn(o, n) for i, (n, o) in enumerate(sizes)}
    sd["step"] = torch.tensor(3)
    sd["half"] = torch.randn(4).half()
    return {"pytorch-lightning_version": "2.5.0", "state_dict": sd, "epoch": 1,
            "optimizer_states": [{"state": {0: {"exp_avg": torch.ones(2)}}, "param_groups": []}]}
torch.save(ckpt([(4, 8), (8, 8), (8, 2)]), sys.argv[1])
source = ckpt([(4, 8), (8, 16), (16, 2)])
source["state_dict"]["half"] = source["state_dict"]["half"].float()
source["state_dict"]["only_here"] = torch.zeros(1)
torch.save(source, sys.argv[2])`,
        `${dir}/target.ckpt`,
        `${dir}/source.ckpt`,
      ]);
      const ours = await cli([
        "transfer",
        `${dir}/source.ckpt`,
        `${dir}/target.ckpt`,
        "--out",
        `${dir}/ours.ckpt`,
        "--exclude",
        "^step$",
        "--json",
      ]);
      assert.equal(ours.code, 0, ours.stderr);
      const report = JSON.parse(ours.stdout);
      assert.deepEqual(report.transferred, ["layer0.weight"]);
      assert.deepEqual(report.skipped.map((s: { name: string }) => s.name), [
        "layer1.weight",
        "layer2.weight",
        "half",
      ]);
      const out = await runPython([
        "-c",
        `import sys, re, torch
target, source = torch.load(sys.argv[1]), torch.load(sys.argv[2])
for k, v in list(target["state_dict"].items()):
    s = source["state_dict"].get(k)
    if s is not None and s.shape == v.shape and s.dtype == v.dtype and not re.search("^step$", k):
        target["state_dict"][k] = s
ours = torch.load(sys.argv[3])
assert list(ours) == list(target), (list(ours), list(target))
assert list(ours["state_dict"]) == list(target["state_dict"])
for k, v in target["state_dict"].items():
    assert torch.equal(ours["state_dict"][k], v) and ours["state_dict"][k].dtype == v.dtype, k
assert torch.equal(ours["optimizer_states"][0]["state"][0]["exp_avg"], target["optimizer_states"][0]["state"][0]["exp_avg"])
assert ours["epoch"] == target["epoch"]
print("ok")`,
        `${dir}/target.ckpt`,
        `${dir}/source.ckpt`,
        `${dir}/ours.ckpt`,
      ]);
      assert.match(out, /^ok$/m);
    });
  },
});
