// The SIMD kernels that carry protocol 2 bytes must agree with the scalar
// loops and with the platform's own UTF-8 on every length, chunk boundary
// and malformed input, and the embedded module must be the one built from
// lib/pickle/_latin1.wat.
import assert from "node:assert/strict";
import {
  countHighBytes,
  hasSimd,
  latin1FromUtf8,
  latin1FromUtf8Scalar,
  writeLatin1AsUtf8,
  writeLatin1AsUtf8Scalar,
} from "../lib/pickle/_latin1.ts";
import { LATIN1_WASM } from "../lib/pickle/_latin1_wasm.ts";
import { pickle } from "../lib/pickle/pickler.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";
import { assemble, generatedModule } from "../tools/build_wasm.ts";
import { wabt } from "./_tools.ts";

// Input bytes per kernel call in lib/pickle/_latin1.ts.
const CHUNK = 1 << 16;

let seed = 0x2545f491;
function randomBytes(length: number, highShare = 0.5): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const r = (seed >>> 0) / 2 ** 32;
    bytes[i] = r < highShare ? 0x80 + ((seed >>> 8) & 0x7f) : (seed >>> 16) & 0x7f;
  }
  return bytes;
}

/** The UTF-8 of the Latin-1 text of `bytes`, from TextEncoder. */
function utf8Of(bytes: Uint8Array): Uint8Array {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return new TextEncoder().encode(text);
}

function encodeWith(write: typeof writeLatin1AsUtf8, bytes: Uint8Array): Uint8Array {
  const target = new Uint8Array(3 + bytes.length + countHighBytes(bytes) + 1).fill(0xee);
  const written = write(bytes, target, 3);
  assert.deepEqual(target.subarray(0, 3), new Uint8Array(3).fill(0xee), "wrote before its offset");
  return target.subarray(3, 3 + written);
}

const LENGTHS = [
  ...Array.from({ length: 300 }, (_, i) => i),
  CHUNK - 1,
  CHUNK,
  CHUNK + 1,
  2 * CHUNK + 7,
  (1 << 20) + 3,
];

Deno.test("the SIMD kernels run here", () => {
  assert.ok(hasSimd(), "WebAssembly SIMD is unavailable: only the scalar loops were tested");
});

Deno.test("bytes -> UTF-8 agrees with TextEncoder at every length", () => {
  for (const length of LENGTHS) {
    for (const share of [0, 0.5, 1]) {
      const bytes = randomBytes(length, share);
      const expected = utf8Of(bytes);
      assert.equal(countHighBytes(bytes), expected.length - length);
      assert.deepEqual(encodeWith(writeLatin1AsUtf8, bytes), expected, `length ${length}`);
      assert.deepEqual(encodeWith(writeLatin1AsUtf8Scalar, bytes), expected, `length ${length}`);
    }
  }
});

Deno.test("UTF-8 -> bytes inverts it, also inside a larger buffer", () => {
  for (const length of LENGTHS) {
    const bytes = randomBytes(length);
    const utf8 = utf8Of(bytes);
    const framed = new Uint8Array(utf8.length + 10);
    framed.set(utf8, 5);
    for (const decode of [latin1FromUtf8, latin1FromUtf8Scalar]) {
      assert.deepEqual(decode(utf8, 0, utf8.length), bytes, `length ${length}`);
      assert.deepEqual(decode(framed, 5, 5 + utf8.length), bytes, `framed length ${length}`);
    }
  }
});

Deno.test("a pair split across kernel chunks is joined", () => {
  // Every high byte is two UTF-8 bytes; shift the text so that a lead byte
  // falls on the last position of each chunk.
  for (const prefix of [0, 1]) {
    const bytes = new Uint8Array(3 * CHUNK).fill(0xe9);
    bytes.fill(0x41, 0, prefix);
    const utf8 = utf8Of(bytes);
    assert.equal(utf8[CHUNK - 1] >= 0xc0, prefix === 1);
    assert.deepEqual(latin1FromUtf8(utf8, 0, utf8.length), bytes);
  }
});

Deno.test("UTF-8 that is not Latin-1 text is refused wherever it sits", () => {
  const cases: [string, number[]][] = [
    ["a lead byte at the end", [0xc3]],
    ["a continuation byte alone", [0x80]],
    ["U+0100 (past Latin-1)", [0xc4, 0x80]],
    ["a lead byte before ASCII", [0xc2, 0x41]],
    ["a three-byte sequence", [0xe0, 0xa0, 0x80]],
    ["an overlong ASCII", [0xc1, 0x81]],
    ["two lead bytes", [0xc3, 0xc3, 0xa9]],
  ];
  for (const [what, sequence] of cases) {
    for (const before of [0, 5, 15, 16, 200, CHUNK - 1, CHUNK + 3]) {
      const data = new Uint8Array([...utf8Of(randomBytes(before)), ...sequence]);
      const padded = new Uint8Array([...data, ...utf8Of(randomBytes(40))]);
      for (const decode of [latin1FromUtf8, latin1FromUtf8Scalar]) {
        assert.equal(decode(data, 0, data.length), undefined, `${what} after ${before}`);
        if (what !== "a lead byte at the end") {
          assert.equal(decode(padded, 0, padded.length), undefined, `${what} inside, ${before}`);
        }
      }
    }
  }
});

Deno.test("large protocol 2 bytes round-trip through the codec", () => {
  for (const length of [CHUNK + 5, (1 << 20) + 1, 3 << 20]) {
    const bytes = randomBytes(length);
    const data = pickle(bytes);
    // PROTO 2, GLOBAL "_codecs\nencode\n", BINPUT 0, BINUNICODE <u32 length> <UTF-8>
    const utf8 = utf8Of(bytes);
    const view = new DataView(data.buffer, data.byteOffset);
    assert.equal(data[20], 0x58);
    assert.equal(view.getUint32(21, true), utf8.length);
    assert.deepEqual(data.subarray(25, 25 + utf8.length), utf8);
    assert.deepEqual(unpickle(data), bytes);
  }
});

Deno.test({
  name: "the embedded WebAssembly is _latin1.wat assembled (deno task wasm)",
  ignore: wabt.ignore,
  fn: async () => {
    wabt.check();
    const path = new URL("../lib/pickle/_latin1.wat", import.meta.url).pathname;
    const wasm = await assemble(path);
    const embedded = Uint8Array.from(atob(LATIN1_WASM), (c) => c.charCodeAt(0));
    assert.deepEqual(embedded, wasm);
    const generated = new URL("../lib/pickle/_latin1_wasm.ts", import.meta.url);
    assert.equal(await Deno.readTextFile(generated), generatedModule(wasm));
  },
});
