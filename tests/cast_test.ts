// castElements against torch's tensor.to(dtype): the recorded edge vectors
// (tests/fixtures/tensor_cast.json) and, with torch, every 8- and 16-bit
// pattern plus random 32- and 64-bit ones.
import assert from "node:assert/strict";
import { CANONICAL_NAN, CAST_DTYPES, castElements } from "../lib/torch/cast.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { TensorError } from "../lib/torch/tensor_error.ts";
import { runPython, skipTorch } from "./_python.ts";
import {
  castVectors,
  fromHex,
  isNaNElement,
  mismatches,
  random,
  toHex,
} from "./_tensor_vectors.ts";

const root = new URL("../", import.meta.url).pathname;
const type = (name: string) => dtype(name)!;

Deno.test("castElements gives torch's bits for every recorded vector, one element at a time", async () => {
  const { pairs } = await castVectors();
  let rows = 0;
  let nanRows = 0;
  const wrong: string[] = [];
  for (const [pair, vectors] of Object.entries(pairs)) {
    const [from, to] = pair.split("->");
    for (const [src, dst] of vectors) {
      rows++;
      const out = castElements(fromHex(src), type(from), type(to));
      if (isNaNElement(fromHex(dst), to)) nanRows++;
      if (mismatches(out, fromHex(dst), to, type(to).itemsize, from === to).length > 0) {
        wrong.push(`${pair} ${src}: ${toHex(out)}, torch ${dst}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
  assert.equal(Object.keys(pairs).length, 100);
  assert.ok(rows > 5000 && nanRows > 100, `${rows} rows, ${nanRows} NaN results`);
});

Deno.test("castElements converts a whole column as it converts each element", async () => {
  const { pairs } = await castVectors();
  for (const [pair, vectors] of Object.entries(pairs)) {
    const [from, to] = pair.split("->");
    // Repeated past the staging chunk, at an odd start, so every loop boundary is crossed.
    const copies = Math.ceil(70_000 / vectors.length);
    const one = fromHex(vectors.map(([src]) => src).join(""));
    const source = new Uint8Array(one.length * copies + type(from).itemsize);
    for (let k = 0; k < copies; k++) source.set(one, type(from).itemsize + k * one.length);
    const out = castElements(source.subarray(type(from).itemsize), type(from), type(to));
    const expected = fromHex(vectors.map(([, dst]) => dst).join("").repeat(copies));
    assert.deepEqual(mismatches(out, expected, to, type(to).itemsize, from === to), [], pair);
  }
});

Deno.test("castElements writes one canonical NaN per float destination", () => {
  const nans = new Uint32Array([0x7fc00000, 0xffc00000, 0x7f800001, 0x7fc0abcd, 0xffffffff]);
  // float64 NaNs: with a payload, negative, signalling.
  const doubles = new Uint32Array([0xabcd, 0x7ff80000, 0, 0xfff80000, 1, 0x7ff00000]);
  for (const [from, source] of [["float32", nans], ["float64", doubles]] as const) {
    for (const to of ["float64", "float32", "float16", "bfloat16"]) {
      if (to === from) continue;
      const out = castElements(new Uint8Array(source.buffer), type(from), type(to));
      const size = type(to).itemsize;
      const count = source.byteLength / type(from).itemsize;
      for (let i = 0; i < count; i++) {
        assert.equal(toHex(out.subarray(i * size, i * size + size)), CANONICAL_NAN[to], to);
      }
    }
  }
  // float16 and bfloat16 NaNs of both signs, signalling or with payloads.
  for (const from of ["float16", "bfloat16"]) {
    const halves = new Uint16Array(
      from === "float16" ? [0x7c01, 0xfe00, 0x7fff] : [0x7f81, 0xffc0, 0x7fff],
    );
    for (const to of ["float64", "float32", "float16", "bfloat16"]) {
      if (to === from) continue;
      const out = castElements(new Uint8Array(halves.buffer), type(from), type(to));
      const size = type(to).itemsize;
      for (let i = 0; i < halves.length; i++) {
        assert.equal(toHex(out.subarray(i * size, i * size + size)), CANONICAL_NAN[to], to);
      }
    }
  }
});

Deno.test("castElements of one dtype to itself is a copy that keeps NaN payloads", () => {
  const source = new Uint8Array(new Uint32Array([0x7fc0abcd, 0xff800001]).buffer);
  const out = castElements(source, type("float32"), type("float32"));
  assert.deepEqual(out, source);
  assert.notEqual(out.buffer, source.buffer);
});

Deno.test("castElements refuses dtypes outside the ten and partial elements", () => {
  assert.throws(
    () => castElements(new Uint8Array(8), type("complex64"), type("float32")),
    (error) =>
      error instanceof TensorError &&
      error.message.startsWith("Cannot convert complex64 to float32: ckptkit converts only"),
  );
  assert.throws(
    () => castElements(new Uint8Array(2), type("float32"), type("float8_e4m3fn")),
    TensorError,
  );
  assert.throws(
    () => castElements(new Uint8Array(6), type("float32"), type("float16")),
    /Cannot convert float32 to float16: 6 bytes is not a whole number of float32 elements/,
  );
  assert.deepEqual(CAST_DTYPES.length, 10);
});

/** Random bit patterns plus structured ones around rounding points and integer edges. */
function samples(name: string, count: number, next: () => number): Uint8Array {
  const size = type(name).itemsize;
  const out = new Uint8Array(count * size);
  const words = new Uint32Array(out.buffer);
  if (size === 4) {
    for (let i = 0; i < count; i++) {
      const r = next();
      if (r < 0.5) words[i] = Math.floor(next() * 2 ** 32);
      else {
        // Every exponent, mantissa tails next to the float16/bfloat16 rounding points.
        const exponent = Math.floor(next() * 256);
        const tail = [0x1000, 0x0fff, 0x1001, 0x8000, 0x7fff, 0x8001, 0x3000, 0x18000][i % 8];
        const top = Math.floor(next() * 2 ** 9) << 14;
        words[i] = ((next() < 0.5 ? 0x80000000 : 0) | (exponent << 23) | top | tail) >>> 0;
      }
      if (name === "int32" && r > 0.75) words[i] = (2 ** Math.floor(next() * 31) + i % 5 - 2) >>> 0;
    }
  } else {
    for (let i = 0; i < count; i++) {
      const r = next();
      let low = Math.floor(next() * 2 ** 32);
      let high = Math.floor(next() * 2 ** 32);
      if (name === "float64" && r > 0.5) {
        // Doubles just off float32 rounding points and around integer edges.
        const f = new Float64Array(1);
        const bits = new Uint32Array(f.buffer);
        f[0] = (next() - 0.5) * 2 ** Math.floor(next() * 140 - 70);
        // The 29 bits float32 drops: a tie, just off it either way, or a tiny remainder.
        bits[0] = (bits[0] & 0xe0000000) |
          [0x10000000, 0x10000001, 0x0fffffff, 0, 1][i % 5];
        if (i % 7 === 0) f[0] = Math.trunc((next() - 0.5) * 2 ** Math.floor(next() * 66)) + 0.5;
        [low, high] = [bits[0], bits[1]];
      } else if (name === "int64" && r > 0.5) {
        // Integers of every length, low bits next to the float32 rounding points.
        const length = Math.floor(next() * 63);
        high = length > 32 ? Math.floor(next() * 2 ** (length - 32)) : 0;
        low = length > 32 ? Math.floor(next() * 2 ** 32) : Math.floor(next() * 2 ** length);
        if (length > 25 && i % 2 === 0) {
          // A float32 tie (half an ulp exactly), alone or with a low bit set.
          const at = length - 25;
          const mask = at >= 32 ? [0xffffffff, 2 ** (at - 32) * 2 - 1] : [2 ** (at + 1) - 1, 0];
          low = (low & ~mask[0]) >>> 0;
          high = at >= 32 ? Math.floor(high / 2 ** (at - 31)) * 2 ** (at - 31) : high;
          if (at >= 32) high += 2 ** (at - 32);
          else low += 2 ** at;
          if (i % 4 === 0) low |= 1 << (i % 12);
          low >>>= 0;
        }
        if (next() < 0.5) {
          low = (~low + 1) >>> 0;
          high = (~high + (low === 0 ? 1 : 0)) >>> 0;
        }
      }
      words[2 * i] = low;
      words[2 * i + 1] = high;
    }
  }
  return out;
}

/** Every pattern of an 8- or 16-bit dtype. */
function every(name: string): Uint8Array {
  const size = type(name).itemsize;
  const count = name === "bool" ? 2 : 2 ** (8 * size);
  const out = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) {
    out[i * size] = i & 0xff;
    if (size === 2) out[i * size + 1] = i >> 8;
  }
  return out;
}

Deno.test({
  name: "castElements agrees with torch on every 8- and 16-bit pattern and random wider ones",
  ignore: skipTorch,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const next = random(20240613);
      const sources = new Map<string, Uint8Array>();
      for (const name of CAST_DTYPES) {
        const wide = type(name).itemsize >= 4;
        sources.set(name, wide ? samples(name, 200_000, next) : every(name));
      }
      for (const [name, bytes] of sources) await Deno.writeFile(`${dir}/${name}.bin`, bytes);
      assert.match(await runPython([`${root}tests/interop/tensor_cast.py`, dir]), /ok/);
      const counts: string[] = [];
      for (const [from, bytes] of sources) {
        for (const to of CAST_DTYPES) {
          const expected = await Deno.readFile(`${dir}/${from}-${to}.bin`);
          const actual = castElements(bytes, type(from), type(to));
          const bad = mismatches(actual, expected, to, type(to).itemsize, from === to);
          const show = bad.slice(0, 3).map((i) => {
            const s = type(from).itemsize, d = type(to).itemsize;
            return `${toHex(bytes.subarray(i * s, i * s + s))} -> ${
              toHex(actual.subarray(i * d, i * d + d))
            }, torch ${toHex(expected.subarray(i * d, i * d + d))}`;
          });
          assert.deepEqual(show, [], `${from}->${to}: ${bad.length} mismatches`);
        }
        counts.push(`${from} ${bytes.length / type(from).itemsize}`);
      }
      assert.equal(counts.length, 10);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
