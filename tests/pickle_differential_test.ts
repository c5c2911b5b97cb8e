// Random value graphs, pickled here, loaded by CPython and pickled again
// there: protocol 2 output must be the same bytes. Exercises sharing,
// recursion through mutable containers, batching at the 1000-item edges and
// every kind of value, which the fixed fixtures cannot all reach.
import assert from "node:assert/strict";
import { pickle } from "../lib/pickle/pickler.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";
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
        return r.next() < 0.25
          ? PyStr.fromCodePoints([0xd83d, 0xde00, 0x1f600]) // paired surrogates and an astral
          : new PyStr(r.pick(["\ud83d\ude00", "a\udc80", "\ud800"]));
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

const PYTHON_GRAPHS = String.raw`
import collections, os, pickle, random, sys
out, count = sys.argv[1], int(sys.argv[2])
# Pools: equal strings and bytes built apart would be distinct objects in
# Python, which the value model (one memo entry per equal string) cannot tell.
TEXTS = ["", "a", "key", "\xe9", "\u65e5\u672c", "\U0001F600", "x" * 70, "a\udc80", "tab\tnl\n"]
BYTES = [b"", b"a", b"\x00\xff", bytes(range(256)) * 6]
def atom(r):
    k = r.randrange(9)
    if k == 0: return None
    if k == 1: return r.random() < 0.5
    if k == 2: return r.randrange(-300, 70000)
    if k == 3: return r.choice([2**64, -(2**70), 2**2100, 2**31, -(2**31) - 1])
    if k == 4: return r.choice([0.5, -0.0, 1.0, 1e300, float("inf"), 3.25])
    if k == 5: return r.choice(BYTES)
    return r.choice(TEXTS)
def key(r):
    return (r.randrange(9), r.choice(TEXTS)) if r.random() < 0.2 else r.choice([r.randrange(40), r.choice(TEXTS)])
def value(r, depth, made):
    if depth <= 0 or r.random() < 0.2: return atom(r)
    if made and r.random() < 0.12: return r.choice(made)
    k = r.randrange(9)
    if k in (0, 1):
        v = []; made.append(v)
        n = r.choice([0, 1, 2, 5, 999, 1000, 1001])
        v.extend(atom(r) if n > 100 else value(r, depth - 1, made) for _ in range(n))
        return v
    if k in (2, 3):
        v = {}; made.append(v)
        n = r.choice([0, 1, 3, 999, 1000, 1001])
        for _ in range(n): v[key(r)] = atom(r) if n > 100 else value(r, depth - 1, made)
        return v
    if k == 4: return tuple(value(r, depth - 1, made) for _ in range(r.randrange(6)))
    # Small ints iterate in one order however a set was built; other members
    # may come back from a load in another order.
    if k == 5: return (set if r.random() < 0.5 else frozenset)(r.randrange(8) for _ in range(r.randrange(6)))
    if k == 6: return bytearray(r.choice(BYTES))
    if k == 7:
        v = []; made.append(v); t = (v, atom(r), atom(r), atom(r)); v.append(t)
        return t if r.random() < 0.5 else v
    v = collections.OrderedDict(); made.append(v)
    for _ in range(r.choice([0, 1, 2, 1000, 1001])): v[key(r)] = atom(r)
    return v
for i in range(count):
    r = random.Random(i)
    v = [value(r, 4, []) for _ in range(2 + r.randrange(5))]
    protocol = i % 6
    data = pickle.dumps(v, protocol=protocol)
    with open(f"{out}/{i}.p{protocol}", "wb") as f: f.write(data)
    # What Python writes after loading the file, as a rewrite does: its
    # objects then share what loading shares (one-character strings, b"").
    with open(f"{out}/{i}.ref", "wb") as f: f.write(pickle.dumps(pickle.loads(data), protocol=2))
`;

Deno.test({
  name:
    "CPython's pickles of random values, protocols 0 to 5, decode and re-encode as CPython's protocol 2",
  ignore: skipTorch,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await runPython(["-c", PYTHON_GRAPHS, dir, String(CASES)]);
      const bad: string[] = [];
      for (let i = 0; i < CASES; i++) {
        const protocol = i % 6;
        const source = await Deno.readFile(`${dir}/${i}.p${protocol}`);
        const reference = await Deno.readFile(`${dir}/${i}.ref`);
        const ours = pickle(unpickle(source));
        const at = ours.findIndex((byte, k) => byte !== reference[k]);
        if (at >= 0 || ours.length !== reference.length) {
          bad.push(`${i} (protocol ${protocol}): ${ours.length} vs ${reference.length}, at ${at}`);
        }
      }
      assert.deepEqual(bad, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
