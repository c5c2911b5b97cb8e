// The codec's fast paths must decode exactly what the general paths do:
// protocol 2 bytes (`_codecs.encode(<latin-1 str>, "latin1")`) decoded
// without a JS string, tuples built in place, strings built from char codes.
import assert from "node:assert/strict";
import { LONG_STR, PyStr } from "../lib/pickle/py_str.ts";
import { Op } from "../lib/pickle/opcodes.ts";
import { pickle } from "../lib/pickle/pickler.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";

const encoder = new TextEncoder();

function u32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
}

function text(op: number, value: string): number[] {
  const bytes = [...encoder.encode(value)];
  return op === Op.SHORT_BINUNICODE
    ? [op, bytes.length, ...bytes]
    : [op, ...u32(bytes.length), ...bytes];
}

/**
 * `[_codecs.encode(t, "latin1"), then memo GETs of t, of the argument tuple and of "latin1"]`,
 * with "latin1" spelled by `encodingOp`: SHORT_BINUNICODE takes the fast
 * path, BINUNICODE the general one.
 */
function codecsPickle(value: string, encodingOp: number): Uint8Array {
  return new Uint8Array([
    Op.PROTO,
    2,
    Op.EMPTY_LIST,
    Op.BINPUT,
    0,
    Op.MARK,
    ...encoder.encode("c_codecs\nencode\n"),
    Op.BINPUT,
    1,
    ...text(Op.BINUNICODE, value),
    Op.BINPUT,
    2,
    ...text(encodingOp, "latin1"),
    Op.BINPUT,
    3,
    Op.TUPLE2,
    Op.BINPUT,
    4,
    Op.REDUCE,
    Op.BINPUT,
    5,
    Op.BINGET,
    2,
    Op.BINGET,
    4,
    Op.BINGET,
    3,
    Op.BINGET,
    4,
    Op.APPENDS,
    Op.STOP,
  ]);
}

function sample(length: number, kind: "ascii" | "latin1" | "wide"): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    const code = kind === "ascii" ? (i * 7) & 0x7f : (i * 131) & 0xff;
    out += String.fromCharCode(kind === "wide" && i === length >> 1 ? 0x2603 : code);
  }
  return out;
}

Deno.test("bytes arguments decode the same on the fast and the general path", () => {
  for (const length of [1023, 1024, 1025, 5000, 70000]) {
    for (const kind of ["ascii", "latin1", "wide"] as const) {
      const value = sample(length, kind);
      const fast = unpickle(codecsPickle(value, Op.SHORT_BINUNICODE)) as unknown[];
      const general = unpickle(codecsPickle(value, Op.BINUNICODE)) as unknown[];
      assert.deepEqual(fast, general, `${kind} ${length}`);
      assert.equal(fast.length, 5);
      // The deferred memo values: the text, one tuple fetched twice, "latin1".
      // A str longer than LONG_STR is a PyStr, the same object in the tuple.
      assert.equal(String(fast[1]), value);
      assert.equal(fast[1] instanceof PyStr, length > LONG_STR);
      assert.ok(fast[2] instanceof Tuple && Object.isFrozen(fast[2]));
      assert.deepEqual([...(fast[2] as Tuple)], [fast[1], "latin1"]);
      assert.equal(fast[2], fast[4]);
      assert.equal(fast[3], "latin1");
      if (kind !== "wide") {
        const bytes = fast[0] as Uint8Array;
        assert.ok(bytes instanceof Uint8Array);
        assert.equal(bytes.length, length);
        assert.equal(bytes.buffer.byteLength, length);
        assert.deepEqual([...bytes], [...value].map((c) => c.charCodeAt(0)));
      }
    }
  }
});

Deno.test("large bytes and numpy-style payloads survive a round trip byte for byte", () => {
  const data = new Uint8Array(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const array = new PyObject(PyGlobal.of("numpy.core.multiarray", "_reconstruct"), Tuple.of());
  array.state = Tuple.of(1, Tuple.of(data.length), false, data);
  const value = new PyDict<string, unknown>([["a", data], ["b", data.slice(7)], ["c", array]]);
  const bytes = pickle(value);
  const decoded = unpickle(bytes) as PyDict<string, unknown>;
  assert.deepEqual(decoded.get("a"), data);
  assert.deepEqual(decoded.get("b"), data.slice(7));
  assert.deepEqual(pickle(decoded), bytes);
});

Deno.test("a truncated bytes argument fails as before", () => {
  const full = codecsPickle(sample(2000, "latin1"), Op.SHORT_BINUNICODE);
  for (const cut of [30, 1000, full.length - 12, full.length - 1]) {
    assert.throws(() => unpickle(full.subarray(0, cut)), /Cannot decode pickle/);
  }
});

Deno.test("tuples of every size and short strings decode as built", () => {
  const items = ["", "a", "key.with.dots", "ü", "\u{1F600}", 1, null, true];
  for (let n = 0; n < 8; n++) {
    const tuple = Tuple.fromArray(items.slice(0, n));
    const decoded = unpickle(pickle(new PyDict([["t", tuple], ["u", tuple]]))) as PyDict;
    const t = decoded.get("t") as Tuple;
    assert.ok(t instanceof Tuple && Object.isFrozen(t));
    assert.deepEqual([...t], items.slice(0, n));
    assert.equal(t, decoded.get("u"));
    // Array methods on tuples return lists.
    assert.ok(!(t.map((x) => x) instanceof Tuple));
    assert.ok(Array.isArray(t.slice(0)) && !(t.slice(0) instanceof Tuple));
  }
  const long = "x".repeat(127) + "é";
  assert.equal(unpickle(pickle(long)), long);
  assert.equal(unpickle(pickle("y".repeat(128))), "y".repeat(128));
});
