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
import type { ZipEntry } from "./central_directory.ts";
import { crc32 } from "./crc32.ts";
import { readEntryChunks } from "./read_entry.ts";
import type { RandomAccessSource } from "./source.ts";
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
// The FB field length is a u16 and shares the extra field with ZIP64 data.
const MAX_ALIGNMENT = MAX_UINT16 - 4 - 28;
const WRITE_BUFFER_SIZE = 1 << 20;
const COPY_BUFFER_SIZE = 16 << 20;
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

  private constructor(file: Deno.FsFile, prefix: string, alignment: number) {
    this.#file = file;
    this.#prefix = prefix;
    this.#alignment = alignment;
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
    return new TorchZipWriter(file, `${archiveName}/`, alignment);
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
   * @param data The record's bytes.
   */
  async writeRecord(name: string, data: Uint8Array): Promise<void> {
    await this.#exclusive(async () => {
      const record = await this.#begin(name, data.length);
      await this.#write(data);
      await this.#end(record, crc32(data));
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
      const record = await this.#begin(name, entry.size);
      if (entry.method === METHOD_STORED) {
        const buffer = this.#copyBuffer ??= new Uint8Array(COPY_BUFFER_SIZE);
        for (let done = 0; done < entry.size;) {
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

  /** Writes the local header and returns what the descriptor needs. */
  async #begin(name: string, size: number): Promise<OpenRecord> {
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
    const offset = this.#position;
    const bigSize = size >= MAX_UINT32;
    const farOffset = offset >= MAX_UINT32;
    const zip64 = bigSize || farOffset;
    const zip64Length = zip64 ? 4 + (bigSize ? 16 : 0) + (farOffset ? 8 : 0) : 0;
    // Mirrors torch's getPadding(): the FB field makes the data start aligned.
    const unpadded = offset + LOCAL_HEADER_SIZE + nameBytes.length + zip64Length + 4;
    const padding = (this.#alignment - (unpadded % this.#alignment)) % this.#alignment;
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
      if (bigSize) {
        // miniz writes the compressed size as 0 here: it is not known yet.
        setUint64(view, at, size);
        at += 16;
      }
      if (farOffset) {
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

    const bigSize = size >= MAX_UINT32;
    const farOffset = offset >= MAX_UINT32;
    const extraLength = zip64 ? 4 + (bigSize ? 16 : 0) + (farOffset ? 8 : 0) : 0;
    const header = new Uint8Array(CENTRAL_HEADER_SIZE + nameBytes.length + extraLength);
    const view = viewOf(header);
    view.setUint32(0, CENTRAL_HEADER_SIGNATURE, true);
    view.setUint16(8, size > 0 ? FLAG_UTF8 | FLAG_DATA_DESCRIPTOR : FLAG_UTF8, true);
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

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length;) {
      done += await this.#file.write(bytes.subarray(done));
    }
  }
}
