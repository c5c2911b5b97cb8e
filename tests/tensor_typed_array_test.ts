// Tensor.fromTypedArray and toTypedArray: every typed array JS has, float16
// and bfloat16 read as numbers, and the dtype option converting values as
// torch.tensor(array).to(dtype) does.
import assert from "node:assert/strict";
import { castElements } from "../lib/torch/cast.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Tensor, type TensorArray } from "../lib/torch/tensor.ts";
import { TensorError } from "../lib/torch/tensor_error.ts";
import { runPython, skipTorch } from "./_python.ts";
import { toHex } from "./_tensor_vectors.ts";

const bytesOf = (array: ArrayBufferView) =>
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

// Each typed array with the dtype it holds, and values that exercise its range.
const ARRAYS: [string, TensorArray][] = [
  ["float64", new Float64Array([1.5, -0, 1 + 2 ** -11 + 2 ** -40, 65520, 1e300, -3.75, NaN, 300])],
  ["float32", new Float32Array([1.5, -0, 1 + 2 ** -8, 65519.99, 3e9, -129.5, Infinity, -1])],
  ["float16", new Float16Array([1.5, -0, 65504, 2 ** -24, -2.5, 255, 0.1, -Infinity])],
  ["int64", new BigInt64Array([0n, -1n, 2n ** 62n + 2n ** 38n + 1n, -(2n ** 63n), 300n])],
  ["int32", new Int32Array([0, -1, 16842753, 2 ** 31 - 1, -(2 ** 31), 65520])],
  ["int16", new Int16Array([0, -1, 300, -32768, 32767, 129])],
  ["int8", new Int8Array([0, -1, 127, -128, 5])],
  ["uint8", new Uint8Array([0, 1, 2, 128, 255])],
];

Deno.test("fromTypedArray takes a Float16Array as float16", async () => {
  const t = Tensor.fromTypedArray(new Float16Array([1.5, -2, 65504]));
  assert.equal(t.dtype.name, "float16");
  assert.deepEqual(await t.bytes(), new Uint8Array([0x00, 0x3e, 0x00, 0xc0, 0xff, 0x7b]));
  const back = await t.toTypedArray();
  assert.ok(back instanceof Float16Array);
  assert.deepEqual([...back], [1.5, -2, 65504]);
});

Deno.test("toTypedArray reads bfloat16 as float32, exactly", async () => {
  const bits = new Uint16Array([0x3f80, 0xc0a0, 0x7f7f, 0x0001, 0x7f80, 0x8000]);
  const t = Tensor.fromTypedArray(new Float32Array(6), [2, 3], { dtype: "bfloat16" });
  (await t.storage.bytes()).set(bytesOf(bits));
  const values = await t.toTypedArray();
  assert.ok(values instanceof Float32Array);
  const widened = new Uint32Array(values.buffer);
  assert.deepEqual([...widened], [...bits].map((b) => (b << 16) >>> 0));
});

Deno.test("toTypedArray gives each dtype's own array, a copy", async () => {
  for (const [name, array] of ARRAYS) {
    const t = Tensor.fromTypedArray(array);
    assert.equal(t.dtype.name, name);
    const back = await t.toTypedArray();
    assert.equal(back.constructor, array.constructor, name);
    assert.deepEqual(bytesOf(back), bytesOf(array), name);
    assert.notEqual(back.buffer, (await t.storage.bytes()).buffer, name);
  }
  const clamped = Tensor.fromTypedArray(new Uint8ClampedArray([0, 200, 255]));
  assert.equal(clamped.dtype.name, "uint8");
  assert.deepEqual(await clamped.toTypedArray(), new Uint8Array([0, 200, 255]));
  for (
    const [name, array] of [["uint16", new Uint16Array([1, 65535])], [
      "uint32",
      new Uint32Array([1, 2 ** 32 - 1]),
    ], ["uint64", new BigUint64Array([1n, 2n ** 64n - 1n])]] as const
  ) {
    const t = Tensor.fromTypedArray(array);
    assert.equal(t.dtype.name, name);
    assert.deepEqual(await t.toTypedArray(), array);
  }
  const flags = await Tensor.fromTypedArray(new Uint8Array([0, 1]), [2], { dtype: "bool" })
    .toTypedArray();
  assert.ok(flags instanceof Uint8Array);
  assert.deepEqual([...flags], [0, 1]);
});

Deno.test("fromTypedArray's dtype converts the values as torch does", async () => {
  // float64 1 + 2**-11 + 2**-40 rounds through float32 to float16 1.0 (0x3C00), not 0x3C01.
  const half = Tensor.fromTypedArray(new Float64Array([1 + 2 ** -11 + 2 ** -40]), [1], {
    dtype: "float16",
  });
  assert.equal(half.dtype.name, "float16");
  assert.deepEqual(await half.bytes(), new Uint8Array([0x00, 0x3c]));
  const bytes = Tensor.fromTypedArray(new Float32Array([-1, 255.5, 256, 3e9]), [2, 2], {
    dtype: "uint8",
  });
  assert.deepEqual([...await bytes.toTypedArray()], [0xff, 0xff, 0x00, 0x00]);
  assert.deepEqual(bytes.shape, [2, 2]);
  const flags = Tensor.fromTypedArray(new Uint8Array([0, 1, 2, 255]), [4], { dtype: "bool" });
  assert.deepEqual([...await flags.bytes()], [0, 1, 1, 1]);
  // Every array to every dtype, as castElements converts its elements.
  for (const [from, array] of ARRAYS) {
    for (const to of ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16"]) {
      const t = Tensor.fromTypedArray(array, [array.length], { dtype: to });
      assert.equal(t.dtype.name, to);
      const expected = castElements(bytesOf(array), dtype(from)!, dtype(to)!);
      assert.equal(toHex(await t.bytes()), toHex(expected), `${from} -> ${to}`);
    }
  }
});

Deno.test("fromTypedArray refuses a dtype it cannot convert to, or a wrong shape", () => {
  const refused = (array: TensorArray, to: string, pattern: RegExp) =>
    assert.throws(
      () => Tensor.fromTypedArray(array, [array.length], { dtype: to }),
      (error) => error instanceof TensorError && pattern.test(error.message),
      `${array.constructor.name} -> ${to}`,
    );
  refused(new Uint8Array(8), "complex64", /^Cannot convert uint8 to complex64: /);
  refused(new Float32Array(2), "float8_e4m3fn", /^Cannot convert float32 to float8_e4m3fn: /);
  refused(new Uint16Array(2), "float32", /^Cannot convert uint16 to float32: /);
  refused(new Float32Array(2), "no_such", /^Cannot create tensor: unknown dtype no_such$/);
  // A dtype that needs no conversion is fine, castable or not.
  assert.equal(Tensor.fromTypedArray(new Uint16Array(2), [2], { dtype: "uint16" }).numel, 2);
  assert.throws(
    () => Tensor.fromTypedArray(new Float32Array(6), [4]),
    (error) =>
      error instanceof TensorError &&
      error.message === "Cannot create tensor: shape [4] has 4 elements, the array has 6",
  );
  assert.throws(
    () => Tensor.fromTypedArray(new Float32Array(0), [-1, 0]),
    (error) =>
      error instanceof TensorError && error.torchError === "RuntimeError" &&
      error.message ===
        "Cannot create tensor: Trying to create tensor with negative dimension -1: [-1, 0]",
  );
});

Deno.test({
  name: "fromTypedArray with a dtype equals torch.tensor(array).to(dtype)",
  ignore: skipTorch,
  async fn() {
    const script = `
import sys, json, numpy as np, torch
out = {}
for name, kind, values, to in json.loads(sys.argv[1]):
    array = np.array([float(v) if kind.startswith("float") else int(v) for v in values], dtype=kind)
    t = torch.tensor(array).to(getattr(torch, to))
    raw = t.view(torch.uint8) if t.dtype == torch.bool else t.view({1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])
    out[f"{name}->{to}"] = raw.numpy().tobytes().hex()
print(json.dumps(out))`;
    const numpyKind: Record<string, string> = {
      float64: "float64",
      float32: "float32",
      float16: "float16",
      int64: "int64",
      int32: "int32",
      int16: "int16",
      int8: "int8",
      uint8: "uint8",
    };
    const targets = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8"]
      .concat(["uint8", "bool"]);
    const cases = ARRAYS.flatMap(([name, array]) =>
      targets.map((to) => [
        name,
        numpyKind[name],
        // NaN and infinities as Python's float() spells them.
        Array.from(
          array as ArrayLike<number | bigint>,
          (v) => Object.is(v, -0) ? "-0.0" : String(v).replace("Infinity", "inf"),
        ),
        to,
      ])
    );
    const torchBytes = JSON.parse(await runPython(["-c", script, JSON.stringify(cases)]));
    for (const [name, array] of ARRAYS) {
      for (const to of targets) {
        const t = Tensor.fromTypedArray(array, [array.length], { dtype: to });
        const expected = torchBytes[`${name}->${to}`];
        const actual = toHex(await t.bytes());
        if (name === "float64" && ["float32", "float16", "bfloat16"].includes(to)) {
          // The NaN element: ckptkit's canonical NaN, torch's depends on its kernel.
          const size = dtype(to)!.itemsize * 2;
          assert.equal(actual.slice(0, 6 * size), expected.slice(0, 6 * size), `${name}->${to}`);
          assert.equal(actual.slice(7 * size), expected.slice(7 * size), `${name}->${to}`);
        } else assert.equal(actual, expected, `${name}->${to}`);
      }
    }
  },
});
