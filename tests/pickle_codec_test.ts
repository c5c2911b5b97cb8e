import assert from "node:assert/strict";
import { instructions } from "../lib/pickle/dis.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";
import { pickle, pickleParts } from "../lib/pickle/pickler.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { PyFrozenSet, PySet } from "../lib/pickle/py_set.ts";
import { PyByteArray } from "../lib/pickle/py_bytearray.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { PickleError } from "../lib/errors.ts";

const corpus = new URL("./fixtures/pickles/", import.meta.url);
const read = (name: string) => Deno.readFileSync(new URL(name, corpus));
const decode = (name: string) => unpickle(read(name)) as unknown;

Deno.test("protocol 2 pickles from CPython re-encode byte for byte", () => {
  const names = [...Deno.readDirSync(corpus)].map((e) => e.name).filter((n) =>
    n.endsWith(".pkl") && !n.startsWith("all_") && !n.startsWith("listed_")
  );
  assert.ok(names.length >= 20);
  for (const name of names) {
    const data = read(name);
    assert.deepEqual(pickle(unpickle(data)), data, name);
  }
});

Deno.test("every protocol decodes to the same value graph", () => {
  const reference = pickle(decode("all_protocol2.pkl"));
  for (const protocol of [3, 4, 5]) {
    assert.deepEqual(pickle(decode(`all_protocol${protocol}.pkl`)), reference, `${protocol}`);
  }
  // Protocols 0 and 1 lose NaN payloads and use copy_reg for objects; they still decode.
  for (const protocol of [0, 1]) {
    const root = decode(`all_protocol${protocol}.pkl`) as PyDict;
    assert.equal(root.size, (decode("all_protocol2.pkl") as PyDict).size);
    assert.deepEqual(root.get("strings"), (decode("all_protocol2.pkl") as PyDict).get("strings"));
  }
});

Deno.test("ints and floats stay apart", () => {
  const ints = decode("ints.pkl") as unknown[];
  assert.equal(ints[0], 0);
  assert.equal(ints[2], 255);
  assert.equal(ints[10], -(2 ** 31));
  assert.equal(ints[15], 2 ** 53 + 1 > Number.MAX_SAFE_INTEGER ? 9007199254740993n : 0);
  assert.equal(ints[16], 2n ** 63n);
  assert.equal(ints[18], -(2n ** 63n) - 1n);
  assert.equal(ints[22], 2n ** 2100n);
  const floats = decode("floats.pkl") as PyFloat[];
  assert.ok(floats.every((f) => f instanceof PyFloat));
  assert.equal(floats[0].value, 1);
  assert.ok(Object.is(floats[1].value, -0));
  assert.ok(Number.isNaN(floats[3].value));
  assert.equal(floats[4].value, Infinity);
  assert.equal(floats[7].value, 5e-324);
  assert.deepEqual([...floats[9].nanBits!], [0x7f, 0xf8, 0, 0, 0, 0, 0, 1]);
  assert.equal(floats[0].toString(), "1.0");
});

Deno.test("strings keep lone surrogates and unicode", () => {
  const strings = decode("strings.pkl") as string[];
  assert.equal(strings[2], "h\u00e9llo");
  assert.equal(strings[4], "\u{1F600}");
  assert.equal(strings[5], "\ud800");
  assert.equal(strings[6], "x\udcffy");
  assert.equal(strings[10], "\0abc");
});

Deno.test("bytes, bytearray, sets and tuples decode to their own types", () => {
  const bytes = decode("bytes.pkl") as unknown[];
  assert.deepEqual(bytes[0], new Uint8Array(0));
  assert.deepEqual(bytes[1], new Uint8Array([0, 0xff, 0x20, 0x61, 0x62, 0x63]));
  assert.ok(bytes[3] instanceof PyByteArray);
  assert.deepEqual((bytes[4] as PyByteArray).bytes, new Uint8Array([0x78, 0x79, 0x7a, 0x80]));
  const sets = decode("sets.pkl") as unknown[];
  assert.ok(sets[0] instanceof PySet && sets[0].size === 0);
  assert.ok(sets[1] instanceof PySet && sets[1].has(2) && sets[1].has(new PyFloat(3)));
  assert.ok(sets[2] instanceof PyFrozenSet && sets[2].has("a"));
  const tuples = decode("tuples.pkl") as unknown[][];
  assert.ok(tuples.every((t) => t instanceof Tuple));
  assert.ok(!((decode("lists.pkl") as unknown[])[1] instanceof Tuple));
  assert.deepEqual([...tuples[4]], [1, 2, 3, 4]);
});

Deno.test("dict keys follow Python equality", () => {
  const keys = decode("keys.pkl") as PyDict;
  assert.equal(keys.get(Tuple.of(1, 2)), "a");
  assert.equal(keys.get(Tuple.of(new PyFloat(1), true)), undefined);
  assert.equal(keys.get(Tuple.of(true, new PyFloat(2))), "a");
  assert.equal(keys.get(new PyFloat(1)), "one");
  assert.equal(keys.get(true), "one");
  assert.equal(keys.get(1n), "one");
  assert.equal(keys.get(new Uint8Array([0x6b])), 1);
  assert.equal(keys.get(new PyFrozenSet([1])), 2);
  assert.equal(keys.get(null), 0);
  assert.throws(() => keys.get([] as unknown), /unhashable type 'list'/);
});

Deno.test("shared references and cycles keep identity", () => {
  const looped = decode("self_list.pkl") as unknown[];
  assert.equal(looped[1], looped);
  const again = unpickle(pickle(looped)) as unknown[];
  assert.equal(again[1], again);
});

Deno.test("reduced objects keep callable, args, items and state", () => {
  const ordered = decode("ordered.pkl") as PyObject;
  assert.ok(ordered instanceof PyObject);
  assert.equal(ordered.className, "collections.OrderedDict");
  assert.deepEqual([...ordered.keys()], ["a", "b"]);
  const object = decode("object.pkl") as PyObject;
  assert.equal(object.how, "newobj");
  assert.equal((object.callable as PyGlobal).path, "__main__.Plain");
  assert.deepEqual([...(object.state as PyDict).keys()], ["a", "b"]);
  const classes = decode("classes.pkl") as PyGlobal[];
  assert.deepEqual(classes.map(String), [
    "collections.OrderedDict",
    "builtins.int",
    "builtins.str",
    "builtins.range",
    "builtins.KeyError",
    "builtins.OSError",
  ]);
});

Deno.test("dict order follows Python: updates keep place, pop and re-insert moves to end", () => {
  const dict = new PyDict<unknown, number>([["a", 1], ["b", 2], ["c", 3]]);
  dict.set("a", 10);
  dict.set("b", dict.pop("b"));
  assert.deepEqual([...dict.keys()], ["a", "c", "b"]);
  dict.set(new PyFloat(1), 5);
  dict.set(true, 6);
  assert.deepEqual([...dict.keys()].length, 4);
  assert.ok(dict.get(1) === 6);
  assert.throws(() => dict.pop("missing"), /Cannot find key 'missing'/);
  assert.equal(dict.pop("missing", null), null);
});

Deno.test("numbers written by JS code choose int or float", () => {
  const bytes = pickle(Tuple.of(1, 0.5, new PyFloat(1), 2n ** 64n));
  const back = unpickle(bytes) as unknown[];
  assert.equal(back[0], 1);
  assert.ok(back[1] instanceof PyFloat && back[1].value === 0.5);
  assert.ok(back[2] instanceof PyFloat && back[2].value === 1);
  assert.equal(back[3], 2n ** 64n);
});

Deno.test("deep nesting decodes and encodes without recursion", () => {
  const depth = 1_000_000;
  const data = new Uint8Array(depth * 2 + 3);
  data.set([0x80, 2]);
  for (let i = 0; i < depth; i++) data[2 + i] = 0x5d; // EMPTY_LIST
  for (let i = 0; i < depth - 1; i++) data[2 + depth + i] = 0x61; // APPEND
  data[2 + 2 * depth - 1] = 0x2e;
  const root = unpickle(data.subarray(0, 2 + 2 * depth)) as unknown[];
  let node = root;
  for (let i = 0; i < depth - 1; i++) node = node[0] as unknown[];
  assert.equal(node.length, 0);
  const encoded = pickle(root);
  assert.ok(encoded.length > depth);
});

const malformed: Array<[string, number[], RegExp]> = [
  ["unknown opcode", [0x80, 2, 0xff], /unknown opcode at offset 2 \(0xff\)/],
  ["stack underflow", [0x80, 2, 0x85, 0x2e], /stack underflow at offset 2 \(TUPLE1\)/],
  ["POP on empty stack", [0x30, 0x2e], /stack underflow at offset 0 \(POP\)/],
  ["missing memo key", [0x68, 5, 0x2e], /memo key 5 is missing at offset 0 \(BINGET\)/],
  ["bytes after STOP", [0x4e, 0x2e, 0x00], /1 bytes after STOP at offset 1/],
  ["truncated", [0x80, 2, 0x58, 5, 0, 0, 0, 0x61], /declared length 5 exceeds the 1 bytes left/],
  ["no STOP", [0x4e], /needs 1 bytes but only 0 remain at offset 1/],
  ["second PROTO", [0x80, 2, 0x80, 2, 0x4e, 0x2e], /PROTO is not the first opcode at offset 2/],
  ["lying frame", [0x80, 4, 0x95, 1, 0, 0, 0, 0, 0, 0, 0, 0x4b, 1, 0x2e], /runs past the end/],
  ["STACK_GLOBAL from ints", [0x80, 4, 0x4b, 1, 0x4b, 2, 0x93, 0x2e], /needs two strings/],
  ["invalid UTF-8", [0x80, 2, 0x58, 1, 0, 0, 0, 0xff, 0x2e], /not valid UTF-8/],
  ["huge length", [0x80, 4, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0x2e], /declared length/],
  ["unhashable key", [0x7d, 0x5d, 0x4e, 0x73, 0x2e], /unhashable type 'list'/],
];

for (const [name, bytes, pattern] of malformed) {
  Deno.test(`malformed pickle: ${name}`, () => {
    assert.throws(() => unpickle(new Uint8Array(bytes)), (error: unknown) => {
      assert.ok(error instanceof PickleError, String(error));
      assert.match(error.message, /^Cannot decode pickle: /);
      assert.match(error.message, pattern);
      return true;
    });
  });
}

Deno.test("tuples a hook builds are memoized but never fetched; decoded ones keep sharing", () => {
  const shape = Tuple.of(2, 3);
  const rebuild = PyGlobal.of("m", "rebuild");
  class Foreign {}
  // The hook hands out one tuple object twice: as __reduce_ex__ would build a
  // new one per call, the second is written out again, not fetched.
  const data = pickle([new Foreign(), new Foreign()], {
    reduce: () => new PyObject(rebuild, Tuple.of(shape)),
  });
  const decoded = unpickle(data) as PyObject[];
  assert.deepEqual([...decoded[1].args[0] as Tuple], [2, 3]);
  assert.notEqual(decoded[0].args[0], decoded[1].args[0]);
  assert.equal(decoded[0].callable, decoded[1].callable);
  // The same tuple inside objects of the value model stays one object.
  const value = [new PyObject(rebuild, Tuple.of(shape)), new PyObject(rebuild, Tuple.of(shape))];
  const again = unpickle(pickle(value)) as PyObject[];
  assert.equal(again[0].args[0], again[1].args[0]);
});

Deno.test("tuple persistent ids are written anew for every reference", () => {
  const storage = { kind: "storage" };
  const pid = Tuple.of("storage", "0");
  const ids: unknown[] = [];
  const data = pickle([storage, storage], {
    persistentId: (value) => value === storage ? pid : undefined,
  });
  unpickle(data, { persistentLoad: (id) => (ids.push(id), id) });
  assert.equal(ids.length, 2);
  assert.deepEqual([...ids[0] as Tuple], ["storage", "0"]);
  assert.notEqual(ids[0], ids[1]);
});

Deno.test("objects made by NEWOBJ_EX encode as copyreg.__newobj_ex__(cls, args, kwargs)", () => {
  const made = new PyObject(PyGlobal.of("m", "C"), Tuple.of(1, [2]), "newobj_ex");
  made.kwargs = new PyDict([["k", 3]]);
  made.listItems = [4, 5];
  made.set("a", 6);
  made.state = new PyDict([["self", made]]);
  const back = unpickle(pickle([made, made])) as PyObject[];
  assert.equal(back.length, 2);
  assert.equal(back[0], back[1]);
  const [object] = back;
  assert.ok(object.isA("copyreg", "__newobj_ex__"));
  assert.equal(object.how, "reduce");
  assert.equal(object.args.length, 3);
  const [cls, args, kwargs] = object.args as [PyGlobal, Tuple, PyDict];
  assert.ok(cls.is("m", "C"));
  assert.ok(args instanceof Tuple);
  assert.deepEqual([args[0], [...(args[1] as number[])]], [1, [2]]);
  assert.deepEqual([...kwargs.entries()], [["k", 3]]);
  assert.deepEqual(object.listItems, [4, 5]);
  assert.deepEqual([...object.entries()], [["a", 6]]);
  assert.equal((object.state as PyDict).get("self"), object);
});

Deno.test("tuples are frozen and hold exactly their items", () => {
  const cases: unknown[][] = [[], [7], [64, 32], [1.5, 2], ["a", null, 3], [[1], new PyDict()]];
  for (const items of cases) {
    const tuple = Tuple.fromArray(items);
    assert.ok(Object.isFrozen(tuple));
    assert.equal(tuple.length, items.length);
    assert.deepEqual([...tuple], items);
    assert.throws(() => (tuple as unknown[]).push(1), TypeError);
  }
  const decoded = unpickle(pickle(Tuple.of(Tuple.of(64, 32), Tuple.of(5)))) as Tuple<Tuple>;
  assert.deepEqual(decoded.map((t) => [...t]), [[64, 32], [5]]);
  assert.ok(decoded.every((t) => Object.isFrozen(t)));
});

Deno.test("empty and one-byte bytes are one memo entry each, as CPython shares them", () => {
  const ops = (value: unknown) =>
    [...instructions(pickle(value))].map(({ name, arg }) =>
      arg === undefined ? name : `${name} ${arg}`
    );
  // Distinct JS arrays of equal content: CPython would hold one object.
  const written = ops([
    "a",
    new Uint8Array([0x61]),
    new Uint8Array([0x61]),
    new Uint8Array(0),
    new Uint8Array(0),
    "latin1",
  ]);
  assert.deepEqual(written, [
    "PROTO 2",
    "EMPTY_LIST",
    "BINPUT 0",
    "MARK",
    "BINUNICODE 'a'",
    "BINPUT 1",
    // The text of a one-byte bytes is the shared one-character str.
    "GLOBAL '_codecs encode'",
    "BINPUT 2",
    "BINGET 1",
    "BINUNICODE 'latin1'",
    "BINPUT 3",
    "TUPLE2",
    "BINPUT 4",
    "REDUCE",
    "BINPUT 5",
    "BINGET 5",
    "GLOBAL '__builtin__ bytes'",
    "BINPUT 6",
    "EMPTY_TUPLE",
    "REDUCE",
    "BINPUT 7",
    "BINGET 7",
    // A "latin1" from the data is not CPython's interned encoding name.
    "BINUNICODE 'latin1'",
    "BINPUT 8",
    "APPENDS",
    "STOP",
  ]);
  // A bytearray's contents are a new bytes object in CPython, shared with nothing:
  // pickle.dumps([b"a", bytearray(b"a")], protocol=2).
  const inArray = ops([new Uint8Array([0x61]), new PyByteArray(new Uint8Array([0x61]))]);
  assert.deepEqual(inArray.slice(inArray.indexOf("GLOBAL '__builtin__ bytearray'")), [
    "GLOBAL '__builtin__ bytearray'",
    "BINPUT 6",
    "BINGET 1",
    "BINGET 2",
    "BINGET 3",
    "TUPLE2",
    "BINPUT 7",
    "REDUCE",
    "BINPUT 8",
    "TUPLE1",
    "BINPUT 9",
    "REDUCE",
    "BINPUT 10",
    "APPENDS",
    "STOP",
  ]);
  const back = unpickle(
    pickle([new Uint8Array([7]), new Uint8Array([7]), new Uint8Array([8])]),
  ) as Uint8Array[];
  assert.equal(back[0], back[1]);
  assert.notEqual(back[0], back[2]);
  assert.deepEqual([...back[2]], [8]);
});

Deno.test("pickleParts() gives large bytes parts of their own; joined, they are pickle()", () => {
  const big = new Uint8Array((1 << 20) + 3).map((_, i) => i * 7);
  const value = [big, "between", new Uint8Array([1, 2, 3]), big.subarray(5)];
  const parts = pickleParts(value);
  assert.ok(parts.length >= 3, `${parts.length} parts`);
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((at, part) => (joined.set(part, at), at + part.length), 0);
  assert.deepEqual(joined, pickle(value));
  const back = unpickle(joined) as unknown[];
  assert.deepEqual(back[0], big);
  assert.deepEqual(back[3], big.subarray(5));
});

Deno.test("INST and OBJ without arguments re-encode as NEWOBJ, as CPython re-pickles them", () => {
  const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
  // CPython makes these with cls.__new__(cls), without running __init__;
  // pickle.dumps(pickle.loads(x), 2) of either gives these bytes.
  const expected = latin1(
    "\x80\x02cmymod\nNeedsArg\nq\x00)\x81q\x01}q\x02X\x01\x00\x00\x00xq\x03K\x01sb.",
  );
  for (
    const source of [
      "(imymod\nNeedsArg\n(dp0\nVx\np1\nI1\nsb.",
      "(cmymod\nNeedsArg\no(dp0\nVx\np1\nI1\nsb.",
    ]
  ) {
    const value = unpickle(latin1(source)) as PyObject;
    assert.equal(value.how, "newobj");
    assert.deepEqual(pickle(value), expected);
  }
  // With arguments CPython calls the class, which REDUCE does too.
  const called = unpickle(latin1("(K\x01imymod\nNeedsArg\n.")) as PyObject;
  assert.equal(called.how, "reduce");
  assert.deepEqual([...called.args], [1]);
});
