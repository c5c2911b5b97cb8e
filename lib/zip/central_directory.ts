/**
 * Reads and validates the central directory of a zip archive, including the
 * ZIP64 records that torch always writes.
 *
 * @module
 */

import { ZipFormatError } from "../errors.ts";
import {
  CENTRAL_HEADER_SIGNATURE,
  CENTRAL_HEADER_SIZE,
  END_SIGNATURE,
  END_SIZE,
  FLAG_ENCRYPTED,
  FLAG_STRONG_ENCRYPTION,
  getUint64,
  LOCAL_HEADER_SIGNATURE,
  LOCAL_HEADER_SIZE,
  MAX_UINT16,
  MAX_UINT32,
  METHOD_DEFLATED,
  METHOD_STORED,
  viewOf,
  ZIP64_END_SIGNATURE,
  ZIP64_END_SIZE,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_SIGNATURE,
  ZIP64_LOCATOR_SIZE,
} from "./_format.ts";
import type { RandomAccessSource } from "./source.ts";

/** One record of a zip archive, as described by its central directory. */
export interface ZipEntry {
  /** Full name inside the archive, e.g. `"archive/data/0"`. */
  name: string;
  /** Compression method: 0 (stored) or 8 (deflate). */
  method: number;
  /** General purpose bit flags from the central directory. */
  flags: number;
  /** CRC-32 of the uncompressed data, from the central directory. */
  crc32: number;
  /** Size of the stored (possibly compressed) data in bytes. */
  compressedSize: number;
  /** Size of the uncompressed data in bytes. */
  size: number;
  /** Offset of the entry's local header. */
  localHeaderOffset: number;
  /**
   * Offset of the entry's data: after the local header, its name and extra
   * field. `NaN` until {@linkcode resolveEntries} when the directory was
   * read with `localHeaders: "on-demand"`.
   */
  dataOffset: number;
}

/** Options for {@linkcode readCentralDirectory}. */
export interface ReadDirectoryOptions {
  /**
   * `"all"` (the default) reads and checks every local header up front;
   * `"on-demand"` leaves that to {@linkcode resolveEntries}, which the entry
   * readers call, so opening a remote archive with thousands of records
   * costs a few range requests instead of one per record.
   */
  localHeaders?: "all" | "on-demand";
}

/** The parsed central directory of a zip archive. */
export interface ZipDirectory {
  /** Entries in central directory order. */
  entries: ZipEntry[];
  /** Size of the whole file in bytes. */
  size: number;
  /** Whether the archive has ZIP64 end records. */
  zip64: boolean;
  /** Raw archive comment (usually empty). */
  comment: Uint8Array;
  /** Offset of the first central directory header. */
  centralDirectoryOffset: number;
  /** Size of the central directory in bytes. */
  centralDirectorySize: number;
}

const MAX_COMMENT = MAX_UINT16;
const UNUSABLE_FLAGS = 0x0020 | 0x2000;
// Local headers closer than this are fetched with one read, gaps included.
const BATCH_GAP = 4096;
const BATCH_SPAN = 1 << 20;

const decoder = new TextDecoder();

function fail(message: string): never {
  throw new ZipFormatError(`Cannot read zip: ${message}`);
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

interface EndRecord {
  entries: number;
  cdSize: number;
  cdOffset: number;
  /** Where the end records start: nothing of the directory may lie past it. */
  recordsOffset: number;
  zip64: boolean;
  comment: Uint8Array;
}

async function readEndRecord(source: RandomAccessSource): Promise<EndRecord> {
  const size = source.size;
  if (size < END_SIZE) {
    fail(`file is ${size} bytes, too small for an end of central directory record`);
  }
  const tailLength = Math.min(size, END_SIZE + MAX_COMMENT);
  const tailStart = size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const view = viewOf(tail);
  // Scan backwards over a possible comment; the record must end exactly at
  // the end of the file so that comment bytes cannot fake a signature.
  let at = -1;
  for (let i = tailLength - END_SIZE; i >= 0; i--) {
    if (
      view.getUint32(i, true) === END_SIGNATURE &&
      i + END_SIZE + view.getUint16(i + 20, true) === tailLength
    ) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    fail(
      `no end of central directory record in the last ${tailLength} bytes (truncated or not a zip file)`,
    );
  }
  const endOffset = tailStart + at;
  const disk = view.getUint16(at + 4, true);
  const cdDisk = view.getUint16(at + 6, true);
  const diskEntries = view.getUint16(at + 8, true);
  const entries = view.getUint16(at + 10, true);
  const cdSize = view.getUint32(at + 12, true);
  const cdOffset = view.getUint32(at + 16, true);
  const comment = tail.slice(at + END_SIZE);

  let locator: DataView | undefined;
  const locatorOffset = endOffset - ZIP64_LOCATOR_SIZE;
  if (locatorOffset >= 0) {
    locator = at >= ZIP64_LOCATOR_SIZE
      ? new DataView(tail.buffer, tail.byteOffset + at - ZIP64_LOCATOR_SIZE, ZIP64_LOCATOR_SIZE)
      : viewOf(await source.read(locatorOffset, ZIP64_LOCATOR_SIZE));
    if (locator.getUint32(0, true) !== ZIP64_LOCATOR_SIGNATURE) locator = undefined;
  }

  if (locator === undefined) {
    if (disk !== 0 || cdDisk !== 0 || diskEntries !== entries) {
      fail(`multi-disk archives are not supported (end record names disk ${disk}/${cdDisk})`);
    }
    return {
      entries,
      cdSize,
      cdOffset,
      recordsOffset: endOffset,
      zip64: false,
      comment,
    };
  }

  const zip64Disk = locator.getUint32(4, true);
  const zip64Offset = getUint64(locator, 8);
  const totalDisks = locator.getUint32(16, true);
  if (zip64Disk !== 0 || totalDisks > 1) {
    fail(`multi-disk archives are not supported (ZIP64 locator names ${totalDisks} disks)`);
  }
  if (zip64Offset + ZIP64_END_SIZE > locatorOffset) {
    fail(
      `ZIP64 end record offset ${zip64Offset} leaves no room before its locator at ${locatorOffset}`,
    );
  }
  const z = viewOf(await source.read(zip64Offset, ZIP64_END_SIZE));
  if (z.getUint32(0, true) !== ZIP64_END_SIGNATURE) {
    fail(`bad ZIP64 end record signature ${hex(z.getUint32(0, true))} at offset ${zip64Offset}`);
  }
  const recordSize = getUint64(z, 4);
  if (recordSize < ZIP64_END_SIZE - 12 || zip64Offset + 12 + recordSize > locatorOffset) {
    fail(`ZIP64 end record at offset ${zip64Offset} has an invalid size ${recordSize}`);
  }
  const disk64 = z.getUint32(16, true);
  const cdDisk64 = z.getUint32(20, true);
  const diskEntries64 = getUint64(z, 24);
  const entries64 = getUint64(z, 32);
  const cdSize64 = getUint64(z, 40);
  const cdOffset64 = getUint64(z, 48);
  if (disk64 !== 0 || cdDisk64 !== 0 || diskEntries64 !== entries64) {
    fail(
      `multi-disk archives are not supported (ZIP64 end record names disk ${disk64}/${cdDisk64})`,
    );
  }
  // A classic field that is not a placeholder must agree with its ZIP64 value.
  const pairs: [string, number, number, number][] = [
    ["entry count", entries, entries64, MAX_UINT16],
    ["central directory size", cdSize, cdSize64, MAX_UINT32],
    ["central directory offset", cdOffset, cdOffset64, MAX_UINT32],
  ];
  for (const [what, classic, wide, placeholder] of pairs) {
    if (classic !== placeholder && classic !== wide) {
      fail(`end record ${what} ${classic} disagrees with ZIP64 end record value ${wide}`);
    }
  }
  return {
    entries: entries64,
    cdSize: cdSize64,
    cdOffset: cdOffset64,
    recordsOffset: zip64Offset,
    zip64: true,
    comment,
  };
}

interface PendingEntry {
  entry: ZipEntry;
  nameBytes: Uint8Array;
}

/** What checking an entry's local header needs later, for on-demand directories. */
interface Unresolved extends PendingEntry {
  /** The entry after it by local header offset. */
  next: ZipEntry | undefined;
  cdOffset: number;
  fileSize: number;
}

const unresolved = new WeakMap<ZipEntry, Unresolved>();

/** Applies the ZIP64 extended information field, if any, to `entry`. */
function applyZip64Extra(
  entry: ZipEntry,
  extra: Uint8Array,
  diskStart: number,
): number {
  const view = viewOf(extra);
  let pos = 0;
  let field: DataView | undefined;
  while (pos + 4 <= extra.length) {
    const id = view.getUint16(pos, true);
    const length = view.getUint16(pos + 2, true);
    if (pos + 4 + length > extra.length) {
      fail(
        `extra field ${hex(id)} of entry ${JSON.stringify(entry.name)} runs past its extra data`,
      );
    }
    if (id === ZIP64_EXTRA_ID) {
      field = new DataView(extra.buffer, extra.byteOffset + pos + 4, length);
      break;
    }
    pos += 4 + length;
  }
  const name = JSON.stringify(entry.name);
  const slots: ["size" | "compressedSize" | "localHeaderOffset", string][] = [
    ["size", "size"],
    ["compressedSize", "compressed size"],
    ["localHeaderOffset", "local header offset"],
  ];
  const needed = slots.filter(([key]) => entry[key] === MAX_UINT32);
  const neededBytes = needed.length * 8 + (diskStart === MAX_UINT16 ? 4 : 0);
  if (field === undefined) {
    // Without a ZIP64 field, 0xFFFFFFFF is taken literally (a legal value).
    return diskStart;
  }
  if (field.byteLength === neededBytes) {
    // Standard layout: only the placeholder values, in order.
    needed.forEach(([key], i) => (entry[key] = getUint64(field, i * 8)));
    return diskStart === MAX_UINT16 ? field.getUint32(needed.length * 8, true) : diskStart;
  }
  // Positional layout (some writers store every value): each value present
  // must agree with its classic field unless that field is a placeholder.
  const count = Math.min(3, Math.floor(field.byteLength / 8));
  for (let i = 0; i < 3; i++) {
    const [key, what] = slots[i];
    const classic = entry[key];
    if (i >= count) {
      if (classic === MAX_UINT32) {
        fail(
          `ZIP64 extra field of entry ${name} is ${field.byteLength} bytes, too short for its ${what}`,
        );
      }
      continue;
    }
    const wide = getUint64(field, i * 8);
    if (classic !== MAX_UINT32 && classic !== wide) {
      fail(`entry ${name} ${what} ${classic} disagrees with its ZIP64 value ${wide}`);
    }
    entry[key] = wide;
  }
  if (diskStart === MAX_UINT16 && field.byteLength >= 28) return field.getUint32(24, true);
  return diskStart;
}

function parseCentralDirectory(
  bytes: Uint8Array,
  count: number,
  cdOffset: number,
  fileSize: number,
): PendingEntry[] {
  const view = viewOf(bytes);
  const result: PendingEntry[] = [];
  const seen = new Set<string>();
  let pos = 0;
  for (let index = 0; index < count; index++) {
    if (pos + CENTRAL_HEADER_SIZE > bytes.length) {
      fail(`central directory ends inside entry ${index} of ${count}`);
    }
    const signature = view.getUint32(pos, true);
    if (signature !== CENTRAL_HEADER_SIGNATURE) {
      fail(
        `bad central directory header signature ${hex(signature)} for entry ${index} at offset ${
          cdOffset + pos
        }`,
      );
    }
    const flags = view.getUint16(pos + 8, true);
    const method = view.getUint16(pos + 10, true);
    const crc = view.getUint32(pos + 16, true);
    const compressedSize = view.getUint32(pos + 20, true);
    const size = view.getUint32(pos + 24, true);
    const nameLength = view.getUint16(pos + 28, true);
    const extraLength = view.getUint16(pos + 30, true);
    const commentLength = view.getUint16(pos + 32, true);
    const diskStart = view.getUint16(pos + 34, true);
    const localHeaderOffset = view.getUint32(pos + 42, true);
    const nameStart = pos + CENTRAL_HEADER_SIZE;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > bytes.length) {
      fail(`central directory entry ${index} runs past the end of the central directory`);
    }
    const nameBytes = bytes.subarray(nameStart, extraStart);
    const entry: ZipEntry = {
      name: decoder.decode(nameBytes),
      method,
      flags,
      crc32: crc,
      compressedSize,
      size,
      localHeaderOffset,
      dataOffset: 0,
    };
    const name = JSON.stringify(entry.name);
    const disk = applyZip64Extra(
      entry,
      bytes.subarray(extraStart, extraStart + extraLength),
      diskStart,
    );
    if (disk !== 0) {
      fail(`entry ${name} starts on disk ${disk}; multi-disk archives are not supported`);
    }
    if (seen.has(entry.name)) fail(`duplicate entry name ${name}`);
    seen.add(entry.name);
    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) {
      fail(`entry ${name} is encrypted`);
    }
    // Patch data (bit 5) needs another file to apply to; masked local
    // headers (bit 13) come with an encrypted central directory.
    if (flags & UNUSABLE_FLAGS) {
      fail(`entry ${name} has unsupported flags 0x${(flags & UNUSABLE_FLAGS).toString(16)}`);
    }
    if (method !== METHOD_STORED && method !== METHOD_DEFLATED) {
      fail(
        `entry ${name} uses compression method ${method}; only stored (0) and deflate (8) are supported`,
      );
    }
    if (method === METHOD_STORED && entry.compressedSize !== entry.size) {
      fail(
        `stored entry ${name} has compressed size ${entry.compressedSize} but size ${entry.size}`,
      );
    }
    if (entry.localHeaderOffset + LOCAL_HEADER_SIZE + nameLength > fileSize) {
      fail(
        `local header offset ${entry.localHeaderOffset} of entry ${name} is past the end of the file (${fileSize} bytes)`,
      );
    }
    result.push({ entry, nameBytes });
    pos = next;
  }
  if (pos !== bytes.length) {
    fail(`central directory has ${bytes.length - pos} unexpected bytes after its ${count} entries`);
  }
  return result;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads the local headers (batched by proximity) and sets `dataOffset`. */
async function readLocalHeaders(
  source: RandomAccessSource,
  sorted: PendingEntry[],
): Promise<void> {
  const headerEnd = (p: PendingEntry) =>
    p.entry.localHeaderOffset + LOCAL_HEADER_SIZE + p.nameBytes.length;
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i].entry.localHeaderOffset;
    let end = headerEnd(sorted[i]);
    let j = i + 1;
    while (
      j < sorted.length &&
      sorted[j].entry.localHeaderOffset - end <= BATCH_GAP &&
      headerEnd(sorted[j]) - start <= BATCH_SPAN
    ) {
      end = Math.max(end, headerEnd(sorted[j]));
      j++;
    }
    const bytes = await source.read(start, end - start);
    const view = viewOf(bytes);
    for (let k = i; k < j; k++) {
      const { entry, nameBytes } = sorted[k];
      const name = JSON.stringify(entry.name);
      const at = entry.localHeaderOffset - start;
      const signature = view.getUint32(at, true);
      if (signature !== LOCAL_HEADER_SIGNATURE) {
        fail(
          `bad local header signature ${
            hex(signature)
          } for entry ${name} at offset ${entry.localHeaderOffset}`,
        );
      }
      const flags = view.getUint16(at + 6, true);
      const method = view.getUint16(at + 8, true);
      const nameLength = view.getUint16(at + 26, true);
      const extraLength = view.getUint16(at + 28, true);
      const localName = bytes.subarray(
        at + LOCAL_HEADER_SIZE,
        at + LOCAL_HEADER_SIZE + nameLength,
      );
      if (nameLength !== nameBytes.length || !equalBytes(localName, nameBytes)) {
        fail(
          `local header name ${
            JSON.stringify(decoder.decode(localName))
          } differs from central directory name ${name}`,
        );
      }
      if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) {
        fail(`entry ${name} is encrypted`);
      }
      if (method !== entry.method) {
        fail(
          `local header of entry ${name} has method ${method} but the central directory has ${entry.method}`,
        );
      }
      entry.dataOffset = entry.localHeaderOffset + LOCAL_HEADER_SIZE + nameLength + extraLength;
    }
    i = j;
  }
}

function runsPast(entry: ZipEntry, cdOffset: number, fileSize: number): void {
  const end = entry.dataOffset + entry.compressedSize;
  const range = `bytes ${entry.localHeaderOffset}..${end}`;
  const name = JSON.stringify(entry.name);
  if (end > fileSize) {
    fail(`entry ${name} (${range}) runs past the end of the file (${fileSize} bytes)`);
  }
  if (end > cdOffset) {
    fail(`entry ${name} (${range}) overlaps the central directory at offset ${cdOffset}`);
  }
}

function overlap(previous: ZipEntry, entry: ZipEntry): void {
  const previousEnd = previous.dataOffset + previous.compressedSize;
  if (previousEnd > entry.localHeaderOffset) {
    fail(
      `entry ${
        JSON.stringify(previous.name)
      } (bytes ${previous.localHeaderOffset}..${previousEnd}) overlaps entry ${
        JSON.stringify(entry.name)
      } at offset ${entry.localHeaderOffset}`,
    );
  }
}

function checkExtents(sorted: PendingEntry[], cdOffset: number, fileSize: number): void {
  let previous: ZipEntry | undefined;
  for (const { entry } of sorted) {
    runsPast(entry, cdOffset, fileSize);
    if (previous !== undefined) overlap(previous, entry);
    previous = entry;
  }
}

/**
 * Reads and checks the local headers of those `entries` whose directory was
 * read with `localHeaders: "on-demand"` and that are not resolved yet,
 * setting their `dataOffset`. The entry readers call it themselves.
 *
 * @param source The archive the entries come from.
 * @param entries Entries of its directory.
 * @throws {ZipFormatError} when a local header disagrees with the central
 * directory or an entry overlaps its neighbours or the central directory.
 */
export async function resolveEntries(
  source: RandomAccessSource,
  entries: Iterable<ZipEntry>,
): Promise<void> {
  const pending: Unresolved[] = [];
  for (const entry of entries) {
    const found = unresolved.get(entry);
    if (found !== undefined) pending.push(found);
  }
  if (pending.length === 0) return;
  pending.sort((a, b) => a.entry.localHeaderOffset - b.entry.localHeaderOffset);
  await readLocalHeaders(source, pending);
  for (const { entry, next, cdOffset, fileSize } of pending) {
    runsPast(entry, cdOffset, fileSize);
    // The next entry's local header offset is known without reading it, so
    // each pair is checked when its first entry is resolved.
    if (next !== undefined) overlap(entry, next);
  }
  for (const { entry } of pending) unresolved.delete(entry);
}

/**
 * Reads the central directory of a zip archive, then every local header to
 * locate each entry's data (or, with `localHeaders: "on-demand"`, each when
 * it is first read), and validates the layout.
 *
 * @example Listing the records of a checkpoint
 * ```ts ignore
 * import { FileSource } from "./source.ts";
 * import { readCentralDirectory } from "./central_directory.ts";
 * const source = await FileSource.open("model.ckpt");
 * const { entries } = await readCentralDirectory(source);
 * for (const e of entries) console.log(e.name, e.size, e.dataOffset);
 * source.close();
 * ```
 *
 * @param source The archive bytes.
 * @param options See {@linkcode ReadDirectoryOptions}.
 * @returns The entries in central directory order, with their data offsets.
 * @throws {ZipFormatError} when the archive is malformed, encrypted,
 * multi-disk, uses a method other than stored/deflate, has duplicate names,
 * or has entries that overlap each other or the central directory.
 */
export async function readCentralDirectory(
  source: RandomAccessSource,
  options: ReadDirectoryOptions = {},
): Promise<ZipDirectory> {
  const end = await readEndRecord(source);
  const { cdOffset, cdSize, entries: count } = end;
  if (cdOffset > source.size) {
    fail(`central directory offset ${cdOffset} is past the end of the file (${source.size} bytes)`);
  }
  if (cdOffset + cdSize > end.recordsOffset) {
    fail(
      `central directory (offset ${cdOffset}, ${cdSize} bytes) runs past its end record at offset ${end.recordsOffset}`,
    );
  }
  if (count * CENTRAL_HEADER_SIZE > cdSize) {
    fail(`central directory of ${cdSize} bytes is too small for ${count} entries`);
  }
  const bytes = await source.read(cdOffset, cdSize);
  const pending = parseCentralDirectory(bytes, count, cdOffset, source.size);
  const sorted = pending.slice().sort((a, b) =>
    a.entry.localHeaderOffset - b.entry.localHeaderOffset
  );
  if (options.localHeaders === "on-demand") {
    sorted.forEach((pending, i) => {
      pending.entry.dataOffset = NaN;
      unresolved.set(pending.entry, {
        ...pending,
        next: sorted[i + 1]?.entry,
        cdOffset,
        fileSize: source.size,
      });
    });
  } else {
    await readLocalHeaders(source, sorted);
    checkExtents(sorted, cdOffset, source.size);
  }
  return {
    entries: pending.map((p) => p.entry),
    size: source.size,
    zip64: end.zip64,
    comment: end.comment,
    centralDirectoryOffset: cdOffset,
    centralDirectorySize: cdSize,
  };
}
