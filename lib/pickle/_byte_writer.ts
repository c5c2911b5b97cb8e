// A growable byte buffer for the pickler.
import { countHighBytes, writeLatin1AsUtf8 } from "./_latin1.ts";
import type { PyStr } from "./py_str.ts";
import { encodePyStrInto, encodeUtf8Into, maxUtf8Length, utf8Length } from "./_utf8.ts";

// Writes from this size on get a segment of their own instead of growing
// the buffer: doubling would copy (and fault in) every earlier byte again.
const LARGE_WRITE = 1 << 20;
const INITIAL_SIZE = 1 << 16;
// Buffers grow by doubling up to this size, then continue in a new buffer.
const CHUNK_SIZE = 1 << 20;

export class ByteWriter {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;
  // Finished parts before #buffer; see parts() and result().
  #segments: Uint8Array[] = [];

  constructor(initialSize = INITIAL_SIZE) {
    this.#buffer = new Uint8Array(initialSize);
    this.#view = new DataView(this.#buffer.buffer);
  }

  #reserve(n: number): number {
    const needed = this.#length + n;
    if (needed > this.#buffer.length) return this.#grow(n);
    const at = this.#length;
    this.#length = needed;
    return at;
  }

  /**
   * Room to reserve for `extra` bytes and the UTF-8 of `text`: the bound
   * (3 bytes per UTF-16 unit) while it fits, else the exact size, so a
   * text that moves on to a new buffer does not leave most of it empty.
   */
  #textRoom(text: string | PyStr, extra: number): number {
    const most = extra + maxUtf8Length(typeof text === "string" ? text : text.units);
    return most <= this.#buffer.length - this.#length ? most : extra + utf8Length(text);
  }

  // Doubles a buffer below CHUNK_SIZE; a larger one, when full, becomes a
  // segment and a fresh buffer takes the writes: growing never copies more
  // than a chunk.
  #grow(n: number): number {
    if (this.#buffer.length >= CHUNK_SIZE) {
      if (this.#length > 0) this.#segments.push(this.#buffer.subarray(0, this.#length));
      this.#buffer = new Uint8Array(Math.max(CHUNK_SIZE, n));
      this.#length = 0;
    } else {
      const needed = this.#length + n;
      let size = this.#buffer.length * 2;
      while (size < needed) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#view = new DataView(this.#buffer.buffer);
    const at = this.#length;
    this.#length += n;
    return at;
  }

  /** Closes the buffer as a segment, appends `segment`, and starts a fresh buffer. */
  #appendSegment(segment: Uint8Array): void {
    if (this.#length > 0) this.#segments.push(this.#buffer.subarray(0, this.#length));
    this.#segments.push(segment);
    this.#buffer = new Uint8Array(INITIAL_SIZE);
    this.#view = new DataView(this.#buffer.buffer);
    this.#length = 0;
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

  /** An opcode and its 4-byte little-endian argument. */
  byteU32(op: number, value: number): void {
    const at = this.#reserve(5);
    this.#buffer[at] = op;
    this.#view.setUint32(at + 1, value, true);
  }

  bytes(data: Uint8Array): void {
    const at = this.#reserve(data.length);
    this.#buffer.set(data, at);
  }

  utf8Line(text: string): void {
    const at = this.#reserve(this.#textRoom(text, 0));
    this.#length = at + encodeUtf8Into(text, this.#buffer, at);
  }

  /** Writes a 4-byte little-endian length and then the UTF-8 of `text` (surrogatepass). */
  lengthPrefixedUtf8(text: string | PyStr): void {
    const at = this.#reserve(this.#textRoom(text, 4));
    const written = typeof text === "string"
      ? encodeUtf8Into(text, this.#buffer, at + 4)
      : encodePyStrInto(text, this.#buffer, at + 4);
    this.#view.setUint32(at, written, true);
    this.#length = at + 4 + written;
  }

  /**
   * Writes `data` as the UTF-8 of its Latin-1 decoding, with a 4-byte length
   * first: how protocol 2 carries bytes inside a str.
   */
  lengthPrefixedLatin1(data: Uint8Array): void {
    if (data.length >= LARGE_WRITE) {
      // Room for the longest UTF-8; pages the shorter one leaves untouched
      // are never faulted in, and result() copies only what was written.
      const segment = new Uint8Array(4 + 2 * data.length + 1);
      const total = writeLatin1AsUtf8(data, segment, 4);
      new DataView(segment.buffer).setUint32(0, total, true);
      this.#appendSegment(segment.subarray(0, 4 + total));
      return;
    }
    const total = data.length + countHighBytes(data);
    // One byte of slack: the scalar loop always stores two bytes.
    const at = this.#reserve(4 + total + 1);
    this.#length = at + 4 + total;
    this.#view.setUint32(at, total, true);
    writeLatin1AsUtf8(data, this.#buffer, at + 4);
  }

  float64(value: number): void {
    const at = this.#reserve(8);
    this.#view.setFloat64(at, value, false);
  }

  /** The bytes written, in one array. */
  result(): Uint8Array {
    return joinParts(this.parts());
  }

  /** The bytes written, as the segments they are in: large ones are not copied again. */
  parts(): Uint8Array[] {
    const last = this.#buffer.subarray(0, this.#length);
    return this.#segments.length === 0 ? [last] : [...this.#segments, last];
  }
}

/** `parts` in one array; a single part is returned as is. */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
