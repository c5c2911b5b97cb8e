// `diff A B`: what differs, as the same comparison done in Python with
// torch and omegaconf finds it; exit codes as diff(1)'s.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { diffCheckpoints } from "../lib/diff/diff.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { cli, fixture, withTempDir } from "./_migrate_cli.ts";
import { runPython, skipTorch } from "./_python.ts";

type Dict = PyDict<string, unknown>;

Deno.test("identical checkpoints differ in nothing, rewritten or not; exit codes 0, 1, 2", async () => {
  await withTempDir(async (dir) => {
    const path = fixture("training.ckpt");
    assert.deepEqual(await cli(["diff", path, path]), { code: 0, stdout: "", stderr: "" });
    const copy = `${dir}/copy.ckpt`;
    assert.equal((await cli(["rewrite", path, "--out", copy, "-q"])).code, 0);
    const same = await cli(["diff", path, copy, "--exact"]);
    assert.equal(same.code, 0, same.stdout);
    const different = await cli(["diff", path, fixture("example_training.ckpt"), "-q"]);
    assert.deepEqual([different.code, different.stdout], [1, ""]);
    const missing = await cli(["diff", path, `${dir}/none.ckpt`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /none\.ckpt: Cannot open: no such file/);
    assert.equal((await cli(["diff", path])).code, 2);
  });
});

Deno.test("tensor changes are found by kind: only in one, renamed, reshaped, changed", async () => {
  const a = await Checkpoint.open(fixture("training.ckpt"));
  const b = await Checkpoint.open(fixture("training.ckpt"));
  try {
    const sd = (b.root as Dict).get("state_dict") as Dict;
    sd.set("moved.weight", sd.pop("encoder.weight"));
    sd.set("decoder.weight", Tensor.fromTypedArray(new Float32Array(6), [3, 2]));
    sd.set("decoder.bias", Tensor.fromTypedArray(new Float32Array(2)));
    sd.set("new", Tensor.fromTypedArray(new Float32Array(1)));
    sd.delete("encoder.bias");
    ((b.root as Dict).get("hyper_parameters") as Dict).set("note", "added");
    const diff = await diffCheckpoints(a, b);
    assert.deepEqual(diff.tensors, {
      onlyInA: ["encoder.bias"],
      onlyInB: ["new"],
      renamed: [["encoder.weight", "moved.weight"]],
      reshaped: [{ name: "decoder.weight", a: "float32 [2, 3]", b: "float32 [3, 2]" }],
      changed: ["decoder.bias"],
      same: 0,
    });
    assert.deepEqual(diff.values, [{ path: "hyper_parameters.note", a: undefined, b: "'added'" }]);
    assert.equal(diff.different, true);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test({
  name: "diff finds what a Python comparison of the same files finds",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      const python = await runPython([
        "-c",
        `import sys, json, torch
from omegaconf import OmegaConf
torch.manual_seed(2)
base = torch.randn(6)
def make(lr, epoch, sd):
    return {"epoch": epoch, "state_dict": sd, "pytorch-lightning_version": "2.5.0",
            "hyper_parameters": {"config": OmegaConf.create({"training": {"lr": lr, "max_epochs": 3}, "name": "x"})},
            "migrations": []}
a_sd = {"keep": torch.ones(2), "old": torch.arange(3.0), "shape": torch.zeros(2, 3),
        "values": torch.zeros(4), "gone": torch.ones(1), "v1": base[:3], "v2": base[3:]}
b_base = base.clone(); b_base[4] = 100.0
b_sd = {"keep": torch.ones(2), "new_name": torch.arange(3.0), "shape": torch.zeros(3, 2),
        "values": torch.ones(4), "added": torch.zeros(5), "v1": b_base[:3], "v2": b_base[3:]}
torch.save(make(0.001, 1, a_sd), sys.argv[1])
torch.save(make(0.0001, 2, b_sd), sys.argv[2])
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
sa, sb = a["state_dict"], b["state_dict"]
eq = lambda x, y: x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)
only_a = [k for k in sa if k not in sb]; only_b = [k for k in sb if k not in sa]
renamed = []
for k in list(only_a):
    for j in only_b:
        if eq(sa[k], sb[j]):
            renamed.append([k, j]); only_a.remove(k); only_b.remove(j); break
reshaped = [k for k in sa if k in sb and (sa[k].shape != sb[k].shape or sa[k].dtype != sb[k].dtype)]
changed = [k for k in sa if k in sb and k not in reshaped and not eq(sa[k], sb[k])]
ca, cb = OmegaConf.to_container(a["hyper_parameters"]["config"]), OmegaConf.to_container(b["hyper_parameters"]["config"])
config = {k: [ca["training"][k], cb["training"][k]] for k in ca["training"] if ca["training"][k] != cb["training"][k]}
print(json.dumps({"onlyInA": only_a, "onlyInB": only_b, "renamed": renamed, "reshaped": reshaped,
                  "changed": changed, "config": config, "epoch": [a["epoch"], b["epoch"]]}))`,
        `${dir}/a.ckpt`,
        `${dir}/b.ckpt`,
      ]);
      const want = JSON.parse(python);
      const exact = await cli(["diff", `${dir}/a.ckpt`, `${dir}/b.ckpt`, "--exact", "--json"]);
      assert.equal(exact.code, 1);
      const got = JSON.parse(exact.stdout);
      assert.deepEqual(got.tensors.onlyInA, want.onlyInA);
      assert.deepEqual(got.tensors.onlyInB, want.onlyInB);
      assert.deepEqual(got.tensors.renamed, want.renamed);
      assert.deepEqual(got.tensors.reshaped.map((r: { name: string }) => r.name), want.reshaped);
      assert.deepEqual(got.tensors.changed, want.changed);
      assert.deepEqual(got.values, [
        { path: "epoch", a: String(want.epoch[0]), b: String(want.epoch[1]) },
        { path: "hyper_parameters.config.training.lr", a: "0.001", b: "0.0001" },
      ]);
      assert.deepEqual(want.config, { lr: [0.001, 0.0001] });
      // Without --exact, v1 shares its storage with v2, whose part changed.
      const fast = JSON.parse(
        (await cli(["diff", `${dir}/a.ckpt`, `${dir}/b.ckpt`, "--json"])).stdout,
      );
      assert.deepEqual(fast.tensors.changed, [...want.changed.slice(0, 1), "v1", "v2"]);
      const text = await cli(["diff", `${dir}/a.ckpt`, `${dir}/b.ckpt`, "--exact"]);
      assert.match(text.stdout, /^hyper_parameters\.config\.training\.lr: 0\.001 -> 0\.0001$/m);
      assert.match(text.stdout, /^ {2}~ old -> new_name$/m);
      assert.match(text.stdout, /^ {2}! shape: float32 \[2, 3\] -> float32 \[3, 2\]$/m);
    });
  },
});
