import assert from "node:assert/strict";
import { ByteWriter, joinParts } from "../lib/pickle/_byte_writer.ts";
import { PyStr } from "../lib/pickle/py_str.ts";
import { encodePyStrInto, encodeUtf8Into, utf8Length } from "../lib/pickle/_utf8.ts";

const MIB = 1 << 20;

/** Writes a deterministic mix of sized writes and returns the bytes they should make. */
function writeMix(writer: ByteWriter, count: number): Uint8Array {
  const expected: number[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 4) {
      case 0:
        writer.byte(i & 0xff);
        expected.push(i & 0xff);
        break;
      case 1:
        writer.u32(i);
        expected.push(i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24);
        break;
      case 2:
        writer.byteU32(0x72, i);
        expected.push(0x72, i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24);
        break;
      default: {
        const bytes = Uint8Array.from({ length: i % 61 }, (_, k) => (i + k) & 0xff);
        writer.bytes(bytes);
        expected.push(...bytes);
      }
    }
  }
  return Uint8Array.from(expected);
}

/** Bytes of the distinct buffers behind `parts`: what the writer holds. */
function heldBytes(parts: Uint8Array[]): number {
  return [...new Set(parts.map((part) => part.buffer))].reduce((sum, b) => sum + b.byteLength, 0);
}

Deno.test("ByteWriter keeps every byte in order across its buffers", () => {
  const writer = new ByteWriter();
  const expected = writeMix(writer, 400_000);
  assert.ok(expected.length > 3 * MIB);
  const parts = writer.parts();
  assert.ok(parts.length >= 3, `${parts.length} parts`);
  assert.deepEqual(joinParts(parts), expected);
  assert.deepEqual(writer.result(), expected);
});

Deno.test("ByteWriter fills 1 MiB buffers in turn instead of doubling one", () => {
  const writer = new ByteWriter();
  const expected = writeMix(writer, 400_000);
  // Small writes only: every buffer is a chunk; doubling would have made one of 4 MiB.
  const parts = writer.parts();
  for (const part of parts) assert.ok(part.length <= MIB, `part of ${part.length} bytes`);
  assert.equal(parts.reduce((sum, part) => sum + part.length, 0), expected.length);
  assert.ok(heldBytes(parts) < expected.length + 2 * MIB, `holds ${heldBytes(parts)} bytes`);
});

Deno.test("ByteWriter moves a write that does not fit to the next buffer, whole", () => {
  const writer = new ByteWriter();
  const filler = new Uint8Array(MIB - 2).fill(7);
  writer.bytes(filler);
  writer.u32(0xdeadbeef); // does not fit in the 2 bytes left
  writer.float64(1.5);
  const large = Uint8Array.from({ length: 3 * MIB }, (_, i) => i % 251);
  writer.bytes(large);
  writer.byte2(1, 2);
  const parts = writer.parts();
  assert.equal(parts[0].length, filler.length, "the first buffer ends before the u32");
  const out = joinParts(parts);
  assert.equal(out.length, filler.length + 4 + 8 + large.length + 2);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  assert.equal(view.getUint32(filler.length, true), 0xdeadbeef);
  assert.equal(view.getFloat64(filler.length + 4, false), 1.5);
  assert.deepEqual(out.subarray(filler.length + 12, filler.length + 12 + large.length), large);
  assert.deepEqual([...out.subarray(out.length - 2)], [1, 2]);
  assert.ok(out.subarray(0, filler.length).every((b) => b === 7));
});

Deno.test("ByteWriter writes text at buffer edges as a writer that never fills up", () => {
  // Texts reserve up to 3 bytes per unit but may write fewer; the sweep puts
  // each kind of write just before, at and past the end of a 1 MiB buffer.
  const texts: (string | PyStr)[] = [
    "torch._utils\n_rebuild_tensor_v2\n",
    "é".repeat(700),
    "\u{1F600}".repeat(300),
    "a\ud800b",
    PyStr.fromCodePoints([0xd83d, 0xde00, 0x1f600, 0x41]),
    "x".repeat(400_000),
  ];
  for (let gap = 0; gap < 40; gap += 3) {
    for (const text of texts) {
      const chunked = new ByteWriter();
      const reference = new ByteWriter(8 * MIB);
      for (const writer of [chunked, reference]) {
        writer.bytes(new Uint8Array(MIB - 64 - gap));
        if (typeof text === "string" && text.endsWith("\n")) writer.utf8Line(text);
        else writer.lengthPrefixedUtf8(text);
        writer.lengthPrefixedLatin1(Uint8Array.from({ length: 90 }, (_, i) => 200 + i % 50));
        writer.byteU32(0x71, gap);
      }
      assert.equal(reference.parts().length, 1);
      assert.deepEqual(joinParts(chunked.parts()), reference.result(), `gap ${gap}`);
      assert.ok(chunked.parts().every((part) => part.length > 0), "no empty part");
    }
  }
});

Deno.test("ByteWriter does not leave buffers mostly empty after long texts", () => {
  const writer = new ByteWriter();
  for (let i = 0; i < 20; i++) writer.lengthPrefixedUtf8("a".repeat(350_000));
  const parts = writer.parts();
  const written = parts.reduce((sum, part) => sum + part.length, 0);
  assert.equal(written, 20 * 350_004);
  // Reserving the 3-bytes-per-unit bound held 2.85x the bytes written.
  assert.ok(heldBytes(parts) < 1.5 * written, `holds ${heldBytes(parts)} for ${written}`);
});

Deno.test("utf8Length is the size the encoders write", () => {
  const cases: (string | PyStr)[] = [
    "",
    "abc",
    "é",
    "€",
    "\u{1F600}",
    "\ud800",
    "\udc00\ud800",
    "a\ud83d",
    "\ud83d\ude00\ud83d",
    PyStr.fromCodePoints([0xd83d, 0xde00, 0x1f600]),
    "x".repeat(40) + "é",
  ];
  for (const text of cases) {
    const target = new Uint8Array(256);
    const written = typeof text === "string"
      ? encodeUtf8Into(text, target, 0)
      : encodePyStrInto(text, target, 0);
    assert.equal(utf8Length(text), written, JSON.stringify(String(text)));
  }
});
