// Tensor views and copies against torch: every recorded vector
// (tests/fixtures/tensor_views.json: 22 layouts x 150 ops, zeros/full) and,
// with torch, random layouts and ops, copies compared byte for byte.
import assert from "node:assert/strict";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { Scalar } from "../lib/torch/scalar.ts";
import { dtype as lookupDtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { TensorError } from "../lib/torch/tensor_error.ts";
import { runPython, skipTorch } from "./_python.ts";
import { fromHex, mismatches, random, toHex, viewVectors } from "./_tensor_vectors.ts";

const repo = new URL("../", import.meta.url).pathname;

/**
 * A view of a fresh arange(400), float32 as the vectors' inputs are, or
 * `torch.arange(400.).to(dtype)`.
 */
function input(shape: number[], stride: number[], offset: number, dtype = "float32"): Tensor {
  const values = new Float64Array(400).map((_, i) => i);
  if (dtype.startsWith("complex")) {
    // Real parts 0..399, imaginary parts 0.
    const parts = dtype === "complex64" ? new Float32Array(800) : new Float64Array(800);
    values.forEach((v, i) => parts[2 * i] = v);
    const storage = Storage.fromBytes(new Uint8Array(parts.buffer), lookupDtype(dtype)!);
    return new Tensor({ storage, shape, stride, offset });
  }
  const base = Tensor.fromTypedArray(values, [400], { dtype });
  return new Tensor({ storage: base.storage, shape, stride, offset });
}

/** Applies a vector's op to `t`, as tests/fixtures/make_tensor_vectors.py applies it to torch. */
async function apply(t: Tensor, op: string, args: unknown[]): Promise<Tensor[]> {
  const n = args as number[];
  switch (op) {
    case "narrow":
      return [t.narrow(n[0], n[1], n[2])];
    case "select":
      return [t.select(n[0], n[1])];
    case "chunk":
      return t.chunk(n[0], n[1]);
    case "split":
      return t.split(args[0] as number | number[], n[1]);
    case "transpose":
      return [t.transpose(n[0], n[1])];
    case "t":
      return [t.t()];
    case "permute":
      return [t.permute(args[0] as number[])];
    case "view":
      return [t.view(args[0] as number[])];
    case "reshape":
      return [await t.reshape(args[0] as number[])];
    case "flatten":
      return [await t.flatten(...n)];
    case "unsqueeze":
      return [t.unsqueeze(n[0])];
    case "squeeze":
      return [args.length === 0 ? t.squeeze() : t.squeeze(n[0])];
    case "expand":
      return [t.expand(args[0] === null ? t.shape : args[0] as number[])];
    case "contiguous":
      return [await t.contiguous()];
    case "clone":
      return [await t.clone(args.length > 0 ? { memoryFormat: "contiguous" } : {})];
    case "to":
      return [await t.to(args[0] as string)];
  }
  throw new Error(`unknown op ${op}`);
}

interface Expected {
  out?: { size: number[]; stride: number[]; offset: number; view: boolean; self: boolean }[];
  error?: string;
}

/** Runs `op` on the layout and returns what differs from torch's `expected`, or nothing. */
async function check(
  layout: { size: number[]; stride: number[]; offset: number; dtype?: string },
  op: string,
  args: unknown[],
  expected: Expected & { out?: { data?: string | null }[] },
): Promise<string | undefined> {
  const t = input(layout.size, layout.stride, layout.offset, layout.dtype);
  const where = `${op}(${JSON.stringify(args)}) of ${
    layout.dtype ?? "float32"
  } [${layout.size}]/[${layout.stride}]@${layout.offset}`;
  let outs: Tensor[];
  try {
    outs = await apply(t, op, args);
  } catch (error) {
    if (!(error instanceof TensorError)) throw error;
    const [kind, ...rest] = (expected.error ?? "").split(": ");
    const reason = rest.join(": ");
    if (expected.error === undefined) return `${where}: threw ${error.message}`;
    if (error.torchError !== kind || error.reason !== reason) {
      return `${where}: ${error.torchError}: ${error.reason}, torch ${expected.error}`;
    }
    if (error.message !== `Cannot ${error.operation}: ${reason}`) {
      return `${where}: ${error.message}`;
    }
    return undefined;
  }
  if (expected.out === undefined) return `${where}: no error, torch ${expected.error}`;
  const actual = outs.map((o) => ({
    size: o.shape,
    stride: o.stride,
    offset: o.offset,
    view: o.storage === t.storage,
    self: o === t,
  }));
  const wanted = expected.out.map(({ size, stride, offset, view, self }) => ({
    size,
    stride,
    offset,
    view,
    self,
  }));
  if (JSON.stringify(actual) !== JSON.stringify(wanted)) {
    return `${where}: ${JSON.stringify(actual)}, torch ${JSON.stringify(wanted)}`;
  }
  for (let i = 0; i < outs.length; i++) {
    const o = outs[i];
    if (o.storage === t.storage) continue;
    // A copy holds the same values as the input, in its own layout.
    const values = await (await t.to(o.dtype)).bytes();
    if (toHex(await o.bytes()) !== toHex(values)) return `${where}: copied values differ`;
    const data = expected.out[i].data;
    if (data != null && toHex(await o.storage.bytes()) !== data) {
      return `${where}: storage ${toHex(await o.storage.bytes())}, torch ${data}`;
    }
  }
  return undefined;
}

Deno.test("views and copies match torch for every recorded vector", async () => {
  const { inputs, rows } = await viewVectors();
  const wrong: string[] = [];
  const counts = { rows: 0, errors: 0, copies: 0 };
  for (const row of rows) {
    counts.rows++;
    if (row.error !== undefined) counts.errors++;
    if (row.out?.some((o) => !o.view)) counts.copies++;
    const problem = await check(inputs[row.input], row.op, row.args, row);
    if (problem !== undefined) wrong.push(problem);
  }
  assert.deepEqual(wrong, []);
  assert.equal(inputs.length, 22);
  assert.ok(counts.rows >= 3000 && counts.errors > 1000 && counts.copies > 100, `${counts}`);
});

/** A Python repr from the fixture as the value model writes that value. */
function scalarOf(repr: string): Scalar {
  if (repr === "True" || repr === "False") return repr === "True";
  if (/^-?\d+$/.test(repr)) {
    const big = BigInt(repr);
    return Number.isSafeInteger(Number(big)) ? Number(big) : big;
  }
  const special: Record<string, number> = { nan: NaN, inf: Infinity, "-inf": -Infinity };
  return new PyFloat(special[repr] ?? Number(repr));
}

Deno.test("zeros and full match torch's dtype, strides, bytes and overflow errors", async () => {
  const { factories } = await viewVectors();
  for (const row of factories) {
    const where = `${row.call}(${row.size}, ${row.value}, dtype=${row.dtype})`;
    const make = () =>
      row.call === "zeros"
        ? Tensor.zeros(row.size, row.dtype ?? undefined)
        : Tensor.full(row.size, scalarOf(row.value!), row.dtype ?? undefined);
    if (row.error !== undefined) {
      assert.throws(make, (error) => {
        assert.ok(error instanceof TensorError, where);
        assert.equal(`${error.torchError}: ${error.reason}`, row.error, where);
        return true;
      });
      continue;
    }
    const t = make();
    assert.equal(t.dtype.name, row.out_dtype, where);
    assert.deepEqual(t.stride, row.stride, where);
    assert.deepEqual(t.shape, row.size, where);
    const size = t.dtype.itemsize;
    assert.deepEqual(
      mismatches(await t.bytes(), fromHex(row.bytes!), t.dtype.name, size),
      [],
      where,
    );
  }
  assert.ok(factories.length > 60);
});

Deno.test("errors that name the tensor's type name it as torch does, for every dtype", async () => {
  const { dtype_errors } = await viewVectors();
  assert.ok(dtype_errors.length >= 12);
  for (const row of dtype_errors) {
    const t = Tensor.zeros(row.shape, row.dtype);
    await assert.rejects(
      () => apply(t, row.op, row.args),
      (error) =>
        error instanceof TensorError && `${error.torchError}: ${error.reason}` === row.error,
      row.dtype,
    );
  }
});

Deno.test("views share the storage and read nothing; copies read only their own bytes", async () => {
  const base = Tensor.fromTypedArray(new Float32Array(1000).map((_, i) => i), [10, 100]);
  const reads: number[][] = [];
  const storage = base.storage;
  const read = storage.read.bind(storage);
  storage.read = (start: number, length: number) => {
    reads.push([start, length]);
    return read(start, length);
  };
  const row = base.select(0, 3);
  const cols = row.narrow(0, 10, 20).view(4, 5).t();
  assert.equal(cols.storage, storage);
  assert.deepEqual(reads, []);
  const copy = await cols.to("float16");
  assert.deepEqual(reads, [[(300 + 10) * 4, 20 * 4]]);
  assert.deepEqual(copy.stride, [1, 5]);
  assert.deepEqual([...await copy.toTypedArray()].slice(0, 3), [310, 315, 320]);
  assert.notEqual(copy.storage, storage);
  assert.equal(copy.storage.dtype.name, "float16");
});

Deno.test("view helpers refuse non-integer arguments and keep requiresGrad", async () => {
  const t = new Tensor({
    storage: Storage.fromBytes(new Uint8Array(24), Tensor.zeros([]).dtype),
    shape: [2, 3],
    requiresGrad: true,
  });
  assert.throws(() => t.narrow(0, 0.5, 1), /^TensorError: Cannot narrow tensor: start 0.5 is not/);
  assert.throws(() => t.view([2, NaN]), TensorError);
  assert.equal(t.transpose(0, 1).requiresGrad, true);
  // A tensor made with its own dtype object has that dtype: to() returns the tensor.
  const own = new Tensor({
    storage: t.storage,
    shape: [6],
    dtype: { name: "float32", itemsize: 4 },
  });
  assert.equal(await own.to("float32"), own);
  assert.equal(t.chunk(2)[1].requiresGrad, true);
});

/** A random layout on arange(400): sizes 0..4, strides 0..12 (overlaps allowed). */
function randomLayout(next: () => number) {
  const ndim = Math.floor(next() * 5);
  const size = Array.from({ length: ndim }, () => Math.floor(next() * 5));
  const dense = next() < 0.4;
  let stride: number[];
  if (dense) {
    // A contiguous layout, permuted: dense but maybe not row-major.
    const order = [...size.keys()].sort(() => next() - 0.5);
    stride = new Array(ndim);
    let step = 1;
    for (const d of order.reverse()) {
      stride[d] = step;
      step *= Math.max(size[d], 1);
    }
  } else stride = size.map(() => Math.floor(next() * 13) * (next() < 0.15 ? 0 : 1));
  const offset = Math.floor(next() * 20);
  return { size, stride, offset };
}

function randomOp(shape: number[], next: () => number): [string, unknown[]] {
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)];
  const ndim = shape.length;
  const dim = () => Math.floor(next() * (2 * ndim + 3)) - ndim - 1;
  const numel = shape.reduce((a, b) => a * b, 1);
  const op = pick(
    ["narrow", "select", "chunk", "split", "split_list", "transpose", "t", "permute"]
      .concat(["view", "view", "reshape", "reshape", "flatten", "unsqueeze", "squeeze"])
      .concat(["expand", "contiguous", "clone", "clone_contiguous", "to", "to"]),
  );
  const sizeAt = (d: number) => shape[((d % Math.max(ndim, 1)) + ndim) % Math.max(ndim, 1)] ?? 0;
  switch (op) {
    case "narrow": {
      const d = dim();
      return ["narrow", [
        d,
        Math.floor(next() * 9) - 4,
        Math.floor(next() * 5) - (next() < 0.1 ? 1 : 0),
      ]];
    }
    case "select":
      return ["select", [dim(), Math.floor(next() * 9) - 4]];
    case "chunk":
      return ["chunk", [Math.floor(next() * 6) - (next() < 0.1 ? 1 : 0), dim()]];
    case "split":
      return ["split", [Math.floor(next() * 5) - (next() < 0.1 ? 1 : 0), dim()]];
    case "split_list": {
      const d = dim();
      const total = sizeAt(d);
      const sizes: number[] = [];
      let left = total + (next() < 0.2 ? 1 : 0);
      while (left > 0) {
        const s = Math.floor(next() * (left + 1));
        sizes.push(s);
        left -= s;
      }
      if (next() < 0.3) sizes.push(0);
      return ["split", [sizes, d]];
    }
    case "transpose":
      return ["transpose", [dim(), dim()]];
    case "t":
      return ["t", []];
    case "permute": {
      const dims = [...shape.keys()].sort(() => next() - 0.5).map((
        d,
      ) => (next() < 0.3 ? d - ndim : d));
      if (next() < 0.1 && dims.length > 1) dims[0] = dims[1];
      return ["permute", [dims]];
    }
    case "view":
    case "reshape": {
      // Factor numel into random sizes, maybe with a -1, a 1, or a wrong size.
      const target: number[] = [];
      let left = numel;
      while (left > 1 && target.length < 4) {
        const f = [2, 3, 4, left][Math.floor(next() * 4)];
        if (left % f === 0) {
          target.push(f);
          left /= f;
        } else break;
      }
      if (left !== 1 || numel === 0) target.push(left);
      if (next() < 0.3) target.splice(Math.floor(next() * (target.length + 1)), 0, 1);
      if (next() < 0.3 && target.length > 0) target[Math.floor(next() * target.length)] = -1;
      if (next() < 0.05) target.push(2);
      return [op, [target]];
    }
    case "flatten":
      return ["flatten", next() < 0.5 ? [] : [dim(), dim()]];
    case "unsqueeze":
      return ["unsqueeze", [Math.floor(next() * (2 * ndim + 5)) - ndim - 2]];
    case "squeeze":
      return ["squeeze", next() < 0.5 ? [] : [dim()]];
    case "expand": {
      const sizes = shape.map((
        s,
      ) => (s === 1 && next() < 0.5 ? Math.floor(next() * 4) : next() < 0.3 ? -1 : s));
      if (next() < 0.4) sizes.unshift(Math.floor(next() * 3));
      return ["expand", [sizes]];
    }
    case "clone_contiguous":
      return ["clone", ["contiguous"]];
    case "to":
      return ["to", [pick(["float16", "float64", "int32", "bfloat16", "float32"])]];
  }
  return [op, []];
}

Deno.test({
  name: "views and copies match torch on random layouts and ops, copies byte for byte",
  ignore: skipTorch,
  async fn() {
    const next = random(77);
    // Every dtype with a legacy storage, so copies move elements of 1 to 16 bytes.
    const dtypes = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8"]
      .concat(["uint8", "bool", "complex64", "complex128"]);
    const cases = Array.from({ length: 4000 }, (_, i) => {
      const layout = randomLayout(next);
      const [op, args] = randomOp(layout.size, next);
      const dtype = i < 1000 ? "float32" : dtypes[Math.floor(next() * dtypes.length)];
      // A conversion of a complex tensor is refused by ckptkit, not by torch.
      if (op === "to" && dtype.startsWith("complex")) {
        return { ...layout, dtype, op: "clone", args: [] };
      }
      return { ...layout, dtype, op, args };
    });
    const file = await Deno.makeTempFile({ suffix: ".json" });
    try {
      await Deno.writeTextFile(file, JSON.stringify(cases));
      const results: Expected[] = JSON.parse(
        await runPython([`${repo}tests/interop/tensor_views.py`, file]),
      );
      const wrong: string[] = [];
      for (let i = 0; i < cases.length; i++) {
        const { op, args, ...layout } = cases[i];
        const problem = await check(layout, op, args, results[i]);
        if (problem !== undefined) wrong.push(problem);
      }
      assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${cases.length} differ`);
      const errors = results.filter((r) => r.error !== undefined).length;
      assert.ok(errors > 200 && errors < 3000, `${errors} errors`);
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name: "torch loads saved views and copies as its own ops make them, views sharing the base",
  ignore: skipTorch,
  async fn() {
    const next = random(2024);
    const base = Tensor.fromTypedArray(new Float32Array(400).map((_, i) => i));
    const root = new PyDict<string, unknown>([["base", base]]);
    const cases: {
      size: number[];
      stride: number[];
      offset: number;
      op: string;
      args: unknown[];
    }[] = [];
    while (cases.length < 300) {
      const layout = randomLayout(next);
      const [op, args] = randomOp(layout.size, next);
      const t = new Tensor({
        storage: base.storage,
        shape: layout.size,
        stride: layout.stride,
        offset: layout.offset,
      });
      let outs: Tensor[];
      try {
        outs = await apply(t, op, args);
      } catch (error) {
        if (error instanceof TensorError) continue;
        throw error;
      }
      outs.forEach((o, j) => root.set(`${cases.length}.${j}`, o));
      cases.push({ ...layout, op, args });
    }
    const dir = await Deno.makeTempDir();
    try {
      const ckpt = await Checkpoint.open(`${repo}tests/fixtures/state_dict.ckpt`);
      ckpt.root = root;
      await ckpt.save(`${dir}/views.ckpt`);
      ckpt.close();
      await Deno.writeTextFile(`${dir}/cases.json`, JSON.stringify(cases));
      const out = await runPython([
        "-c",
        `import sys, json, torch
sys.path.insert(0, sys.argv[3])
from make_tensor_vectors import apply
d = torch.load(sys.argv[1])
base = d["base"]
for i, case in enumerate(json.load(open(sys.argv[2]))):
    r = apply(base.as_strided(case["size"], case["stride"], case["offset"]), case["op"], case["args"])
    for j, want in enumerate(list(r) if isinstance(r, (tuple, list)) else [r]):
        got = d[f"{i}.{j}"]
        assert got.dtype == want.dtype and got.shape == want.shape, (case, got.shape, want.shape)
        assert got.stride() == want.stride() and got.storage_offset() == want.storage_offset(), case
        assert torch.equal(got, want), case
        shares = got.storage().data_ptr() == base.storage().data_ptr()
        assert shares == (want.storage().data_ptr() == base.storage().data_ptr()), case
print("ok", len(d))`,
        `${dir}/views.ckpt`,
        `${dir}/cases.json`,
        `${repo}tests/fixtures`,
      ]);
      assert.match(out, /^ok \d+/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
