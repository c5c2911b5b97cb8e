// PyDict.rename: a key renamed where it stands.
import assert from "node:assert/strict";
import { KeyError } from "../lib/errors.ts";
import { DuplicateKeyError, PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { Tuple } from "../lib/pickle/tuple.ts";

const dict = () => new PyDict<unknown, number>([["a", 1], ["b", 2], ["c", 3]]);

Deno.test("rename keeps the key's position and value", () => {
  for (const [old, position] of [["a", 0], ["b", 1], ["c", 2]] as const) {
    const d = dict();
    assert.equal(d.rename(old, "x"), d);
    const keys = ["a", "b", "c"];
    keys[position] = "x";
    assert.deepEqual([...d.keys()], keys, old);
    assert.equal(d.get("x"), position + 1);
    assert.equal(d.has(old), false);
    assert.equal(d.size, 3);
  }
});

Deno.test("rename refuses a missing key and a name already taken, changing nothing", () => {
  const d = dict();
  assert.throws(() => d.rename("zz", "x"), KeyError);
  assert.throws(
    () => d.rename("a", "c"),
    (error) =>
      error instanceof DuplicateKeyError && error.key === "c" &&
      error.message === "Cannot rename key 'a' to 'c': 'c' is already in the dict",
  );
  assert.deepEqual([...d.entries()], [["a", 1], ["b", 2], ["c", 3]]);
});

Deno.test("rename to an equal key replaces the key object in place, as Python keys compare", () => {
  const d = new PyDict<unknown, string>([[1, "one"], ["b", "bee"]]);
  d.rename(1, new PyFloat(1));
  const [first] = d.keys();
  assert.ok(first instanceof PyFloat && first.value === 1);
  assert.equal(d.get(true), "one");
  d.rename("b", "b");
  assert.deepEqual([...d.values()], ["one", "bee"]);
});

Deno.test("rename works on composite keys and on objects' items (an OrderedDict)", () => {
  const d = new PyDict<unknown, number>([[Tuple.of(1, "x"), 1], ["y", 2]]);
  d.rename(Tuple.of(1, "x"), Tuple.of(2, "x"));
  assert.equal(d.get(Tuple.of(2, "x")), 1);
  assert.deepEqual([...d.keys()][1], "y");
  const ordered = new PyObject<string, number>(PyGlobal.of("collections", "OrderedDict"));
  ordered.update([["p.w", 1], ["p.b", 2], ["q", 3]]);
  ordered.rename("p.w", "w").rename("p.b", "b");
  assert.deepEqual([...ordered.keys()], ["w", "b", "q"]);
});

Deno.test("renames in a large dict keep every other key in order", () => {
  const d = new PyDict<string, number>(Array.from({ length: 5000 }, (_, i) => [`m.${i}`, i]));
  for (let i = 0; i < 5000; i += 7) d.rename(`m.${i}`, `${i}`);
  const keys = [...d.keys()];
  assert.equal(keys.length, 5000);
  keys.forEach((key, i) => assert.equal(key, i % 7 === 0 ? `${i}` : `m.${i}`));
  assert.deepEqual([...d.values()], Array.from({ length: 5000 }, (_, i) => i));
});
