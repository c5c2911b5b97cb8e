import assert from "node:assert/strict";
import { crc32 } from "../lib/zip/crc32.ts";

const enc = new TextEncoder();

// Bit-at-a-time reference, to check the slicing-by-8 tables.
function referenceCrc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return ~crc >>> 0;
}

Deno.test("crc32() matches known vectors", () => {
  assert.equal(crc32(new Uint8Array()), 0);
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(enc.encode("a")), 0xe8b7be43);
  assert.equal(crc32(enc.encode("The quick brown fox jumps over the lazy dog")), 0x414fa339);
  assert.equal(crc32(new Uint8Array(32)), 0x190a55ad);
  assert.equal(crc32(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
  // torch's "version" record of layout_small.ckpt.
  assert.equal(crc32(enc.encode("3\n")), 0x55679ed1);
});

Deno.test("crc32() continues from a previous value", () => {
  const data = enc.encode("123456789");
  for (let split = 0; split <= data.length; split++) {
    assert.equal(crc32(data.subarray(split), crc32(data.subarray(0, split))), 0xcbf43926);
  }
});

Deno.test("crc32() agrees with a bitwise reference at every length and alignment", () => {
  const buffer = new Uint8Array(300);
  let seed = 12345;
  for (let i = 0; i < buffer.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    buffer[i] = seed >>> 24;
  }
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= buffer.length; end += 7) {
      const slice = buffer.subarray(start, end);
      assert.equal(crc32(slice), referenceCrc32(slice), `bytes ${start}..${end}`);
    }
  }
});
