import assert from "node:assert/strict";
import { IdentityMemo } from "../lib/pickle/_identity_memo.ts";
import { pickle } from "../lib/pickle/pickler.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";

const SLOT = Symbol("test slot");

class Slotted {
  #slot = -1;
  [SLOT](slot?: number): number {
    if (slot !== undefined) this.#slot = slot;
    return this.#slot;
  }
}

Deno.test("identity memo numbers slotted and plain objects", () => {
  const memo = new IdentityMemo(SLOT);
  const a = new Slotted(), b = new Slotted(), plain = {};
  const version = memo.version;
  memo.set(a, 7);
  assert.equal(memo.version, version, "slotted objects leave the Map alone");
  assert.equal(memo.get(a), 7);
  assert.equal(memo.get(b), undefined);
  memo.set(plain, 9);
  assert.notEqual(memo.version, version);
  assert.equal(memo.get(plain), 9);
  assert.equal(memo.getSince(plain, version), 9);
  assert.equal(memo.getSince({}, memo.version), undefined);
  assert.equal(memo.getSince(a, memo.version), 7, "slots need no version");
  memo.release();
});

Deno.test("identity memo ignores slots left by an earlier memo", () => {
  const a = new Slotted(), b = new Slotted();
  const first = new IdentityMemo(SLOT);
  first.set(a, 1);
  first.set(b, 2);
  first.release();
  const second = new IdentityMemo(SLOT);
  assert.equal(second.get(a), undefined);
  assert.equal(second.get(b), undefined);
  second.set(b, 5);
  assert.equal(second.get(a), undefined, "a's old slot now names b's place");
  assert.equal(second.get(b), 5);
  second.release();
});

Deno.test("identity memos alive at once do not share slots", () => {
  const a = new Slotted(), first = new Slotted();
  const outer = new IdentityMemo(SLOT);
  outer.set(first, 0);
  outer.set(a, 1);
  const inner = new IdentityMemo(SLOT);
  assert.equal(inner.get(a), undefined);
  inner.set(a, 2);
  assert.equal(inner.get(a), 2);
  assert.equal(outer.get(a), 1);
  inner.release();
  const after = new IdentityMemo(SLOT);
  assert.equal(after.get(a), undefined);
  after.release();
  outer.release();
});

Deno.test("sharing survives pickling the same values again", () => {
  const shared = new PyDict([["x", 1]]);
  const object = new PyObject(PyGlobal.of("m", "C"), Tuple.of(), "reduce", shared);
  const first = pickle([object, shared, object]);
  assert.deepEqual(pickle([object, shared, object]), first);
  // Another graph meets them in another order: their slots from before must not count.
  const other = new PyDict();
  const back = unpickle(pickle([other, shared, object, shared, other])) as unknown[];
  assert.equal(back[0], back[4]);
  assert.equal(back[1], back[3]);
  assert.equal((back[2] as PyObject).state, back[1]);
  assert.notEqual(back[0], back[1]);
});

Deno.test("a hook that pickles while pickling keeps both pickles' sharing", () => {
  const shared = new PyDict([["x", 1]]);
  class Foreign {}
  const foreign = new Foreign();
  const root = [shared, foreign, shared];
  let inner: Uint8Array | undefined;
  const outer = pickle(root, {
    reduce(value) {
      if (!(value instanceof Foreign)) return undefined;
      // Meeting another dict first would move shared's slot, were it shared.
      inner = pickle([new PyDict(), new PyDict(), shared, shared]);
      return new PyObject(PyGlobal.of("m", "Foreign"), Tuple.of());
    },
  });
  const back = unpickle(outer) as unknown[];
  assert.equal(back[0], back[2]);
  assert.ok(back[0] instanceof PyDict);
  const innerBack = unpickle(inner!) as unknown[];
  assert.equal(innerBack[2], innerBack[3]);
});
