// Bytes as protocol 2 carries them: `_codecs.encode(<str>, "latin1")`, where
// the str holds one code point per byte and the pickle stores its UTF-8.
// Large byte strings (numpy arrays) go through the SIMD kernels of
// _latin1.wat in fixed-size chunks, so their memory stays a few pages
// whatever the input; short ones, and runtimes without WebAssembly SIMD,
// use the scalar loops.
import { LATIN1_WASM } from "./_latin1_wasm.ts";

// Below this many bytes, copying into the kernel's memory costs more than it saves.
const SIMD_MIN = 256;
// Input bytes per kernel call; the output region holds twice as many.
const CHUNK = 1 << 16;
const INPUT = 4096;
// 16 bytes of zero padding after the input, then the output.
const OUTPUT = INPUT + CHUNK + 64;
const MEMORY_END = OUTPUT + 2 * CHUNK + 64;

interface Kernel {
  memory: Uint8Array;
  utf8ToLatin1(input: number, n: number, output: number): number;
  latin1ToUtf8(input: number, n: number, output: number): number;
}

let kernel: Kernel | null | undefined;

/** The SIMD kernels, or null where this runtime cannot run them. */
function simd(): Kernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  try {
    const bytes = Uint8Array.from(atob(LATIN1_WASM), (c) => c.charCodeAt(0));
    if (!WebAssembly.validate(bytes)) return null;
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const wasmMemory = exports.memory as WebAssembly.Memory;
    wasmMemory.grow(Math.ceil(MEMORY_END / 65536) - wasmMemory.buffer.byteLength / 65536);
    const memory = new Uint8Array(wasmMemory.buffer);
    // The drop patterns at 0..2047. Entry m: the lanes 0..7 whose bit in m
    // is clear, in order; 0x80 swizzles to zero.
    for (let m = 0; m < 256; m++) {
      let k = 0;
      for (let lane = 0; lane < 8; lane++) if ((m & (1 << lane)) === 0) memory[m * 8 + k++] = lane;
      while (k < 8) memory[m * 8 + k++] = 0x80;
    }
    kernel = {
      memory,
      utf8ToLatin1: exports.utf8ToLatin1 as Kernel["utf8ToLatin1"],
      latin1ToUtf8: exports.latin1ToUtf8 as Kernel["latin1ToUtf8"],
    };
  } catch {
    // No WebAssembly, or no SIMD: the scalar loops do the same work.
  }
  return kernel;
}

/**
 * Runs `step` on `data[from, to)` copied into the kernel's memory with its
 * zero padding; returns what the step returned (its output is at OUTPUT).
 */
function runChunk(
  { memory }: Kernel,
  step: (input: number, n: number, output: number) => number,
  data: Uint8Array,
  from: number,
  to: number,
): number {
  const n = to - from;
  memory.set(data.subarray(from, to), INPUT);
  memory.fill(0, INPUT + n, INPUT + n + 16);
  return step(INPUT, n, OUTPUT);
}

/** Whether this runtime runs the SIMD kernels (else the scalar loops do the work). */
export function hasSimd(): boolean {
  return simd() !== null;
}

/**
 * The bytes whose Latin-1 text has the UTF-8 `data[start, end)`, or
 * undefined when that UTF-8 holds anything else (code points past U+00FF,
 * invalid sequences).
 */
export function latin1FromUtf8(
  data: Uint8Array,
  start: number,
  end: number,
): Uint8Array | undefined {
  const k = end - start >= SIMD_MIN ? simd() : null;
  if (k === null) return latin1FromUtf8Scalar(data, start, end);
  const out = new Uint8Array(end - start);
  let j = 0;
  for (let i = start; i < end;) {
    let stop = Math.min(end, i + CHUNK);
    // A lead byte goes with its continuation into the next chunk.
    if (stop < end && data[stop - 1] >= 0xc0) stop--;
    const written = runChunk(k, k.utf8ToLatin1, data, i, stop);
    if (written < 0) return undefined;
    out.set(k.memory.subarray(OUTPUT, OUTPUT + written), j);
    j += written;
    i = stop;
  }
  // A fresh array of the exact size, as the general path returns.
  return j === out.length ? out : out.slice(0, j);
}

/** {@linkcode latin1FromUtf8} one byte at a time. */
export function latin1FromUtf8Scalar(
  data: Uint8Array,
  start: number,
  end: number,
): Uint8Array | undefined {
  const out = new Uint8Array(end - start);
  let j = 0;
  let i = start;
  const last = end - 1;
  // Branch-free, as tensor data is random bytes: a lead byte (high bit
  // set) takes its continuation byte along, and any pair that is not
  // U+0080..U+00FF (lead 0xC2 or 0xC3, then 0x80..0xBF) marks `bad`.
  let bad = 0;
  while (i < last) {
    const b = data[i];
    const c = data[i + 1];
    const high = b >>> 7;
    out[j++] = b ^ (high * (b ^ (((b & 0x03) << 6) | (c & 0x3f))));
    bad |= high * (((b & 0xfe) ^ 0xc2) | ((c & 0xc0) ^ 0x80));
    i += 1 + high;
  }
  if (bad !== 0) return undefined;
  if (i < end) {
    if (data[i] >= 0x80) return undefined;
    out[j++] = data[i];
  }
  return j === out.length ? out : out.slice(0, j);
}

/** How many bytes of `data` have their high bit set: the UTF-8 is this much longer. */
export function countHighBytes(data: Uint8Array): number {
  const length = data.length;
  let i = 0;
  let count = 0;
  // Bytes up to a 4-byte boundary, then aligned words, then the rest.
  while (i < length && (data.byteOffset + i) % 4 !== 0) count += data[i++] >>> 7;
  const words = (length - i) >>> 2;
  if (words > 0) {
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let k = 0; k < words; k++) {
      // One bit per byte, then a multiply sums the four bytes into the top one.
      count += Math.imul((view[k] >>> 7) & 0x01010101, 0x01010101) >>> 24;
    }
    i += words * 4;
  }
  while (i < length) count += data[i++] >>> 7;
  return count;
}

/**
 * Writes the UTF-8 of the Latin-1 text of `data` into `target` at `at`,
 * which must have room for `data.length + countHighBytes(data)` bytes plus
 * one; returns the number of bytes written.
 */
export function writeLatin1AsUtf8(data: Uint8Array, target: Uint8Array, at: number): number {
  const k = data.length >= SIMD_MIN ? simd() : null;
  if (k === null) return writeLatin1AsUtf8Scalar(data, target, at);
  let pos = at;
  for (let i = 0; i < data.length; i += CHUNK) {
    const written = runChunk(k, k.latin1ToUtf8, data, i, Math.min(data.length, i + CHUNK));
    target.set(k.memory.subarray(OUTPUT, OUTPUT + written), pos);
    pos += written;
  }
  return pos - at;
}

/** {@linkcode writeLatin1AsUtf8} one byte at a time. */
export function writeLatin1AsUtf8Scalar(data: Uint8Array, target: Uint8Array, at: number): number {
  const length = data.length;
  let pos = at;
  for (let i = 0; i < length; i++) {
    // Branch-free: bytes >= 0x80 become 0xC0 | b >> 6, 0x80 | b & 0x3F;
    // the second store is overwritten when the byte is ASCII. Random
    // bytes (tensor data) would mispredict a branch half the time.
    const b = data[i];
    const high = b >>> 7;
    target[pos] = b ^ (high * (b ^ (0xc0 | (b >> 6))));
    target[pos + 1] = 0x80 | (b & 0x3f);
    pos += 1 + high;
  }
  return pos - at;
}
