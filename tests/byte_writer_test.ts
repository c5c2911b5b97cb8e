import assert from "node:assert/strict";
import { ByteWriter, joinParts } from "../lib/pickle/_byte_writer.ts";

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

Deno.test("ByteWriter keeps every byte in order across its buffers", () => {
  const writer = new ByteWriter();
  const expected = writeMix(writer, 400_000);
  assert.ok(expected.length > 3 * MIB);
  const parts = writer.parts();
  assert.ok(parts.length >= 3, `${parts.length} parts`);
  assert.deepEqual(joinParts(parts), expected);
  assert.deepEqual(writer.result(), expected);
});

Deno.test("ByteWriter never copies a large buffer to grow it", () => {
  const writer = new ByteWriter();
  const expected = writeMix(writer, 400_000);
  // Each part is one buffer; doubling would have made one part of 4 MiB.
  for (const part of writer.parts()) assert.ok(part.length <= MIB, `part of ${part.length} bytes`);
  assert.equal(writer.parts().reduce((sum, part) => sum + part.length, 0), expected.length);
});

Deno.test("ByteWriter writes after a full buffer land in the next one, whole", () => {
  const writer = new ByteWriter();
  const filler = new Uint8Array(MIB - 2).fill(7);
  writer.bytes(filler);
  writer.u32(0xdeadbeef); // does not fit in the 2 bytes left
  writer.float64(1.5);
  const large = Uint8Array.from({ length: 3 * MIB }, (_, i) => i % 251);
  writer.bytes(large);
  writer.byte2(1, 2);
  const out = writer.result();
  assert.equal(out.length, filler.length + 4 + 8 + large.length + 2);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  assert.equal(view.getUint32(filler.length, true), 0xdeadbeef);
  assert.equal(view.getFloat64(filler.length + 4, false), 1.5);
  assert.deepEqual(out.subarray(filler.length + 12, filler.length + 12 + large.length), large);
  assert.deepEqual([...out.subarray(out.length - 2)], [1, 2]);
  assert.ok(out.subarray(0, filler.length).every((b) => b === 7));
});
