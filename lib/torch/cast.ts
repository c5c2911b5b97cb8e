/**
 * Element conversion between dtypes, bit for bit as torch's `tensor.to(dtype)`
 * on CPU (torch 1.13 and 2.x agree for every non-NaN value):
 *
 * - float16 and bfloat16 are reached through float32, so float64 and int64
 *   values round twice (float64 `1 + 2**-11 + 2**-40` gives float16
 *   `0x3C00`); integers round once to float32's 24 bits, then again;
 * - float to integer truncates; out of range (and NaN, infinities) gives
 *   int64 and int32 their minimum, int16 and int8 the low bits of the int32
 *   result, uint8 the low bits of the int64 result;
 * - integer to integer keeps the low bits; anything to bool is `x != 0`
 *   (NaN is true).
 *
 * NaN results are not deterministic in torch (they depend on the kernel:
 * vectorised or scalar, CPU, version). A NaN becomes one canonical quiet NaN
 * per destination: {@linkcode CANONICAL_NAN}.
 *
 * The host must be little-endian, as checkpoints are.
 *
 * @module
 */

import type { DType } from "./dtype.ts";
import { TensorError } from "./tensor_error.ts";

/**
 * The dtypes {@linkcode castElements} converts between: the ten that torch
 * 1.13 converts on CPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CAST_DTYPES } from "./cast.ts";
 * assert.ok(CAST_DTYPES.includes("bfloat16") && !CAST_DTYPES.includes("complex64"));
 * ```
 */
export const CAST_DTYPES: readonly string[] = Object.freeze([
  "float64",
  "float32",
  "float16",
  "bfloat16",
  "int64",
  "int32",
  "int16",
  "int8",
  "uint8",
  "bool",
]);

/**
 * The NaN written for each floating destination, as little-endian hex of
 * one element: positive, quiet, no payload, whatever the source NaN was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CANONICAL_NAN, castElements } from "./cast.ts";
 * import { dtype } from "./dtype.ts";
 * const nan = new Uint8Array(new Uint32Array([0xffc0abcd]).buffer);
 * const half = castElements(nan, dtype("float32")!, dtype("float16")!);
 * assert.equal(CANONICAL_NAN.float16, "007e");
 * assert.deepEqual(half, new Uint8Array([0x00, 0x7e]));
 * ```
 */
export const CANONICAL_NAN: Readonly<Record<string, string>> = Object.freeze({
  float64: "000000000000f87f",
  float32: "0000c07f",
  float16: "007e",
  bfloat16: "c07f",
});

const NAN32 = 0x7fc00000 | 0;
const NAN16 = 0x7e00;
const NANBF = 0x7fc0;
const NAN64_HIGH = 0x7ff80000;
const TWO32 = 4294967296;
const TWO31 = 2147483648;
const TWO63 = 9223372036854775808;
// Elements converted per pass through the float64 staging buffer.
const CHUNK = 1 << 16;

/**
 * Converts the elements in `source` (little-endian `from` elements) to `to`,
 * as torch's `tensor.to(to)` does; returns a new array. Same dtypes give a
 * copy.
 *
 * @throws {TensorError} when either dtype is not in {@linkcode CAST_DTYPES},
 * or `source` is not a whole number of elements.
 *
 * @example float32 to bfloat16, rounding to nearest even
 * ```ts
 * import assert from "node:assert/strict";
 * import { castElements } from "./cast.ts";
 * import { dtype } from "./dtype.ts";
 *
 * const source = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1e39]);
 * const out = castElements(new Uint8Array(source.buffer), dtype("float32")!, dtype("bfloat16")!);
 * assert.deepEqual(new Uint16Array(out.buffer), new Uint16Array([0x3f80, 0x3f82, 0x7f80]));
 * ```
 */
export function castElements(source: Uint8Array, from: DType, to: DType): Uint8Array {
  for (const type of [from, to]) {
    if (!CAST_DTYPES.includes(type.name)) {
      throw new TensorError(
        `convert ${from.name} to ${to.name}`,
        `ckptkit converts only between ${CAST_DTYPES.join(", ")}`,
      );
    }
  }
  if (source.length % from.itemsize !== 0) {
    throw new TensorError(
      `convert ${from.name} to ${to.name}`,
      `${source.length} bytes is not a whole number of ${from.name} elements`,
    );
  }
  const count = source.length / from.itemsize;
  const out = new Uint8Array(count * to.itemsize);
  if (from === to || from.name === to.name) {
    out.set(source);
    return out;
  }
  // Typed views need aligned bytes.
  const input = source.byteOffset % 8 === 0 ? source : source.slice();
  if (fastPath(input, from.name, to.name, out)) return out;
  if (from.name === "int64") {
    castInt64(input, to.name, count, out);
    return out;
  }
  // Everything else is staged as float64 numbers, which hold every value of
  // the other dtypes exactly.
  const stage = new Float64Array(Math.min(count, CHUNK));
  const integral = !isFloat(from.name);
  for (let start = 0; start < count; start += CHUNK) {
    const n = Math.min(CHUNK, count - start);
    readValues(input, from.name, start, n, stage);
    writeValues(stage, n, integral, to.name, out, start);
  }
  return out;
}

function isFloat(name: string): boolean {
  return name === "float64" || name === "float32" || name === "float16" || name === "bfloat16";
}

/**
 * float16 bits of float32 bits `x` (NaNs excepted), rounded to nearest even.
 * `x` may be the signed int32 reading of the bits.
 */
function halfOfFloatBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a >= 0x477ff000) return sign | 0x7c00; // >= 65520 rounds to infinity
  if (a >= 0x38800000) {
    // Normal half: rebias the exponent, round the 13 dropped mantissa bits.
    const m = a - 0x38000000;
    return sign | ((m + 0xfff + ((m >>> 13) & 1)) >>> 13);
  }
  if (a <= 0x33000000) return sign; // <= 2**-25 rounds to zero
  // Subnormal half: the implicit bit joins the mantissa, shifted onto 2**-24.
  const shift = 126 - (a >>> 23);
  const m = (a & 0x7fffff) | 0x800000;
  const q = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (q + (rest > half || (rest === half && (q & 1) === 1) ? 1 : 0));
}

/**
 * bfloat16 bits of float32 bits `x` (NaNs excepted), rounded to nearest
 * even: the magnitude rounds, the sign is kept, so all stays in int32.
 */
function bfloatOfFloatBits(x: number): number {
  const a = x & 0x7fffffff;
  return ((a + 0x7fff + ((a >>> 16) & 1)) >>> 16) | ((x >>> 16) & 0x8000);
}

let halfTable: Int32Array | undefined;

/** float32 bits of every float16 pattern, NaNs canonical: widening is one lookup. */
function halfToFloatTable(): Int32Array {
  if (halfTable !== undefined) return halfTable;
  const table = new Int32Array(65536);
  const floats = new Float32Array(table.buffer);
  const halves = new Float16Array(65536);
  const bits = new Uint16Array(halves.buffer);
  for (let i = 0; i < 65536; i++) bits[i] = i;
  for (let i = 0; i < 65536; i++) {
    if ((i & 0x7fff) > 0x7c00) table[i] = NAN32;
    else floats[i] = halves[i];
  }
  return halfTable = table;
}

// The common float pairs convert on their bits, each in its own small loop
// (V8 optimizes small functions whole); int32 views keep every value an
// int32, where uint32 ones would box the upper half of the range.

function halvesOfFloats(src: Int32Array, dst: Uint16Array): void {
  for (let i = 0; i < src.length; i++) {
    const x = src[i];
    dst[i] = (x & 0x7fffffff) > 0x7f800000 ? NAN16 : halfOfFloatBits(x);
  }
}

function bfloatsOfFloats(src: Int32Array, dst: Uint16Array): void {
  for (let i = 0; i < src.length; i++) {
    const x = src[i];
    dst[i] = (x & 0x7fffffff) > 0x7f800000 ? NANBF : bfloatOfFloatBits(x);
  }
}

function floatsOfHalves(src: Uint16Array, dst: Int32Array, table: Int32Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]];
}

function floatsOfBfloats(src: Uint16Array, dst: Int32Array): void {
  for (let i = 0; i < src.length; i++) {
    const x = src[i];
    dst[i] = (x & 0x7fff) > 0x7f80 ? NAN32 : x << 16;
  }
}

function int32s(bytes: Uint8Array): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
}

function uint16s(bytes: Uint8Array): Uint16Array {
  return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 1);
}

/** Converts the common float pairs directly; false for the others. */
function fastPath(input: Uint8Array, from: string, to: string, out: Uint8Array): boolean {
  if (from === "float32" && to === "float16") halvesOfFloats(int32s(input), uint16s(out));
  else if (from === "float32" && to === "bfloat16") bfloatsOfFloats(int32s(input), uint16s(out));
  else if (from === "float16" && to === "float32") {
    floatsOfHalves(uint16s(input), int32s(out), halfToFloatTable());
  } else if (from === "bfloat16" && to === "float32") floatsOfBfloats(uint16s(input), int32s(out));
  else return false;
  return true;
}

/** Reads `n` elements from element `start` of `input` as exact float64 values. */
function readValues(
  input: Uint8Array,
  from: string,
  start: number,
  n: number,
  stage: Float64Array,
): void {
  const { buffer, byteOffset } = input;
  switch (from) {
    case "float64":
      stage.set(new Float64Array(buffer, byteOffset + start * 8, n));
      return;
    case "float32":
      stage.set(new Float32Array(buffer, byteOffset + start * 4, n));
      return;
    case "float16":
      stage.set(new Float16Array(buffer, byteOffset + start * 2, n));
      return;
    case "bfloat16": {
      const src = new Uint16Array(buffer, byteOffset + start * 2, n);
      const bits = new Uint32Array(1);
      const value = new Float32Array(bits.buffer);
      for (let i = 0; i < n; i++) {
        bits[0] = src[i] << 16;
        stage[i] = value[0];
      }
      return;
    }
    case "int32":
      stage.set(new Int32Array(buffer, byteOffset + start * 4, n));
      return;
    case "int16":
      stage.set(new Int16Array(buffer, byteOffset + start * 2, n));
      return;
    case "int8":
      stage.set(new Int8Array(buffer, byteOffset + start, n));
      return;
    case "uint8":
      stage.set(new Uint8Array(buffer, byteOffset + start, n));
      return;
    case "bool": {
      // A byte other than 0 or 1 (a hand-made file) is true, as in torch.
      const src = new Uint8Array(buffer, byteOffset + start, n);
      for (let i = 0; i < n; i++) stage[i] = src[i] === 0 ? 0 : 1;
      return;
    }
  }
}

/**
 * Writes `n` staged values to elements `start...` of `out` as `to`.
 * `integral`: the values are integers (within int32), which convert to
 * integer dtypes by keeping their low bits; the float rules give the same
 * results for them.
 */
function writeValues(
  stage: Float64Array,
  n: number,
  integral: boolean,
  to: string,
  out: Uint8Array,
  start: number,
): void {
  const { buffer, byteOffset } = out;
  switch (to) {
    case "float64": {
      const dst = new Float64Array(buffer, byteOffset + start * 8, n);
      const words = new Uint32Array(buffer, byteOffset + start * 8, 2 * n);
      for (let i = 0; i < n; i++) {
        const x = stage[i];
        if (x === x) dst[i] = x;
        else {
          words[2 * i] = 0;
          words[2 * i + 1] = NAN64_HIGH;
        }
      }
      return;
    }
    case "float32": {
      const dst = new Float32Array(buffer, byteOffset + start * 4, n);
      const words = new Uint32Array(buffer, byteOffset + start * 4, n);
      for (let i = 0; i < n; i++) {
        const x = stage[i];
        if (x === x) dst[i] = x;
        else words[i] = NAN32;
      }
      return;
    }
    case "float16":
    case "bfloat16": {
      // Through float32 bits, as torch's Half and BFloat16 are made from float.
      const bits = new Uint32Array(1);
      const value = new Float32Array(bits.buffer);
      const dst = new Uint16Array(buffer, byteOffset + start * 2, n);
      const half = to === "float16";
      for (let i = 0; i < n; i++) {
        const x = stage[i];
        if (x !== x) {
          dst[i] = half ? NAN16 : NANBF;
          continue;
        }
        value[0] = x;
        dst[i] = half ? halfOfFloatBits(bits[0]) : bfloatOfFloatBits(bits[0]);
      }
      return;
    }
    case "int64": {
      const words = new Uint32Array(buffer, byteOffset + start * 8, 2 * n);
      for (let i = 0; i < n; i++) {
        const x = stage[i];
        let low = 0;
        let high = 0x80000000; // the minimum: out of range, infinite or NaN
        if (x >= -TWO63 && x < TWO63) {
          const t = Math.trunc(x);
          const h = Math.floor(t / TWO32);
          low = t - h * TWO32;
          high = h >>> 0;
        }
        words[2 * i] = low;
        words[2 * i + 1] = high;
      }
      return;
    }
    case "int32":
    case "int16":
    case "int8": {
      const dst = to === "int32"
        ? new Int32Array(buffer, byteOffset + start * 4, n)
        : to === "int16"
        ? new Int16Array(buffer, byteOffset + start * 2, n)
        : new Int8Array(buffer, byteOffset + start, n);
      if (integral) {
        // Stores keep the low bits.
        for (let i = 0; i < n; i++) dst[i] = stage[i];
        return;
      }
      // The int32 result, then its low bits: the minimum keeps none.
      for (let i = 0; i < n; i++) {
        const x = stage[i];
        dst[i] = x > -TWO31 - 1 && x < TWO31 ? x : -TWO31;
      }
      return;
    }
    case "uint8": {
      // The low 8 bits of the int64 result. A store takes the value modulo
      // 256 after truncation, exactly; every double outside int64's range
      // is a multiple of 256, like the int64 minimum, and NaN stores 0.
      const dst = new Uint8Array(buffer, byteOffset + start, n);
      for (let i = 0; i < n; i++) dst[i] = stage[i];
      return;
    }
    case "bool": {
      const dst = new Uint8Array(buffer, byteOffset + start, n);
      for (let i = 0; i < n; i++) dst[i] = stage[i] !== 0 ? 1 : 0;
      return;
    }
  }
}

/**
 * float32 nearest (ties to even) to the unsigned 64-bit integer
 * `high * 2**32 + low`, rounded once, as a C++ `(float)` cast does.
 */
function floatOfUint64(high: number, low: number): number {
  // Below 2**53 the double is exact, so rounding it to float32 is the one rounding.
  if (high < 0x200000) return Math.fround(high * TWO32 + low);
  // Above, the double would round first. Bits below 2**12 are below half a
  // float32 ulp (2**39 or more here): fold them into a sticky bit at 2**11,
  // which keeps the value exact in a double and the float32 rounding the same.
  const kept = (low & 0xfffff000) >>> 0;
  const sticky = (low & 0xfff) !== 0 ? 0x800 : 0;
  return Math.fround(high * TWO32 + kept + sticky);
}

/** int64 sources: read as two 32-bit words, never as BigInts. */
function castInt64(input: Uint8Array, to: string, count: number, out: Uint8Array): void {
  const words = new Uint32Array(input.buffer, input.byteOffset, 2 * count);
  if (to === "bool") {
    for (let i = 0; i < count; i++) out[i] = (words[2 * i] | words[2 * i + 1]) !== 0 ? 1 : 0;
    return;
  }
  const stage = new Float64Array(Math.min(count, CHUNK));
  const toFloat32 = to === "float32" || to === "float16" || to === "bfloat16";
  for (let start = 0; start < count; start += CHUNK) {
    const n = Math.min(CHUNK, count - start);
    for (let i = 0; i < n; i++) {
      const low = words[2 * (start + i)];
      const high = words[2 * (start + i) + 1];
      if (to === "float64") {
        // One rounding of the exact sum.
        stage[i] = (high | 0) * TWO32 + low;
      } else if (toFloat32) {
        if (high < 0x80000000) stage[i] = floatOfUint64(high, low);
        else {
          // The magnitude of a negative value, in two's complement.
          const negLow = (~low + 1) >>> 0;
          const negHigh = (~high + (negLow === 0 ? 1 : 0)) >>> 0;
          stage[i] = -floatOfUint64(negHigh, negLow);
        }
      } else {
        // Integer destinations keep low bits: the low word is enough.
        stage[i] = low | 0;
      }
    }
    writeValues(stage, n, true, to, out, start);
  }
}
