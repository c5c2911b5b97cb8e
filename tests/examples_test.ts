import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { castElements } from "../lib/torch/cast.ts";
import { Parameter, Tensor } from "../lib/torch/tensor.ts";
import { runPython, skipTorch } from "./_python.ts";

const root = new URL("../", import.meta.url).pathname;

async function run(script: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}examples/${script}`, ...args],
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test("examples/rename_keys.ts renames keys in place, in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/renamed.ckpt`;
    const printed = await run("rename_keys.ts", [`${root}tests/fixtures/state_dict.ckpt`, out]);
    assert.match(printed, /^fc\.weight -> classifier\.weight$/m);
    assert.match(printed, /^head\.0\.proj\.bias -> head\.0\.linear\.bias$/m);
    const before = await Checkpoint.open(`${root}tests/fixtures/state_dict.ckpt`);
    const after = await Checkpoint.open(out);
    const oldKeys = [...(before.root as PyDict<string, Tensor>).keys()];
    const newKeys = [...(after.root as PyDict<string, Tensor>).keys()];
    assert.equal(newKeys.length, oldKeys.length);
    assert.equal(newKeys[oldKeys.indexOf("fc.weight")], "classifier.weight");
    assert.ok(!newKeys.some((k) => k.startsWith("fc.")));
    const a = (before.root as PyDict<string, Tensor>).getItem("fc.weight");
    const b = (after.root as PyDict<string, Tensor>).getItem("classifier.weight");
    assert.deepEqual(await b.bytes(), await a.bytes());
    before.close();
    after.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/drop_optimizer_state.ts removes optimizer storages", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = `${root}tests/fixtures/training.ckpt`;
    const out = `${dir}/small.ckpt`;
    const printed = await run("drop_optimizer_state.ts", [input, out]);
    assert.match(printed, /dropped optimizer_states, lr_schedulers/);
    const ckpt = await Checkpoint.open(out);
    const keys = [...(ckpt.root as PyDict<string, unknown>).keys()];
    assert.ok(!keys.includes("optimizer_states") && keys.includes("state_dict"));
    const storages = ckpt.recordNames.filter((n) => n.startsWith("data/")).length;
    const original = await Checkpoint.open(input);
    const originalStorages = original.recordNames.filter((n) => n.startsWith("data/")).length;
    assert.ok(storages < originalStorages, `${storages} < ${originalStorages}`);
    assert.ok((await Deno.stat(out)).size < (await Deno.stat(input)).size);
    ckpt.close();
    original.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- tensor surgery examples ---

/** tests/fixtures/state_dict.ckpt with other values and a DDP prefix, as a pretrained run would have. */
async function pretrainedFixture(path: string): Promise<void> {
  const ckpt = await Checkpoint.open(`${root}tests/fixtures/state_dict.ckpt`);
  const stateDict = ckpt.root as PyDict<string, unknown>;
  const entries = [...stateDict.entries()] as [string, Tensor][];
  stateDict.clear();
  for (const [key, t] of entries) {
    if (key === "head.2.weight") continue; // not pretrained
    const shape = key === "fc.weight" ? [3, 8] : t.shape; // another head size
    const value = t.dtype.name === "int64" ? 5 : new PyFloat(0.25);
    stateDict.set(`module.${key}`, Tensor.full(shape, value, t.dtype));
  }
  await ckpt.save(path);
  ckpt.close();
}

Deno.test("examples/transfer_learning.ts copies matching pretrained tensors, keeps the rest", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await pretrainedFixture(`${dir}/pretrained.ckpt`);
    const target = `${root}tests/fixtures/state_dict.ckpt`;
    const printed = await run("transfer_learning.ts", [
      `${dir}/pretrained.ckpt`,
      target,
      `${dir}/out.ckpt`,
    ]);
    assert.match(printed, /^kept fc\.weight: float32 \[3, 8\] pretrained, float32 \[8, 8\] here$/m);
    assert.match(printed, /^kept head\.2\.weight: not pretrained$/m);
    assert.match(printed, /^copied 13 tensors, kept 2$/m);
    const before = await Checkpoint.open(target);
    const after = await Checkpoint.open(`${dir}/out.ckpt`);
    const original = before.root as PyDict<string, Tensor>;
    const out = after.root as PyDict<string, Tensor>;
    assert.deepEqual([...out.keys()], [...original.keys()]);
    for (const [key, t] of out.entries()) {
      const kept = key === "fc.weight" || key === "head.2.weight";
      const expected = kept
        ? await original.getItem(key).bytes()
        : await Tensor.full(t.shape, t.dtype.name === "int64" ? 5 : new PyFloat(0.25), t.dtype)
          .bytes();
      assert.deepEqual(await t.bytes(), expected, key);
    }
    before.close();
    after.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/cast_for_inference.ts casts float tensors as torch rounds them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = `${root}tests/fixtures/training.ckpt`;
    for (const dtype of ["bfloat16", "float16"]) {
      const out = `${dir}/${dtype}.ckpt`;
      const printed = await run("cast_for_inference.ts", [input, out, dtype]);
      assert.match(printed, new RegExp(`^cast 4 tensors to ${dtype}: \\d+ -> \\d+ bytes$`, "m"));
      const source = await Checkpoint.open(input);
      const cast = await Checkpoint.open(out);
      const weights = (source.root as PyDict<string, unknown>).get("state_dict") as PyDict<
        string,
        Tensor
      >;
      const result = cast.root as PyDict<string, Tensor>;
      assert.deepEqual([...result.keys()], [...weights.keys()]);
      for (const [key, t] of result.entries()) {
        assert.equal(t.dtype.name, dtype, key);
        const expected = castElements(
          await weights.getItem(key).bytes(),
          weights.getItem(key).dtype,
          t.dtype,
        );
        assert.deepEqual(await t.bytes(), expected, key);
      }
      source.close();
      cast.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A checkpoint with fused qkv projections: a state_dict of two attention blocks. */
async function fusedFixture(path: string): Promise<void> {
  const ckpt = await Checkpoint.open(`${root}tests/fixtures/state_dict.ckpt`);
  const d = 4;
  const values = (n: number, k: number) => new Float32Array(n).map((_, i) => i * 0.5 + k);
  const sd = new PyDict<string, unknown>([
    ["blocks.0.attn.qkv.weight", Tensor.fromTypedArray(values(3 * d * d, 0), [3 * d, d])],
    ["blocks.0.attn.qkv.bias", Tensor.fromTypedArray(values(3 * d, 1), [3 * d])],
    ["blocks.0.attn.proj.weight", Tensor.fromTypedArray(values(d * d, 2), [d, d])],
    [
      "blocks.1.attn.qkv.weight",
      new Parameter(Tensor.fromTypedArray(values(3 * d * d, 3), [3 * d, d])),
    ],
  ]);
  ckpt.root = sd;
  await ckpt.save(path);
  ckpt.close();
}

Deno.test("examples/split_qkv.ts splits fused projections in place, each in its own storage", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await fusedFixture(`${dir}/fused.ckpt`);
    const printed = await run("split_qkv.ts", [`${dir}/fused.ckpt`, `${dir}/split.ckpt`]);
    assert.match(printed, /^split blocks\.0\.attn\.qkv\.weight$/m);
    const fused = await Checkpoint.open(`${dir}/fused.ckpt`);
    const split = await Checkpoint.open(`${dir}/split.ckpt`);
    const before = fused.root as PyDict<string, Tensor | Parameter>;
    const after = split.root as PyDict<string, Tensor | Parameter>;
    assert.deepEqual([...after.keys()], [
      "blocks.0.attn.q.weight",
      "blocks.0.attn.k.weight",
      "blocks.0.attn.v.weight",
      "blocks.0.attn.q.bias",
      "blocks.0.attn.k.bias",
      "blocks.0.attn.v.bias",
      "blocks.0.attn.proj.weight",
      "blocks.1.attn.q.weight",
      "blocks.1.attn.k.weight",
      "blocks.1.attn.v.weight",
    ]);
    for (
      const [fusedKey, kind] of [["blocks.0.attn.qkv.weight", "weight"], [
        "blocks.0.attn.qkv.bias",
        "bias",
      ], ["blocks.1.attn.qkv.weight", "weight"]]
    ) {
      const whole = await before.getItem(fusedKey).bytes();
      const third = whole.length / 3;
      for (const [i, name] of ["q", "k", "v"].entries()) {
        const part = after.getItem(fusedKey.replace(`qkv.${kind}`, `${name}.${kind}`));
        assert.equal(part.storage.nbytes, third);
        assert.deepEqual(await part.bytes(), whole.subarray(i * third, (i + 1) * third));
      }
    }
    assert.ok(after.getItem("blocks.1.attn.k.weight") instanceof Parameter);
    fused.close();
    split.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the surgery examples' outputs load in torch with torch's values",
  ignore: skipTorch,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const fixtures = `${root}tests/fixtures`;
      await pretrainedFixture(`${dir}/pretrained.ckpt`);
      await run("transfer_learning.ts", [
        `${dir}/pretrained.ckpt`,
        `${fixtures}/state_dict.ckpt`,
        `${dir}/transferred.ckpt`,
      ]);
      for (const dtype of ["bfloat16", "float16"]) {
        await run("cast_for_inference.ts", [
          `${fixtures}/training.ckpt`,
          `${dir}/${dtype}.ckpt`,
          dtype,
        ]);
      }
      await fusedFixture(`${dir}/fused.ckpt`);
      await run("split_qkv.ts", [`${dir}/fused.ckpt`, `${dir}/split.ckpt`]);
      const out = await runPython([
        "-c",
        `import sys, torch
d, f = sys.argv[1], sys.argv[2]
sys.path.insert(0, f + "/stubs")
# transfer: pretrained values where name and shape match, the target's elsewhere
pre = torch.load(d + "/pretrained.ckpt")
target = torch.load(f + "/state_dict.ckpt")
out = torch.load(d + "/transferred.ckpt")
assert list(out) == list(target)
for k, v in out.items():
    p = pre.get("module." + k)
    expected = p if p is not None and p.shape == target[k].shape else target[k]
    assert torch.equal(v, expected), k
model = torch.load(f + "/training.ckpt")["state_dict"]
for dtype in ("bfloat16", "float16"):
    cast = torch.load(d + "/" + dtype + ".ckpt")
    assert list(cast) == list(model)
    for k, v in model.items():
        want = v.to(getattr(torch, dtype))
        assert cast[k].dtype == want.dtype and torch.equal(cast[k], want), (dtype, k)
fused = torch.load(d + "/fused.ckpt")
split = torch.load(d + "/split.ckpt")
for k, v in fused.items():
    if "qkv" not in k:
        assert torch.equal(split[k], v)
        continue
    for name, part in zip("qkv", v.chunk(3)):
        got = split[k.replace("qkv.", name + ".")]
        assert torch.equal(got, part) and got.storage().size() == part.numel(), k
        assert type(got) is type(v), (k, type(got))
print("ok")`,
        dir,
        fixtures,
      ]);
      assert.match(out, /ok/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
