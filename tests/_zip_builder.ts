// Builds small zip archives in memory for the zip tests, with knobs to make
// them malformed. Deliberately independent of lib/zip/torch_zip_writer.ts.

import { crc32 } from "../lib/zip/crc32.ts";

const encoder = new TextEncoder();

/** One entry of a test archive. */
export interface TestEntry {
  name: string;
  data: Uint8Array;
  /** 0 (stored, default) or 8 (deflate, compressed here); any other value is written as is. */
  method?: number;
  flags?: number;
  /** Name written in the local header (defaults to `name`). */
  localName?: string;
  /** ZIP64 extra field data for the central header (raw, without id/length). */
  centralZip64?: Uint8Array;
  /** Overrides of central header fields. */
  central?: {
    compressedSize?: number;
    size?: number;
    offset?: number;
    crc?: number;
    disk?: number;
  };
}

/** Options of {@linkcode buildZip}. */
export interface TestZipOptions {
  comment?: string;
  /** Write ZIP64 end record + locator, with placeholders in the classic end record. */
  zip64?: boolean;
  /** Classic end record entry count to write instead of the real one (or placeholder). */
  classicCount?: number;
  /** Disk number written in the classic end record. */
  disk?: number;
}

/** A built archive and where its parts are. */
export interface TestZip {
  bytes: Uint8Array;
  localOffsets: number[];
  /** Offset of each entry's central header. */
  centralOffsets: number[];
  cdOffset: number;
  cdSize: number;
  endOffset: number;
}

/** Deflates `data` (raw deflate, as zip stores it). */
export async function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function u16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}
function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
function u64(v: number): number[] {
  return [...u32(v % 2 ** 32), ...u32(Math.floor(v / 2 ** 32))];
}

/** Encodes a ZIP64 extra field body from 64-bit values. */
export function zip64Values(...values: number[]): Uint8Array {
  return new Uint8Array(values.flatMap(u64));
}

/** Builds a (classic or ZIP64-ended) zip archive. */
export async function buildZip(
  entries: TestEntry[],
  options: TestZipOptions = {},
): Promise<TestZip> {
  const out: number[] = [];
  const central: number[] = [];
  const localOffsets: number[] = [];
  const centralOffsets: number[] = [];
  for (const entry of entries) {
    const method = entry.method ?? 0;
    const stored = method === 8 ? await deflateRaw(entry.data) : entry.data;
    const crc = crc32(entry.data);
    const name = encoder.encode(entry.name);
    const localName = encoder.encode(entry.localName ?? entry.name);
    const flags = entry.flags ?? 0x0800;
    const offset = out.length;
    localOffsets.push(offset);
    out.push(
      ...u32(0x04034b50),
      ...u16(20),
      ...u16(flags),
      ...u16(method),
      ...u16(0),
      ...u16(0x21),
      ...u32(crc),
      ...u32(stored.length),
      ...u32(entry.data.length),
      ...u16(localName.length),
      ...u16(0),
      ...localName,
      ...stored,
    );
    const c = entry.central ?? {};
    const extra = entry.centralZip64 === undefined
      ? []
      : [...u16(1), ...u16(entry.centralZip64.length), ...entry.centralZip64];
    centralOffsets.push(central.length);
    central.push(
      ...u32(0x02014b50),
      ...u16(0x031e),
      ...u16(20),
      ...u16(flags),
      ...u16(method),
      ...u16(0),
      ...u16(0x21),
      ...u32(c.crc ?? crc),
      ...u32(c.compressedSize ?? stored.length),
      ...u32(c.size ?? entry.data.length),
      ...u16(name.length),
      ...u16(extra.length),
      ...u16(0),
      ...u16(c.disk ?? 0),
      ...u16(0),
      ...u32(0),
      ...u32(c.offset ?? offset),
      ...name,
      ...extra,
    );
  }
  const cdOffset = out.length;
  out.push(...central);
  const count = entries.length;
  const comment = encoder.encode(options.comment ?? "");
  if (options.zip64) {
    const zip64Offset = out.length;
    out.push(
      ...u32(0x06064b50),
      ...u64(44),
      ...u16(0x031e),
      ...u16(45),
      ...u32(0),
      ...u32(0),
      ...u64(count),
      ...u64(count),
      ...u64(central.length),
      ...u64(cdOffset),
    );
    out.push(...u32(0x07064b50), ...u32(0), ...u64(zip64Offset), ...u32(1));
  }
  const endOffset = out.length;
  const classicCount = options.classicCount ?? (options.zip64 ? 0xffff : count);
  out.push(
    ...u32(0x06054b50),
    ...u16(options.disk ?? 0),
    ...u16(0),
    ...u16(classicCount),
    ...u16(classicCount),
    ...u32(options.zip64 ? 0xffffffff : central.length),
    ...u32(options.zip64 ? 0xffffffff : cdOffset),
    ...u16(comment.length),
    ...comment,
  );
  return {
    bytes: new Uint8Array(out),
    localOffsets,
    centralOffsets: centralOffsets.map((o) => o + cdOffset),
    cdOffset,
    cdSize: central.length,
    endOffset,
  };
}

/** Little-endian patch helpers for corrupting archives. */
export function setU16(bytes: Uint8Array, at: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint16(at, value, true);
}

/** Writes a little-endian u32 at `at`. */
export function setU32(bytes: Uint8Array, at: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, value, true);
}
