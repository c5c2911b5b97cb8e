// A file torch cannot load is never written, and never passes a check: a
// save refuses, before writing anything, a tensor whose view does not fit
// its storage, whose dtype is not its typed storage's, or whose shape and
// stride disagree, naming where the tensor sits; a rebuild call in a file
// that torch's rebuild would refuse is an error for every reader.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Parameter, Tensor } from "../lib/torch/tensor.ts";
import { verifyCheckpoint } from "../lib/torch/verify.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { cli, fixture, withTempDir } from "./_migrate_cli.ts";
import { runPython, skipTorch } from "./_python.ts";

type Dict = PyDict<string, unknown>;

const floats = (n: number) => Tensor.fromTypedArray(new Float32Array(n));

/** Each bad tensor, the change that makes it bad, and what the error says. */
const BAD: Array<[string, (t: Tensor) => void, RegExp]> = [
  ["view past its storage", (t) => t.shape = [5], /needs 20 bytes of a storage of 16$/],
  ["offset past its storage", (t) => t.offset = 1, /needs 20 bytes of a storage of 16$/],
  ["stride past its storage", (t) => {
    t.shape = [2, 2];
    t.stride = [3, 1];
  }, /needs 20 bytes of a storage of 16$/],
  [
    "dtype not its storage's",
    (t) => Object.defineProperty(t, "dtype", { value: dtype("int32") }),
    /it is int32 but its storage is a FloatStorage \(float32\)$/,
  ],
  [
    "shape and stride lengths",
    (t) => t.stride = [1, 1],
    /shape has 1 dimensions and its stride 2$/,
  ],
  [
    "negative stride",
    (t) => t.stride = [-1],
    /stride -1 in dimension 0 is not a non-negative integer$/,
  ],
  ["fractional size", (t) => t.shape = [1.5], /size 1.5 in dimension 0/],
  ["negative offset", (t) => t.offset = -1, /storage offset -1 is not a non-negative integer$/],
];

Deno.test("save refuses a tensor torch cannot rebuild, naming where it is, before writing", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out.ckpt`;
    await Deno.writeTextFile(out, "the file that was there");
    for (const [what, spoil, message] of BAD) {
      const ckpt = await Checkpoint.open(fixture("migration_empty.ckpt"));
      try {
        const bad = floats(4);
        spoil(bad);
        const root = ckpt.root as Dict;
        root.set("state_dict", new PyDict([["ok", floats(2)], ["encoder.weight", bad]]));
        root.set("params", [new Parameter(floats(1)), new Parameter(bad)]);
        await assert.rejects(
          ckpt.save(out),
          (error: Error) =>
            error.message.startsWith(
              `Cannot save: the tensor at ['state_dict']['encoder.weight'] cannot be loaded by torch: `,
            ) && message.test(error.message.replace(/; nothing was written$/, "")) &&
            error.message.endsWith("; nothing was written"),
          what,
        );
        assert.throws(() => ckpt.encode(), /^CheckpointError: Cannot encode: the tensor at/, what);
        // Reached only through a parameter: the path says so.
        root.delete("state_dict");
        await assert.rejects(ckpt.save(out), /the tensor at \['params'\]\[1\]\.data cannot/, what);
      } finally {
        ckpt.close();
      }
      assert.equal(await Deno.readTextFile(out), "the file that was there", what);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.ckpt"], what);
    }
  });
});

/** A checkpoint whose data.pkl holds a raw rebuild call with `args` after a real storage. */
async function withRebuild(path: string, args: unknown[]): Promise<void> {
  const ckpt = await Checkpoint.open(fixture("migration_empty.ckpt"));
  const storage = new Storage({
    dtype: dtype("float32")!,
    storageClass: PyGlobal.of("torch", "FloatStorage"),
    location: "cpu",
    numel: 6,
    data: new Uint8Array(24),
  });
  const call = new PyObject(
    PyGlobal.of("torch._utils", "_rebuild_tensor_v2"),
    Tuple.fromArray([storage, ...args]),
  );
  (ckpt.root as Dict).set("w", call);
  // Unchecked: the check after writing refuses such a file too.
  await ckpt.save(path, { verify: false });
  ckpt.close();
}

Deno.test("a rebuild call torch would refuse is an error for verify and show", async () => {
  await withTempDir(async (dir) => {
    const hooks = new PyObject(PyGlobal.of("collections", "OrderedDict"));
    const cases: Array<[string, unknown[], RegExp]> = [
      [
        "shape and stride lengths",
        [0, Tuple.of(2, 3), Tuple.of(3, 1, 1), false, hooks],
        /size has 2 dimensions and its stride 3/,
      ],
      [
        "negative stride",
        [0, Tuple.of(2, 3), Tuple.of(-3, 1), false, hooks],
        /stride is not a tuple of non-negative integers/,
      ],
      ["too few arguments", [0, Tuple.of(6), Tuple.of(1), false], /it has 5 arguments, not 6 or 7/],
      ["requires_grad", [0, Tuple.of(6), Tuple.of(1), 1, hooks], /requires_grad is not a bool/],
    ];
    for (const [what, args, message] of cases) {
      const path = `${dir}/${what.replaceAll(" ", "_")}.ckpt`;
      await withRebuild(path, args);
      const report = await verifyCheckpoint(path);
      assert.equal(report.ok, false, what);
      assert.ok(
        report.problems.some((p) => p.severity === "error" && message.test(p.message)),
        what,
      );
      for (const command of [["verify", path], ["show", path]]) {
        const { code, stderr } = await cli(command);
        assert.equal(code, 1, `${what}: ${command[0]}`);
        assert.match(stderr, message);
      }
    }
  });
});

Deno.test({
  name: "torch refuses those rebuild calls too",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      const hooks = new PyObject(PyGlobal.of("collections", "OrderedDict"));
      await withRebuild(`${dir}/a.ckpt`, [0, Tuple.of(2, 3), Tuple.of(3, 1, 1), false, hooks]);
      const out = await runPython([
        "-c",
        `import sys, torch
try:
    torch.load(sys.argv[1])
    print("loaded")
except Exception as e:
    print("refused", type(e).__name__)`,
        `${dir}/a.ckpt`,
      ]);
      assert.match(out, /^refused/);
    });
  },
});
