/**
 * Reads the uncompressed bytes of zip entries and checks their CRC-32.
 *
 * @module
 */

import { ZipFormatError } from "../errors.ts";
import { resolveEntries, type ZipEntry } from "./central_directory.ts";
import { crc32 } from "./crc32.ts";
import { METHOD_DEFLATED, METHOD_STORED } from "./_format.ts";
import type { RandomAccessSource } from "./source.ts";

/** Chunk size used when streaming entries. */
export const ENTRY_CHUNK_SIZE = 8 << 20;

/** Options for {@linkcode readEntry}. */
export interface ReadEntryOptions {
  /** Also check the CRC-32 against the central directory. Defaults to `false`. */
  verifyCrc?: boolean;
}

function entryName(entry: ZipEntry): string {
  return JSON.stringify(entry.name);
}

function checkMethod(entry: ZipEntry): void {
  if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATED) {
    throw new ZipFormatError(
      `Cannot read entry ${entryName(entry)}: unsupported compression method ${entry.method}`,
    );
  }
}

function compressedStream(
  source: RandomAccessSource,
  entry: ZipEntry,
  chunkSize: number,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  let position = 0;
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      const length = Math.min(chunkSize, entry.compressedSize - position);
      if (length === 0) {
        controller.close();
        return;
      }
      const chunk = await source.read(entry.dataOffset + position, length);
      position += length;
      controller.enqueue(chunk as Uint8Array<ArrayBuffer>);
    },
  }, { highWaterMark: 0 });
}

/**
 * Yields the uncompressed bytes of `entry` in chunks of at most `chunkSize`
 * bytes (deflate output may come in smaller pieces). Each chunk is a fresh
 * array that the caller may keep.
 *
 * @param source The archive bytes.
 * @param entry The entry to read.
 * @param chunkSize Maximum bytes read from `source` at once.
 * @throws {ZipFormatError} when the data does not inflate, or inflates to a
 * size other than `entry.size`.
 */
export async function* readEntryChunks(
  source: RandomAccessSource,
  entry: ZipEntry,
  chunkSize: number = ENTRY_CHUNK_SIZE,
): AsyncGenerator<Uint8Array> {
  checkMethod(entry);
  await resolveEntries(source, [entry]);
  if (entry.method === METHOD_STORED) {
    for (let position = 0; position < entry.size; position += chunkSize) {
      yield await source.read(
        entry.dataOffset + position,
        Math.min(chunkSize, entry.size - position),
      );
    }
    return;
  }
  // Some writers store an empty deflated entry as zero bytes, which is not a
  // valid deflate stream.
  if (entry.size === 0 && entry.compressedSize === 0) return;
  const name = entryName(entry);
  let total = 0;
  const inflated = compressedStream(source, entry, chunkSize)
    .pipeThrough(new DecompressionStream("deflate-raw"));
  const reader = inflated.getReader();
  try {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        if (error instanceof ZipFormatError) throw error;
        const reason = (error instanceof Error ? error.message : String(error)).replace(
          /\s+/g,
          " ",
        );
        throw new ZipFormatError(`Cannot inflate entry ${name}: ${reason}`, { cause: error });
      }
      if (result.done) break;
      total += result.value.length;
      if (total > entry.size) {
        throw new ZipFormatError(
          `Cannot inflate entry ${name}: data inflates to more than its size of ${entry.size} bytes`,
        );
      }
      yield result.value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  if (total !== entry.size) {
    throw new ZipFormatError(
      `Cannot inflate entry ${name}: data inflates to ${total} bytes, expected ${entry.size}`,
    );
  }
}

/**
 * Reads the whole uncompressed content of `entry` into memory.
 *
 * @example Reading a checkpoint's pickle
 * ```ts ignore
 * import { FileSource } from "./source.ts";
 * import { readCentralDirectory } from "./central_directory.ts";
 * import { readEntry } from "./read_entry.ts";
 * const source = await FileSource.open("model.ckpt");
 * const { entries } = await readCentralDirectory(source);
 * const pickle = await readEntry(source, entries.find((e) => e.name.endsWith("/data.pkl"))!);
 * ```
 *
 * @param source The archive bytes.
 * @param entry The entry to read.
 * @param options See {@linkcode ReadEntryOptions}.
 * @returns The uncompressed bytes, exactly `entry.size` of them.
 * @throws {ZipFormatError} when the data cannot be read or inflated, its size
 * differs from `entry.size`, or (with `verifyCrc`) its CRC-32 differs.
 */
export async function readEntry(
  source: RandomAccessSource,
  entry: ZipEntry,
  options: ReadEntryOptions = {},
): Promise<Uint8Array> {
  checkMethod(entry);
  await resolveEntries(source, [entry]);
  let data: Uint8Array;
  if (entry.method === METHOD_STORED) {
    data = await source.read(entry.dataOffset, entry.size);
  } else {
    // Collect first: the declared size is not trusted until the data matches it.
    const chunks: Uint8Array[] = [];
    for await (const chunk of readEntryChunks(source, entry)) chunks.push(chunk);
    data = new Uint8Array(entry.size);
    let filled = 0;
    for (const chunk of chunks) {
      data.set(chunk, filled);
      filled += chunk.length;
    }
  }
  if (options.verifyCrc) {
    const actual = crc32(data);
    if (actual !== entry.crc32) {
      throw new ZipFormatError(
        `Cannot read entry ${entryName(entry)}: CRC-32 is ${hexCrc(actual)}, expected ${
          hexCrc(entry.crc32)
        }`,
      );
    }
  }
  return data;
}

function hexCrc(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/**
 * Computes the CRC-32 of the entry's uncompressed data, streaming it in
 * 8 MiB chunks, and compares it with the central directory value.
 *
 * @param source The archive bytes.
 * @param entry The entry to check.
 * @returns Whether the CRC-32 matches.
 * @throws {ZipFormatError} when the data cannot be read or inflated.
 */
export async function verifyEntryCrc(
  source: RandomAccessSource,
  entry: ZipEntry,
): Promise<boolean> {
  checkMethod(entry);
  await resolveEntries(source, [entry]);
  let crc = 0;
  if (entry.method === METHOD_STORED && source.readInto !== undefined) {
    // Reuse one buffer: a multi-GiB storage should not allocate per chunk.
    const buffer = new Uint8Array(Math.min(ENTRY_CHUNK_SIZE, entry.size));
    for (let position = 0; position < entry.size; position += buffer.length) {
      const chunk = buffer.subarray(0, Math.min(buffer.length, entry.size - position));
      await source.readInto(entry.dataOffset + position, chunk);
      crc = crc32(chunk, crc);
    }
  } else {
    for await (const chunk of readEntryChunks(source, entry)) crc = crc32(chunk, crc);
  }
  return crc === entry.crc32;
}
