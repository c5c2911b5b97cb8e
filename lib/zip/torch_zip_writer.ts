/**
 * Writes zip archives byte for byte as torch's `PyTorchStreamWriter` (torch
 * 1.13+, bundled miniz 2.1 in ZIP64 mode) does.
 *
 * Layout of every record, as torch writes it:
 * - local header: version needed 0, flags 0x0808 (0x0800 for an empty
 *   record: no data descriptor), method 0 (stored), time/date 0, CRC and
 *   sizes 0;
 * - a ZIP64 extra field in the local header only when the size or the
 *   header offset is >= 0xFFFFFFFF: `[size, 0]` if the size needs it, then
 *   `[offset]` if the offset needs it;
 * - an `FB` extra field of `Z` bytes so the data starts at a multiple of the
 *   alignment (64);
 * - a data descriptor after non-empty data: signature, CRC and sizes, with
 *   64-bit sizes (24 bytes) whenever the local header has a ZIP64 field;
 * - central header: version made by 0, needed 0, attributes 0, sizes and
 *   offset clamped to 0xFFFFFFFF plus a ZIP64 field `[size, size]`/`[offset]`
 *   under the same rule.
 * The archive ends with a ZIP64 end record (made by 0x031E, needed 0x2D), its
 * locator and the classic end record, always.
 *
 * @module
 */

import { ZipFormatError } from "../errors.ts";
import { resolveEntries, type ZipEntry } from "./central_directory.ts";
import { crc32 } from "./crc32.ts";
import { readEntryChunks } from "./read_entry.ts";
import type { RandomAccessSource } from "./source.ts";
import type { RangeCopier } from "./_kernel_range_copy.ts";
import {
  CENTRAL_HEADER_SIGNATURE,
  CENTRAL_HEADER_SIZE,
  DATA_DESCRIPTOR_SIGNATURE,
  END_SIGNATURE,
  END_SIZE,
  FLAG_DATA_DESCRIPTOR,
  FLAG_UTF8,
  LOCAL_HEADER_SIGNATURE,
  LOCAL_HEADER_SIZE,
  MAX_UINT16,
  MAX_UINT32,
  METHOD_DEFLATED,
  METHOD_STORED,
  setUint64,
  TORCH_PADDING_EXTRA_ID,
  viewOf,
  ZIP64_END_SIGNATURE,
  ZIP64_END_SIZE,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_SIGNATURE,
  ZIP64_LOCATOR_SIZE,
} from "./_format.ts";

/** Options for {@linkcode TorchZipWriter.create}. */
export interface TorchZipWriterOptions {
  /** Folder holding every record (torch uses the file's base name, or `"archive"`). */
  archiveName: string;
  /** Alignment of every record's data start; torch's default is 64. */
  alignment?: number;
  /** Called with the number of bytes each time a write reaches the file (for progress). */
  onWrite?: (bytes: number) => void;
  /**
   * Copies stored records of local files inside the kernel, where it can
   * (copy_file_range); the writer copies the rest.
   */
  copier?: RangeCopier;
}

/** A record written by {@linkcode TorchZipWriter}. */
export interface WrittenRecord {
  /** Name relative to the archive folder, e.g. `"data/0"`. */
  name: string;
  /** Offset of the local header. */
  offset: number;
  /** Offset of the first data byte (a multiple of the alignment). */
  dataOffset: number;
  /** Size of the data in bytes. */
  size: number;
  /** CRC-32 of the data. */
  crc32: number;
}

/** Torch's default alignment of record data (`kFieldAlignment`). */
export const DEFAULT_ALIGNMENT = 64;

/** Where torch's writer puts a record whose local header starts at `offset`. */
export interface RecordLayout {
  /** Length of the ZIP64 extra field in the local header (0 when there is none). */
  zip64Length: number;
  /** Number of `Z` bytes in the `FB` field. */
  padding: number;
  /** Offset of the first data byte. */
  dataOffset: number;
  /** Offset just past the data descriptor: where the next record starts. */
  end: number;
}

/**
 * Computes the layout torch's `PyTorchStreamWriter` gives a stored record:
 * what loaders that compute storage offsets instead of reading local
 * headers (torch 2.x with `.format_version`) assume.
 *
 * @param offset Offset of the local header.
 * @param nameLength Length in bytes of the full name, archive folder included.
 * @param size Size of the data.
 * @param alignment The alignment of the data start.
 */
export function torchRecordLayout(
  offset: number,
  nameLength: number,
  size: number,
  alignment: number,
): RecordLayout {
  const bigSize = size >= MAX_UINT32;
  const farOffset = offset >= MAX_UINT32;
  const zip64 = bigSize || farOffset;
  const zip64Length = zip64 ? 4 + (bigSize ? 16 : 0) + (farOffset ? 8 : 0) : 0;
  // Mirrors torch's getPadding(): the FB field makes the data start aligned.
  const unpadded = offset + LOCAL_HEADER_SIZE + nameLength + zip64Length + 4;
  const padding = (alignment - (unpadded % alignment)) % alignment;
  const dataOffset = unpadded + padding;
  const descriptor = size > 0 ? (zip64 ? 24 : 16) : 0;
  return { zip64Length, padding, dataOffset, end: dataOffset + size + descriptor };
}

// The FB field length is a u16 and shares the extra field with ZIP64 data.
const MAX_ALIGNMENT = MAX_UINT16 - 4 - 28;
const WRITE_BUFFER_SIZE = 1 << 20;
// Large enough that per-call costs vanish, small enough to keep RSS flat.
const COPY_BUFFER_SIZE = 1 << 20;
// Bytes per copy_file_range call: a progress report and a writeback window
// each, and a short enough stall of the event loop.
const KERNEL_COPY_CHUNK = 16 << 20;
const PADDING_BYTE = 0x5a; // "Z"
const ZIP64_VERSION_MADE_BY = 0x031e;
const ZIP64_VERSION_NEEDED = 0x002d;

const encoder = new TextEncoder();

interface OpenRecord {
  name: string;
  nameBytes: Uint8Array;
  offset: number;
  dataOffset: number;
  size: number;
  zip64: boolean;
}

/** A record already in the file, for {@linkcode TorchZipWriter.keepRecord}. */
export interface KeptRecord {
  /** Full name in the local header (archive folder included). */
  name: string;
  /** General purpose flags for the central directory. */
  flags: number;
  /** CRC-32 of the data. */
  crc32: number;
  /** Size of the (stored) data. */
  size: number;
  /** Offset of the local header. */
  localHeaderOffset: number;
  /** Offset of the first data byte. */
  dataOffset: number;
}

function fail(action: string, state: string): never {
  throw new ZipFormatError(`Cannot ${action}: ${state}`);
}

/**
 * Writes a torch zip archive sequentially to an open file, reproducing the
 * layout of torch's `PyTorchStreamWriter` byte for byte. Records are stored
 * (never compressed). The caller owns the file: it opens it, and after
 * {@linkcode TorchZipWriter.finish} syncs, closes and renames it.
 *
 * Calls must not overlap: await each one before the next.
 *
 * @example Writing a two-record archive
 * ```ts ignore
 * import { TorchZipWriter } from "./torch_zip_writer.ts";
 * const file = await Deno.open("out.ckpt.tmp", { write: true, create: true, truncate: true });
 * const writer = await TorchZipWriter.create(file, { archiveName: "out" });
 * await writer.writeRecord("data.pkl", pickleBytes);
 * await writer.writeRecord("version", new TextEncoder().encode("3\n"));
 * await writer.finish();
 * file.close();
 * ```
 */
export class TorchZipWriter {
  #file: Deno.FsFile;
  #prefix: string;
  #alignment: number;
  #position = 0;
  #buffer = new Uint8Array(WRITE_BUFFER_SIZE);
  #buffered = 0;
  #copyBuffer: Uint8Array | undefined;
  #records: WrittenRecord[] = [];
  #names = new Set<string>();
  #central: Uint8Array[] = [];
  #centralSize = 0;
  #busy = false;
  #broken = false;
  #finished = false;
  #onWrite: ((bytes: number) => void) | undefined;
  #copier: RangeCopier | undefined;

  private constructor(
    file: Deno.FsFile,
    prefix: string,
    alignment: number,
    options: TorchZipWriterOptions,
  ) {
    this.#file = file;
    this.#prefix = prefix;
    this.#alignment = alignment;
    this.#onWrite = options.onWrite;
    this.#copier = options.copier;
  }

  /**
   * Starts an archive at the beginning of `file`.
   *
   * @param file A file open for writing; it is written from offset 0 and
   * truncated to the archive's length by {@linkcode TorchZipWriter.finish}.
   * @param options See {@linkcode TorchZipWriterOptions}.
   * @throws {ZipFormatError} for an invalid archive name or alignment.
   */
  static async create(file: Deno.FsFile, options: TorchZipWriterOptions): Promise<TorchZipWriter> {
    const { archiveName, alignment = DEFAULT_ALIGNMENT } = options;
    if (archiveName === "" || /[/\\]/.test(archiveName)) {
      fail(
        "create zip writer",
        `archive name ${JSON.stringify(archiveName)} must be a non-empty name without slashes`,
      );
    }
    if (!Number.isInteger(alignment) || alignment < 1 || alignment > MAX_ALIGNMENT) {
      fail(
        "create zip writer",
        `alignment ${alignment} is not an integer from 1 to ${MAX_ALIGNMENT}`,
      );
    }
    await file.seek(0, Deno.SeekMode.Start);
    return new TorchZipWriter(file, `${archiveName}/`, alignment, options);
  }

  /** The copy buffer, grown to the record's size up to its limit. */
  #copyBufferFor(size: number): Uint8Array {
    const wanted = Math.min(Math.max(size, 1 << 16), COPY_BUFFER_SIZE);
    if (this.#copyBuffer === undefined || this.#copyBuffer.length < wanted) {
      this.#copyBuffer = new Uint8Array(wanted);
    }
    return this.#copyBuffer;
  }

  /** Records written so far, in order. */
  get records(): readonly WrittenRecord[] {
    return this.#records;
  }

  /** Number of bytes written so far (the offset of the next record). */
  get position(): number {
    return this.#position;
  }

  /**
   * Writes a stored record holding `data`, computing its CRC-32.
   *
   * @param name Name relative to the archive folder, e.g. `"data.pkl"`.
   * @param data The record's bytes, in one array or as consecutive parts.
   */
  async writeRecord(name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const parts = data instanceof Uint8Array ? [data] : data;
    await this.#exclusive(async () => {
      const record = await this.#begin(name, parts.reduce((sum, part) => sum + part.length, 0));
      let crc = 0;
      for (const part of parts) {
        await this.#write(part);
        crc = crc32(part, crc);
      }
      await this.#end(record, crc);
    });
  }

  /**
   * Writes a stored record with the uncompressed content of `entry` from
   * another archive. A stored entry is copied as a raw byte range and its
   * CRC-32 and size are taken from `entry` without being recomputed; a
   * deflated entry is inflated while streaming (its size is checked, its
   * CRC-32 is again taken from `entry`).
   *
   * @param name Name relative to the archive folder.
   * @param source The archive holding `entry`.
   * @param entry The entry to copy, from {@linkcode readCentralDirectory}.
   * @throws {ZipFormatError} when the entry cannot be read or inflated.
   */
  async copyRecord(name: string, source: RandomAccessSource, entry: ZipEntry): Promise<void> {
    await this.#exclusive(async () => {
      if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATED) {
        fail(
          `copy entry ${JSON.stringify(entry.name)}`,
          `unsupported compression method ${entry.method}`,
        );
      }
      if (entry.method === METHOD_STORED && entry.compressedSize !== entry.size) {
        fail(
          `copy entry ${JSON.stringify(entry.name)}`,
          `stored entry has compressed size ${entry.compressedSize} but size ${entry.size}`,
        );
      }
      await resolveEntries(source, [entry]);
      const record = await this.#begin(name, entry.size);
      if (entry.method === METHOD_STORED) {
        let done = await this.#copyInKernel(source, entry.dataOffset, entry.size);
        const buffer = done < entry.size ? this.#copyBufferFor(entry.size) : new Uint8Array(0);
        while (done < entry.size) {
          const length = Math.min(buffer.length, entry.size - done);
          let chunk: Uint8Array;
          if (source.readInto !== undefined) {
            chunk = buffer.subarray(0, length);
            await source.readInto(entry.dataOffset + done, chunk);
          } else {
            chunk = await source.read(entry.dataOffset + done, length);
          }
          await this.#write(chunk);
          done += length;
        }
      } else {
        for await (const chunk of readEntryChunks(source, entry)) await this.#write(chunk);
      }
      await this.#end(record, entry.crc32);
    });
  }

  /**
   * Copies what the kernel will of `size` bytes of `source` at `from` to
   * the current position; returns how many it copied.
   */
  async #copyInKernel(source: RandomAccessSource, from: number, size: number): Promise<number> {
    if (this.#copier === undefined || size === 0) return 0;
    await this.#flush();
    let done = 0;
    while (done < size) {
      const length = Math.min(KERNEL_COPY_CHUNK, size - done);
      const copied = this.#copier.copyRange(source, from + done, this.#position, length);
      if (copied <= 0 || copied > length) break;
      done += copied;
      this.#position += copied;
      this.#onWrite?.(copied);
    }
    // The kernel wrote at explicit offsets: the file's own position is behind.
    if (done > 0) this.#file.seekSync(this.#position, Deno.SeekMode.Start);
    return done;
  }

  /**
   * Lists a record that is already in the file at the current position
   * (the file was filled by a copy), without writing it: the writer moves
   * past it to `end`, where the next record starts.
   *
   * @param name Name relative to the archive folder; it must match the
   * name in the record's local header.
   * @param record The record, e.g. a {@linkcode ZipEntry} of the copied archive.
   * @param end Offset just past the record (its data descriptor included).
   * @throws {ZipFormatError} when the record is not at the current position,
   * its name differs, or `end` is before its data ends.
   */
  async keepRecord(name: string, record: KeptRecord, end: number): Promise<void> {
    await this.#exclusive(async () => {
      const nameBytes = this.#checkName(name);
      const where = `keep record ${JSON.stringify(name)}`;
      if (record.name !== this.#prefix + name) {
        fail(where, `its local header names ${JSON.stringify(record.name)}`);
      }
      if (record.localHeaderOffset !== this.#position) {
        fail(where, `it starts at ${record.localHeaderOffset}, not at ${this.#position}`);
      }
      if (
        !Number.isSafeInteger(end) || record.dataOffset < record.localHeaderOffset ||
        end < record.dataOffset + record.size
      ) {
        fail(where, `it ends at ${end}, inside its data`);
      }
      await this.#flush();
      // Synchronous like the writes: an async seek per record costs more
      // than everything else a clone does.
      this.#file.seekSync(end, Deno.SeekMode.Start);
      this.#position = end;
      this.#names.add(name);
      this.#queueCentral(
        name,
        nameBytes,
        record.localHeaderOffset,
        record.dataOffset,
        record.size,
        record.crc32,
        record.flags,
      );
    });
  }

  /**
   * Writes a record of zero bytes that ends exactly at `end`, to fill the
   * space before a record kept in place.
   *
   * @param name Name relative to the archive folder.
   * @param end Offset where the next record starts.
   * @throws {ZipFormatError} when there is not room for even an empty record.
   */
  async writeFiller(name: string, end: number): Promise<void> {
    await this.#exclusive(async () => {
      const nameBytes = this.#checkName(name);
      const header = LOCAL_HEADER_SIZE + nameBytes.length + 4;
      const rest = end - this.#position - header;
      if (!Number.isSafeInteger(rest) || rest < 0) {
        fail(`write filler ${JSON.stringify(name)}`, `no room before ${end}`);
      }
      // The zeros go in the data when there is room for a descriptor too;
      // a small gap widens the FB field of an empty record instead.
      const size = rest > 16 ? rest - 16 : 0;
      const padding = rest > 16 ? 0 : rest;
      if (size >= MAX_UINT32 || this.#position >= MAX_UINT32) {
        fail(`write filler ${JSON.stringify(name)}`, "it would need ZIP64 fields");
      }
      const record = await this.#begin(name, size, padding);
      const zeros = new Uint8Array(Math.min(size, WRITE_BUFFER_SIZE));
      let crc = 0;
      for (let done = 0; done < size;) {
        const chunk = zeros.subarray(0, Math.min(zeros.length, size - done));
        crc = crc32(chunk, crc);
        await this.#write(chunk);
        done += chunk.length;
      }
      await this.#end(record, crc);
      if (this.#position !== end) {
        fail(`write filler ${JSON.stringify(name)}`, `ended at ${this.#position}, not ${end}`);
      }
    });
  }

  /**
   * Writes the central directory, the ZIP64 end record and locator and the
   * end record, flushes, and truncates the file to the archive's length.
   * The file is neither synced nor closed.
   */
  async finish(): Promise<void> {
    await this.#exclusive(async () => {
      const cdOffset = this.#position;
      for (const header of this.#central) await this.#write(header);
      const cdSize = this.#centralSize;
      const count = this.#records.length;

      const zip64EndOffset = this.#position;
      const tail = new Uint8Array(ZIP64_END_SIZE + ZIP64_LOCATOR_SIZE + END_SIZE);
      const view = viewOf(tail);
      view.setUint32(0, ZIP64_END_SIGNATURE, true);
      setUint64(view, 4, ZIP64_END_SIZE - 12);
      view.setUint16(12, ZIP64_VERSION_MADE_BY, true);
      view.setUint16(14, ZIP64_VERSION_NEEDED, true);
      setUint64(view, 24, count);
      setUint64(view, 32, count);
      setUint64(view, 40, cdSize);
      setUint64(view, 48, cdOffset);
      let at = ZIP64_END_SIZE;
      view.setUint32(at, ZIP64_LOCATOR_SIGNATURE, true);
      setUint64(view, at + 8, zip64EndOffset);
      view.setUint32(at + 16, 1, true);
      at += ZIP64_LOCATOR_SIZE;
      view.setUint32(at, END_SIGNATURE, true);
      view.setUint16(at + 8, Math.min(count, MAX_UINT16), true);
      view.setUint16(at + 10, Math.min(count, MAX_UINT16), true);
      view.setUint32(at + 12, Math.min(cdSize, MAX_UINT32), true);
      view.setUint32(at + 16, Math.min(cdOffset, MAX_UINT32), true);
      await this.#write(tail);
      await this.#flush();
      await this.#file.truncate(this.#position);
      this.#finished = true;
      this.#central = [];
    });
  }

  async #exclusive(body: () => Promise<void>): Promise<void> {
    if (this.#finished) fail("write zip", "the archive is already finished");
    if (this.#busy) fail("write zip", "another write is still in progress");
    if (this.#broken) fail("write zip", "an earlier write failed");
    this.#busy = true;
    const start = this.#position;
    try {
      await body();
    } catch (error) {
      // Once bytes went out the file ends inside a record: later records
      // would be misplaced.
      if (this.#position !== start) this.#broken = true;
      throw error;
    } finally {
      this.#busy = false;
    }
  }

  #checkName(name: string): Uint8Array {
    if (name === "" || name.startsWith("/")) {
      fail("write record", `invalid record name ${JSON.stringify(name)}`);
    }
    if (this.#names.has(name)) {
      fail("write record", `duplicate record name ${JSON.stringify(name)}`);
    }
    const nameBytes = encoder.encode(this.#prefix + name);
    if (nameBytes.length > MAX_UINT16) {
      fail("write record", `name of ${nameBytes.length} bytes is longer than 65535`);
    }
    return nameBytes;
  }

  /**
   * Writes the local header and returns what the descriptor needs. The
   * `FB` field aligns the data unless `fixedPadding` gives its length.
   */
  async #begin(name: string, size: number, fixedPadding?: number): Promise<OpenRecord> {
    const nameBytes = this.#checkName(name);
    const offset = this.#position;
    const layout = torchRecordLayout(offset, nameBytes.length, size, this.#alignment);
    const { zip64Length } = layout;
    const zip64 = zip64Length > 0;
    const padding = fixedPadding ?? layout.padding;
    const extraLength = zip64Length + 4 + padding;

    const header = new Uint8Array(LOCAL_HEADER_SIZE + nameBytes.length + extraLength);
    const view = viewOf(header);
    view.setUint32(0, LOCAL_HEADER_SIGNATURE, true);
    view.setUint16(6, size > 0 ? FLAG_UTF8 | FLAG_DATA_DESCRIPTOR : FLAG_UTF8, true);
    view.setUint16(26, nameBytes.length, true);
    view.setUint16(28, extraLength, true);
    header.set(nameBytes, LOCAL_HEADER_SIZE);
    let at = LOCAL_HEADER_SIZE + nameBytes.length;
    if (zip64) {
      view.setUint16(at, ZIP64_EXTRA_ID, true);
      view.setUint16(at + 2, zip64Length - 4, true);
      at += 4;
      if (size >= MAX_UINT32) {
        // miniz writes the compressed size as 0 here: it is not known yet.
        setUint64(view, at, size);
        at += 16;
      }
      if (offset >= MAX_UINT32) {
        setUint64(view, at, offset);
        at += 8;
      }
    }
    view.setUint16(at, TORCH_PADDING_EXTRA_ID, true);
    view.setUint16(at + 2, padding, true);
    header.fill(PADDING_BYTE, at + 4);
    await this.#write(header);
    this.#names.add(name);
    return { name, nameBytes, offset, dataOffset: this.#position, size, zip64 };
  }

  /** Writes the data descriptor and queues the central header. */
  async #end(record: OpenRecord, crc: number): Promise<void> {
    const { name, nameBytes, offset, dataOffset, size, zip64 } = record;
    if (this.#position !== dataOffset + size) {
      fail(
        "write record",
        `${JSON.stringify(name)} produced ${this.#position - dataOffset} bytes, expected ${size}`,
      );
    }
    if (size > 0) {
      const descriptor = new Uint8Array(zip64 ? 24 : 16);
      const view = viewOf(descriptor);
      view.setUint32(0, DATA_DESCRIPTOR_SIGNATURE, true);
      view.setUint32(4, crc, true);
      if (zip64) {
        setUint64(view, 8, size);
        setUint64(view, 16, size);
      } else {
        view.setUint32(8, size, true);
        view.setUint32(12, size, true);
      }
      await this.#write(descriptor);
    }

    this.#queueCentral(
      name,
      nameBytes,
      offset,
      dataOffset,
      size,
      crc,
      size > 0 ? FLAG_UTF8 | FLAG_DATA_DESCRIPTOR : FLAG_UTF8,
    );
  }

  /** Queues the central header of a record and lists it in {@linkcode records}. */
  #queueCentral(
    name: string,
    nameBytes: Uint8Array,
    offset: number,
    dataOffset: number,
    size: number,
    crc: number,
    flags: number,
  ): void {
    const bigSize = size >= MAX_UINT32;
    const farOffset = offset >= MAX_UINT32;
    const zip64 = bigSize || farOffset;
    const extraLength = zip64 ? 4 + (bigSize ? 16 : 0) + (farOffset ? 8 : 0) : 0;
    const header = new Uint8Array(CENTRAL_HEADER_SIZE + nameBytes.length + extraLength);
    const view = viewOf(header);
    view.setUint32(0, CENTRAL_HEADER_SIGNATURE, true);
    view.setUint16(8, flags, true);
    view.setUint32(16, crc, true);
    view.setUint32(20, Math.min(size, MAX_UINT32), true);
    view.setUint32(24, Math.min(size, MAX_UINT32), true);
    view.setUint16(28, nameBytes.length, true);
    view.setUint16(30, extraLength, true);
    view.setUint32(42, Math.min(offset, MAX_UINT32), true);
    header.set(nameBytes, CENTRAL_HEADER_SIZE);
    if (zip64) {
      let at = CENTRAL_HEADER_SIZE + nameBytes.length;
      view.setUint16(at, ZIP64_EXTRA_ID, true);
      view.setUint16(at + 2, extraLength - 4, true);
      at += 4;
      if (bigSize) {
        setUint64(view, at, size);
        setUint64(view, at + 8, size);
        at += 16;
      }
      if (farOffset) setUint64(view, at, offset);
    }
    this.#central.push(header);
    this.#centralSize += header.length;
    this.#records.push({ name, offset, dataOffset, size, crc32: crc });
  }

  /** Appends bytes; small ones are coalesced, large ones written through. */
  async #write(bytes: Uint8Array): Promise<void> {
    if (bytes.length >= this.#buffer.length / 2) {
      await this.#flush();
      await this.#writeAll(bytes);
    } else {
      if (bytes.length > this.#buffer.length - this.#buffered) await this.#flush();
      this.#buffer.set(bytes, this.#buffered);
      this.#buffered += bytes.length;
    }
    this.#position += bytes.length;
  }

  async #flush(): Promise<void> {
    if (this.#buffered === 0) return;
    const pending = this.#buffered;
    this.#buffered = 0;
    await this.#writeAll(this.#buffer.subarray(0, pending));
  }

  // Synchronous: Deno's async writes cost far more per call and copy the
  // bytes once more. Each call writes at most a copy buffer's worth, so the
  // event loop is never held for long.
  // deno-lint-ignore require-await
  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length;) {
      const written = this.#file.writeSync(
        bytes.subarray(done, Math.min(bytes.length, done + COPY_BUFFER_SIZE)),
      );
      done += written;
      this.#onWrite?.(written);
    }
  }
}
