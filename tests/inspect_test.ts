// How the value classes print in console.log and Deno.inspect: concise,
// depth-limited, cycle-safe, indented where Deno nests them.
import assert from "node:assert/strict";
import { PyByteArray } from "../lib/pickle/py_bytearray.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { PyFrozenSet, PySet } from "../lib/pickle/py_set.ts";
import { PyStr } from "../lib/pickle/py_str.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Parameter, Tensor } from "../lib/torch/tensor.ts";

const show = (value: unknown, options: Deno.InspectOptions = {}) => Deno.inspect(value, options);
const ordered = () => PyGlobal.of("collections", "OrderedDict");

Deno.test("scalars and leaves print as short Python-like forms", () => {
  assert.equal(show(new PyFloat(1)), "1.0");
  assert.equal(show(new PyFloat(-0)), "-0.0");
  assert.equal(show(new PyFloat(NaN)), "nan");
  assert.equal(show(new PyFloat(1e-7)), "1e-07");
  assert.equal(
    show(PyGlobal.of("torch._utils", "_rebuild_tensor_v2")),
    "PyGlobal(torch._utils._rebuild_tensor_v2)",
  );
  assert.equal(show(new PyByteArray(new Uint8Array([120, 0, 39]))), `PyByteArray(3) b"x\\x00'"`);
  const long = show(new PyByteArray(new Uint8Array(1000)));
  assert.ok(long.startsWith("PyByteArray(1000) b'\\x00") && long.endsWith("'..."), long);
  assert.equal(show(PyStr.fromCodePoints([0xd83d, 0xde00, 0x41])), `PyStr(3) "\\ud83d\\ude00A"`);
  const text = show(PyStr.of("\u{1f600}".repeat(10) + "x".repeat(20_000)));
  assert.ok(text.startsWith(`PyStr(20010) "\u{1f600}`) && text.endsWith(`xxx"...`), text);
  assert.ok(text.length < 160, text);
});

Deno.test("dicts, sets and objects print their items, one line when short", () => {
  const d = new PyDict<unknown, unknown>([["a", 1], [Tuple.of(1, 2), new PyFloat(2.5)], [3, null]]);
  assert.equal(show(d), 'PyDict(3) { "a" => 1, Tuple(2) [ 1, 2 ] => 2.5, 3 => null }');
  assert.equal(show(new PyDict()), "PyDict(0) {}");
  assert.equal(show(new PySet([1, "a"])), 'PySet(2) { 1, "a" }');
  assert.equal(show(new PyFrozenSet([new PyFloat(1)])), "PyFrozenSet(1) { 1.0 }");
  const od = new PyObject<string, number>(ordered());
  od.update([["z", 1], ["a", 2]]);
  assert.equal(show(od), 'PyObject(collections.OrderedDict) { "z" => 1, "a" => 2 }');
  const made = new PyObject(PyGlobal.of("argparse", "Namespace"), Tuple.of(1), "newobj");
  made.state = new PyDict([["lr", new PyFloat(0.1)]]);
  made.listItems = [7];
  assert.equal(
    show(made),
    [
      "PyObject(argparse.Namespace) {",
      "  args: Tuple(1) [ 1 ],",
      "  how: newobj,",
      '  state: PyDict(1) { "lr" => 0.1 },',
      "  listItems: [ 7 ]",
      "}",
    ].join("\n"),
  );
});

Deno.test("long containers break one entry per line, indented where Deno nests them", () => {
  const d = new PyDict<string, unknown>(
    Array.from({ length: 4 }, (_, i) => [`layer.${i}.weight`, new PyDict([["v", i]])]),
  );
  assert.equal(
    show(d),
    [
      "PyDict(4) {",
      '  "layer.0.weight" => PyDict(1) { "v" => 0 },',
      '  "layer.1.weight" => PyDict(1) { "v" => 1 },',
      '  "layer.2.weight" => PyDict(1) { "v" => 2 },',
      '  "layer.3.weight" => PyDict(1) { "v" => 3 }',
      "}",
    ].join("\n"),
  );
  // Inside a plain object, Deno puts it at an indent: every line follows.
  const nested = show({ outer: { d } });
  const lines = nested.split("\n");
  assert.equal(lines[2], "    d: PyDict(4) {");
  assert.equal(lines[3], '      "layer.0.weight" => PyDict(1) { "v" => 0 },');
  assert.equal(lines[7], "    }");
});

Deno.test("printing stops at Deno's depth and at the iterable limit", () => {
  let d: PyDict = new PyDict([["leaf", Tensor.zeros([2])]]);
  for (let i = 0; i < 6; i++) d = new PyDict([[`level${i}`, d]]);
  const text = show(d);
  assert.match(text, /"level2" => PyDict\(1\) \{ "level1" => \[PyDict\] \}/);
  assert.ok(!text.includes("level0"));
  assert.equal(show(d, { depth: 0 }), 'PyDict(1) { "level5" => [PyDict] }');
  // Tensors and other leaves print whole at any depth.
  const leaves = new PyDict<string, unknown>([["t", Tensor.zeros([2])], ["f", new PyFloat(1)], [
    "d",
    new PyDict(),
  ]]);
  assert.equal(
    show(leaves, { depth: 0 }),
    'PyDict(3) { "t" => Tensor(float32 [2]), "f" => 1.0, "d" => [PyDict] }',
  );
  const big = new PyDict(Array.from({ length: 250 }, (_, i) => [i, i]));
  const text250 = show(big, { iterableLimit: 3 });
  assert.equal(text250, "PyDict(250) { 0 => 0, 1 => 1, 2 => 2, ... 247 more items }");
});

Deno.test("cycles print as [Circular Name], through any path", () => {
  const d = new PyDict<string, unknown>();
  d.set("self", d);
  d.set("list", [d]);
  assert.equal(
    show(d),
    'PyDict(2) { "self" => [Circular PyDict], "list" => [ [Circular PyDict] ] }',
  );
  const o = new PyObject(PyGlobal.of("m", "Node"));
  o.state = new PyDict([["parent", o]]);
  assert.equal(
    show(o),
    'PyObject(m.Node) { state: PyDict(1) { "parent" => [Circular PyObject] } }',
  );
  const s = new PySet<unknown>([1]);
  const holder = new PyDict([["s", s]]);
  const member = new PyObject(PyGlobal.of("m", "Member"));
  member.state = holder;
  s.add(member);
  assert.match(show(holder), /\[Circular PyDict\]/);
});

Deno.test("tensors, parameters and storages print their layout without reading", async () => {
  const t = Tensor.fromTypedArray(new Float32Array(24), [4, 6]);
  assert.equal(show(t), "Tensor(float32 [4, 6])");
  assert.equal(show(t.narrow(0, 1, 2).t()), "Tensor(float32 [6, 2], stride [1, 6], offset 6)");
  assert.equal(show(new Parameter(t)), "Parameter(float32 [4, 6], requires_grad)");
  assert.equal(show(new Parameter(t, false)), "Parameter(float32 [4, 6])");
  assert.equal(show(t.storage), "Storage(FloatStorage, 24 elements, cpu, new)");
  const gpu = new Tensor({
    storage: Storage.fromBytes(new Uint8Array(4), t.dtype, "cuda:0"),
    shape: [],
  });
  assert.equal(show(gpu), "Tensor(float32 [], device cuda:0)");
  const untyped = Storage.fromBytes(new Uint8Array(4), Tensor.zeros([], "uint16").dtype);
  assert.equal(show(untyped), "Storage(UntypedStorage, 4 bytes, cpu, new)");
  const ckpt = await Checkpoint.open(new URL("./fixtures/tensors.ckpt", import.meta.url).pathname);
  try {
    const root = ckpt.root as PyDict<string, Tensor>;
    assert.equal(show(root.getItem("expanded")), "Tensor(float32 [2, 3], stride [0, 1])");
    assert.equal(
      show(root.getItem("base").storage),
      "Storage(FloatStorage, 24 elements, cpu, data/0)",
    );
    assert.equal(root.getItem("base").storage.loaded, undefined);
    // A hostile shape is cut short.
    const wide = new Tensor({ storage: t.storage, shape: new Array(10_000).fill(1) });
    assert.ok(show(wide).length < 200);
  } finally {
    ckpt.close();
  }
});

Deno.test("colors follow Deno's styles", () => {
  const colored = Deno.inspect(new PyDict([["x", new PyFloat(1)]]), { colors: true });
  assert.ok(colored.includes("\u001b[33m1.0\u001b[39m"), colored);
  assert.ok(colored.includes('\u001b[32m"x"\u001b[39m'), colored);
});
