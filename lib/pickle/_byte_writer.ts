// A growable byte buffer for the pickler.
import { encodeUnitsInto, encodeUtf8Into, maxUtf8Length } from "./_utf8.ts";

export class ByteWriter {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(initialSize = 1 << 16) {
    this.#buffer = new Uint8Array(initialSize);
    this.#view = new DataView(this.#buffer.buffer);
  }

  get length(): number {
    return this.#length;
  }

  #reserve(n: number): number {
    const needed = this.#length + n;
    if (needed > this.#buffer.length) {
      let size = this.#buffer.length * 2;
      while (size < needed) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
      this.#view = new DataView(grown.buffer);
    }
    const at = this.#length;
    this.#length = needed;
    return at;
  }

  byte(value: number): void {
    const at = this.#reserve(1);
    this.#buffer[at] = value;
  }

  byte2(a: number, b: number): void {
    const at = this.#reserve(2);
    this.#buffer[at] = a;
    this.#buffer[at + 1] = b;
  }

  // Reserve before touching #view: reserving may replace it.
  u16(value: number): void {
    const at = this.#reserve(2);
    this.#view.setUint16(at, value, true);
  }

  u32(value: number): void {
    const at = this.#reserve(4);
    this.#view.setUint32(at, value, true);
  }

  i32(value: number): void {
    const at = this.#reserve(4);
    this.#view.setInt32(at, value, true);
  }

  bytes(data: Uint8Array): void {
    const at = this.#reserve(data.length);
    this.#buffer.set(data, at);
  }

  ascii(text: string): void {
    const at = this.#reserve(text.length);
    for (let i = 0; i < text.length; i++) this.#buffer[at + i] = text.charCodeAt(i);
  }

  utf8Line(text: string): void {
    const at = this.#reserve(maxUtf8Length(text));
    this.#length = at + encodeUtf8Into(text, this.#buffer, at);
  }

  /** Writes a 4-byte little-endian length and then the UTF-8 of `text` (of each unit with `units`). */
  lengthPrefixedUtf8(text: string, units = false): void {
    const at = this.#reserve(4 + maxUtf8Length(text));
    const written = units
      ? encodeUnitsInto(text, this.#buffer, at + 4)
      : encodeUtf8Into(text, this.#buffer, at + 4);
    this.#view.setUint32(at, written, true);
    this.#length = at + 4 + written;
  }

  /**
   * Writes `data` as the UTF-8 of its Latin-1 decoding, with a 4-byte length
   * first: how protocol 2 carries bytes inside a str.
   */
  lengthPrefixedLatin1(data: Uint8Array): void {
    const length = data.length;
    const extra = countHighBytes(data);
    const total = length + extra;
    // One byte of slack: the loop below always stores two bytes.
    const at = this.#reserve(4 + total + 1);
    this.#length = at + 4 + total;
    this.#view.setUint32(at, total, true);
    const out = this.#buffer;
    let pos = at + 4;
    for (let i = 0; i < length; i++) {
      // Branch-free: bytes >= 0x80 become 0xC0 | b >> 6, 0x80 | b & 0x3F;
      // the second store is overwritten when the byte is ASCII. Random
      // bytes (tensor data) would mispredict a branch half the time.
      const b = data[i];
      const high = b >>> 7;
      out[pos] = b ^ (high * (b ^ (0xc0 | (b >> 6))));
      out[pos + 1] = 0x80 | (b & 0x3f);
      pos += 1 + high;
    }
  }

  float64(value: number): void {
    const at = this.#reserve(8);
    this.#view.setFloat64(at, value, false);
  }

  result(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }
}

/** How many bytes of `data` have their high bit set, counted four at a time. */
function countHighBytes(data: Uint8Array): number {
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
