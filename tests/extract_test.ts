// `extract`: the weights alone. From a pickled nn.Module, the state_dict
// module.state_dict() gives (checked offline against what torch recorded
// in tests/fixtures/module.json, and live against torch); as .safetensors
// checked by a reader written from the format's specification; as a torch
// file that torch.load(weights_only=True) loads equal to state_dict().
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { extractWeights, findWeights } from "../lib/extract/extract.ts";
import { moduleStateDict } from "../lib/extract/module_state_dict.ts";
import { writeSafetensors } from "../lib/extract/safetensors.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import type { PyObject } from "../lib/pickle/py_object.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { readSafetensors } from "./_safetensors_reader.ts";
import { cli, fixture, root, withTempDir } from "./_migrate_cli.ts";
import { runPython, skipTorch } from "./_python.ts";

interface Expected {
  keys: string[];
  tensors: Record<string, { dtype: string; shape: number[]; sha256: string }>;
  metadata: Record<string, { version: number }>;
}

const MODULE = fixture("module.pt");
const expected = JSON.parse(await Deno.readTextFile(fixture("module.json"))) as Expected;

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes.slice());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const CODES: Record<string, string> = {
  float32: "F32",
  float64: "F64",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
  complex64: "C64",
};

Deno.test("a pickled module's state_dict is module.state_dict(): order, persistence, ties, versions", async () => {
  const ckpt = await Checkpoint.open(MODULE);
  try {
    const { entries, metadata } = moduleStateDict(ckpt.root);
    assert.deepEqual(entries.map(([key]) => key), expected.keys);
    assert.deepEqual(
      Object.fromEntries(metadata.map(([prefix, version]) => [prefix, { version }])),
      expected.metadata,
    );
    for (const [key, tensor] of entries) {
      const want = expected.tensors[key];
      assert.equal(tensor.dtype.name, want.dtype, key);
      assert.deepEqual(tensor.shape, want.shape, key);
      assert.equal(tensor.requiresGrad, false, key);
      assert.equal(await sha256(await tensor.bytes()), want.sha256, key);
    }
    // Tied weights: two entries, one storage.
    const byKey = new Map(entries);
    assert.equal(byKey.get("tied.embed.weight")!.storage, byKey.get("tied.decode.weight")!.storage);
  } finally {
    ckpt.close();
  }
});

Deno.test("extract .safetensors: the specification's rules, torch's writer order, the values", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/weights.safetensors`;
    const { code, stdout, stderr } = await cli(["extract", MODULE, "--out", out]);
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      /^wrote \S+: 14 tensors \(the module's state_dict\), \d+ bytes \(safetensors\)\n {2}tied\.embed\.weight: stored as tied\.decode\.weight\n$/,
    );
    const file = readSafetensors(await Deno.readFile(out));
    // Padded with spaces to a multiple of 8; compact JSON, __metadata__ first.
    assert.equal(file.headerSize % 8, 0);
    assert.match(
      file.headerText,
      /^\{"__metadata__":\{"format":"pt","tied\.embed\.weight":"tied\.decode\.weight"\},"/,
    );
    assert.match(file.headerText, /\} *$/);
    assert.deepEqual(file.metadata, { format: "pt", "tied.embed.weight": "tied.decode.weight" });
    // dtype by alignment descending (int64 before float32), then name.
    assert.deepEqual(file.order, [
      "1.num_batches_tracked",
      ...expected.keys.filter((k) => k !== "1.num_batches_tracked" && k !== "tied.embed.weight")
        .sort(),
    ]);
    for (const name of file.order) {
      const tensor = file.tensors.get(name)!;
      const want = expected.tensors[name];
      assert.equal(tensor.dtype, CODES[want.dtype], name);
      assert.deepEqual(tensor.shape, want.shape, name);
      // Strided views (views.tail is transposed) are written contiguous.
      assert.equal(await sha256(tensor.data), want.sha256, name);
    }
  });
});

Deno.test("extract .pt from a training checkpoint keeps its _metadata and drops other records", async () => {
  await withTempDir(async (dir) => {
    const ckpt = await Checkpoint.open(fixture("training.ckpt"));
    const report = await extractWeights(ckpt, `${dir}/w.pt`);
    assert.deepEqual([report.kind, report.key, report.tensors], ["state_dict", "state_dict", 4]);
    assert.ok(!(ckpt.root as PyDict).has("encoder.weight"), "the checkpoint is left as it was");
    ckpt.close();
    const weights = await Checkpoint.open(`${dir}/w.pt`);
    const dict = weights.root as PyDict;
    assert.deepEqual([...dict.keys()], [
      "encoder.weight",
      "encoder.bias",
      "decoder.weight",
      "decoder.bias",
    ]);
    assert.equal(weights.recordNames.filter((name) => name.startsWith("data/")).length, 4);
    const metadata = ((weights.root as PyObject).state as PyDict).get("_metadata") as PyDict;
    assert.deepEqual([...metadata.keys()], ["", "encoder", "decoder"]);
    weights.close();
    // From anemoi's inference checkpoint shape: its metadata record is not weights.
    await cli(["extract", MODULE, "--out", `${dir}/m.pt`]);
    const names = (await Checkpoint.open(`${dir}/m.pt`)).recordNames;
    assert.ok(!names.some((name) => name.startsWith("anemoi-metadata")), names.join());
  });
});

Deno.test("what cannot be extracted is refused in one line, nothing written", async () => {
  await withTempDir(async (dir) => {
    const cases: Array<[string[], RegExp]> = [
      [
        ["extract", fixture("values.ckpt"), "--out", `${dir}/a.pt`],
        /has no state_dict and is no pickled module; name the dict of tensors with --key/,
      ],
      [
        ["extract", fixture("training.ckpt"), "--out", `${dir}/a.pt`, "--key", "loops"],
        /loops\['fit_loop'\] is not a tensor/,
      ],
      [
        ["extract", fixture("training.ckpt"), "--out", `${dir}/a.pt`, "--key", "nope"],
        /Cannot find nope/,
      ],
      [
        ["extract", fixture("training.ckpt"), "--out", `${dir}/a.pt`, "--key", "epoch"],
        /epoch is neither a dict of tensors nor a module/,
      ],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await cli(args);
      assert.equal(code, 1, args.join(" "));
      assert.match(stderr, message);
      assert.equal(stderr.trimEnd().split("\n").length, 1);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    await assert.rejects(
      writeSafetensors(`${dir}/x.safetensors`, [[
        "__metadata__",
        Tensor.fromTypedArray(new Float32Array(1)),
      ]]),
      /cannot be named __metadata__/,
    );
    assert.throws(() => findWeights(new PyDict([["w", 1]])), /has no state_dict/);
  });
});

Deno.test({
  name: "torch loads extract's .pt with weights_only=True equal to the model's state_dict()",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      const { code, stderr } = await cli(["extract", MODULE, "--out", `${dir}/w.pt`]);
      assert.equal(code, 0, stderr);
      const out = await runPython([
        "-c",
        `import sys, torch
sys.path.insert(0, sys.argv[1])
sd = torch.load(sys.argv[2], weights_only=True)
ref = torch.load(sys.argv[3]).state_dict()
assert list(sd) == list(ref), (list(sd), list(ref))
for k in ref:
    assert torch.equal(sd[k], ref[k]) and sd[k].stride() == ref[k].stride() and sd[k].dtype == ref[k].dtype, k
    assert not sd[k].requires_grad, k
assert dict(sd._metadata) == dict(ref._metadata), sd._metadata
assert sd["tied.embed.weight"].data_ptr() == sd["tied.decode.weight"].data_ptr()
print("ok")`,
        `${root}tests/fixtures/stubs`,
        `${dir}/w.pt`,
        MODULE,
      ]);
      assert.match(out, /^ok$/m);
    });
  },
});

Deno.test({
  name: "every dtype safetensors has a code for, views and sharing, against torch's bytes",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      // A state_dict of every torch 1.13 dtype with a safetensors code, a
      // transposed view, two overlapping views and one tensor under two names.
      const digests = JSON.parse(
        await runPython([
          "-c",
          `import sys, json, hashlib, torch
torch.manual_seed(1)
base = torch.randn(4, 6)
sd = {
    "f64": torch.randn(3, dtype=torch.float64), "f16": torch.randn(5).half(),
    "bf16": torch.randn(5).bfloat16(), "i64": torch.arange(-3, 3), "i32": torch.arange(4, dtype=torch.int32),
    "i16": torch.arange(3, dtype=torch.int16), "i8": torch.arange(-2, 2, dtype=torch.int8),
    "u8": torch.arange(250, 256, dtype=torch.uint8), "b": torch.tensor([True, False, True]),
    "c64": torch.randn(2, dtype=torch.complex64), "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
    "t": base.t(), "left": base[:, :4], "right": base[:, 2:], "same": base, "alias": base,
}
torch.save(sd, sys.argv[1])
def raw(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16: t = t.view(torch.int16)
    return t.numpy().tobytes()
print(json.dumps({k: [str(v.dtype)[6:], list(v.shape), hashlib.sha256(raw(v)).hexdigest()] for k, v in sd.items()}))`,
          `${dir}/in.ckpt`,
        ]),
      ) as Record<string, [string, number[], string]>;
      const { code, stdout, stderr } = await cli([
        "extract",
        `${dir}/in.ckpt`,
        "--out",
        `${dir}/out.safetensors`,
        "--json",
      ]);
      assert.equal(code, 0, stderr);
      assert.deepEqual(JSON.parse(stdout).shared, [["same", "alias"]]);
      const file = readSafetensors(await Deno.readFile(`${dir}/out.safetensors`));
      assert.deepEqual(file.metadata, { format: "pt", same: "alias" });
      for (const [name, [dtype, shape, digest]] of Object.entries(digests)) {
        if (name === "same") continue;
        const tensor = file.tensors.get(name)!;
        assert.equal(tensor.dtype, CODES[dtype], name);
        assert.deepEqual(tensor.shape, shape, name);
        assert.equal(await sha256(tensor.data), digest, name);
      }
      // complex128 has no safetensors code: refused, and a torch file takes it.
      await runPython([
        "-c",
        `import sys, torch; torch.save({"c": torch.zeros(2, dtype=torch.complex128)}, sys.argv[1])`,
        `${dir}/c.ckpt`,
      ]);
      const refused = await cli(["extract", `${dir}/c.ckpt`, "--out", `${dir}/c.safetensors`]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /c is complex128, which safetensors has no type for/);
      assert.equal((await cli(["extract", `${dir}/c.ckpt`, "--out", `${dir}/c.pt`])).code, 0);
    });
  },
});

Deno.test({
  name: "a module with state_dict hooks is refused: the hooks are code",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      await runPython([
        "-c",
        `import sys, torch
sys.path.insert(0, sys.argv[1])
import ckptkit_modules
m = torch.nn.Linear(2, 2)
m._register_state_dict_hook(ckptkit_modules.add_key)
torch.save(m, sys.argv[2])`,
        `${root}tests/fixtures/stubs`,
        `${dir}/hooked.pt`,
      ]);
      const { code, stderr } = await cli(["extract", `${dir}/hooked.pt`, "--out", `${dir}/w.pt`]);
      assert.equal(code, 1);
      assert.match(
        stderr,
        /the root module has _state_dict_hooks \(code that changes its state_dict\)/,
      );
    });
  },
});
