// Random value graphs, pickled here, loaded by CPython and pickled again
// there: protocol 2 output must be the same bytes. Exercises sharing,
// recursion through mutable containers, batching at the 1000-item edges and
// every kind of value, which the fixed fixtures cannot all reach.
import assert from "node:assert/strict";
import { pickle } from "../lib/pickle/pickler.ts";
import { PyByteArray } from "../lib/pickle/py_bytearray.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { PyFrozenSet, PySet } from "../lib/pickle/py_set.ts";
import { PyStr } from "../lib/pickle/py_str.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { runPython, skipTorch } from "./_python.ts";

const ORDERED_DICT = PyGlobal.of("collections", "OrderedDict");
const CASES = 300;

/** xorshift32: the same graphs on every run. */
class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 2 ** 32;
  }
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

const TEXTS = ["", "a", "key", "é", "日本語", "😀", "tab\tand\nnewline", "x".repeat(70)];

class Graphs {
  #random: Random;
  // Containers made so far, for shared references and cycles.
  #made: object[] = [];

  constructor(seed: number) {
    this.#random = new Random(seed);
  }

  atom(): unknown {
    const r = this.#random;
    switch (r.below(12)) {
      case 0:
        return null;
      case 1:
        return r.next() < 0.5;
      case 2:
        return r.below(300) - 20;
      case 3:
        return r.pick([255, 256, 65535, 65536, -1, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 40]);
      case 4:
        return r.pick([2n ** 64n, -(2n ** 70n), 2n ** 2100n]);
      case 5:
        return new PyFloat(r.pick([0.5, -0, 1, 1e300, NaN, Infinity, 3.25]));
      case 6:
        return r.pick(TEXTS) + (r.next() < 0.3 ? String(r.below(5)) : "");
      case 7:
        return new PyStr(r.pick(["\ud83d\ude00", "a\udc80", "\ud800"]));
      case 8:
        return this.#bytes();
      default:
        return r.pick(TEXTS);
    }
  }

  #bytes(): Uint8Array {
    const r = this.#random;
    const length = r.pick([0, 1, 5, 300, 1500, 70000]);
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = r.below(256);
    return bytes;
  }

  /** A hashable value: what Python accepts as a dict key or set member. */
  key(): unknown {
    const r = this.#random;
    if (r.next() < 0.15) return Tuple.of(this.atomKey(), this.atomKey());
    return this.atomKey();
  }

  atomKey(): unknown {
    const r = this.#random;
    switch (r.below(4)) {
      case 0:
        return r.below(50);
      case 1:
        return new PyFloat(r.pick([0.5, 2.5]));
      default:
        return r.pick(TEXTS) + r.below(20);
    }
  }

  /** A list of several values, so that each case holds many kinds at once. */
  root(): unknown[] {
    return Array.from({ length: 2 + this.#random.below(6) }, () => this.value(4));
  }

  value(depth: number): unknown {
    const r = this.#random;
    if (depth <= 0 || r.next() < 0.2) return this.atom();
    if (this.#made.length > 0 && r.next() < 0.12) return r.pick(this.#made);
    switch (r.below(9)) {
      case 0:
      case 1:
        return this.#list(depth);
      case 2:
      case 3:
        return this.#dict(depth);
      case 4: {
        const items = Array.from({ length: r.below(6) }, () => this.value(depth - 1));
        const tuple = Tuple.fromArray(items);
        if (tuple.length > 0) this.#made.push(tuple);
        return tuple;
      }
      case 5: {
        // Python iterates a set in hash order; small ints in order keep that order ours.
        const members = [...new Set(Array.from({ length: r.below(6) }, () => r.below(8)))]
          .sort((a, b) => a - b);
        return r.next() < 0.5 ? new PySet(members) : new PyFrozenSet(members);
      }
      case 6:
        return new PyByteArray(this.#bytes());
      case 7:
        return this.#cycle(depth);
      default: {
        const ordered = new PyObject(ORDERED_DICT, Tuple.of());
        this.#made.push(ordered);
        const size = r.pick([0, 1, 2, 5, 1000, 1001]);
        for (let i = 0; i < size; i++) {
          ordered.set(this.key(), size > 100 ? this.atom() : this.value(depth - 1));
        }
        return ordered;
      }
    }
  }

  #list(depth: number): unknown[] {
    const r = this.#random;
    const list: unknown[] = [];
    this.#made.push(list);
    const size = r.pick([0, 1, 2, 3, 7, 999, 1000, 1001, 2000]);
    for (let i = 0; i < size; i++) list.push(size > 100 ? this.atom() : this.value(depth - 1));
    return list;
  }

  #dict(depth: number): PyDict {
    const r = this.#random;
    const dict = new PyDict();
    this.#made.push(dict);
    const size = r.pick([0, 1, 2, 4, 999, 1000, 1001, 2000]);
    for (let i = 0; i < size; i++) {
      dict.set(this.key(), size > 100 ? this.atom() : this.value(depth - 1));
    }
    return dict;
  }

  /** Values that lead back to themselves through a list or a dict. */
  #cycle(depth: number): unknown {
    const r = this.#random;
    const list: unknown[] = [];
    this.#made.push(list);
    switch (r.below(3)) {
      case 0:
        list.push(list, this.value(depth - 1));
        return list;
      case 1: {
        // A tuple reached again from inside itself: CPython keeps the memo copy.
        const tuple = Tuple.of(list, this.atom(), this.atom(), this.atom());
        list.push(tuple);
        return r.next() < 0.5 ? tuple : list;
      }
      default: {
        const dict = new PyDict([["self", list]]);
        list.push(dict, Tuple.of(dict));
        return dict;
      }
    }
  }
}

Deno.test({
  name: "CPython re-pickles random value graphs to the same protocol 2 bytes",
  ignore: skipTorch,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      for (let i = 0; i < CASES; i++) {
        const value = new Graphs(i + 1).root();
        await Deno.writeFile(`${dir}/${i}.pkl`, pickle(value));
      }
      const report = await runPython([
        "-c",
        `import pickle, sys
bad = []
for i in range(int(sys.argv[2])):
    data = open(f"{sys.argv[1]}/{i}.pkl", "rb").read()
    again = pickle.dumps(pickle.loads(data), protocol=2)
    if again != data:
        at = next((k for k in range(min(len(data), len(again))) if data[k] != again[k]), None)
        bad.append(f"{i}: {len(data)} vs {len(again)} bytes, first difference at {at}")
print(len(bad))
print("\\n".join(bad[:10]))`,
        dir,
        String(CASES),
      ]);
      assert.equal(report.trim(), "0", report);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
