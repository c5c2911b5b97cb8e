/**
 * CRC-32 as used by zip (reflected polynomial 0xEDB88320).
 *
 * @module
 */

// Slicing-by-8: TABLES[k][b] is the CRC of byte b followed by k zero bytes,
// so eight input bytes are folded per loop iteration.
const TABLES: Int32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[0][n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[0][n];
    for (let k = 1; k < 8; k++) {
      c = tables[0][c & 0xff] ^ (c >>> 8);
      tables[k][n] = c;
    }
  }
  return tables;
})();

// Reading whole words is ~50% faster than assembling them from bytes, but
// only matches the byte order of the algorithm on little-endian hosts.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Computes the zip CRC-32 of `data`. Pass the result of a previous call as
 * `previous` to continue a checksum over data split into chunks.
 *
 * @example Checksum of the standard check string
 * ```ts
 * import { crc32 } from "./crc32.ts";
 * import assert from "node:assert/strict";
 * assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
 * ```
 *
 * @param data The bytes to checksum.
 * @param previous The CRC of the bytes before `data` (0 to start).
 * @returns The unsigned CRC-32.
 */
export function crc32(data: Uint8Array, previous = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let crc = ~previous;
  let i = 0;
  const length = data.length;
  if (LITTLE_ENDIAN && length >= 16) {
    // Advance to a 4-byte boundary so the words can be viewed in place.
    while (i < length && ((data.byteOffset + i) & 3) !== 0) {
      crc = t0[(crc ^ data[i++]) & 0xff] ^ (crc >>> 8);
    }
    const words = new Int32Array(data.buffer, data.byteOffset + i, ((length - i) >>> 3) << 1);
    for (let w = 0; w < words.length; w += 2) {
      const a = words[w] ^ crc;
      const b = words[w + 1];
      crc = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
        t3[b & 0xff] ^ t2[(b >>> 8) & 0xff] ^ t1[(b >>> 16) & 0xff] ^ t0[b >>> 24];
    }
    i += words.length * 4;
  }
  while (i < length) crc = t0[(crc ^ data[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
