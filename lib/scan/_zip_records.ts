// A zip reader that reads what torch's (miniz) reader reads, however damaged
// or doctored the archive: records are found through the central directory
// and read from where their local header says their data starts; CRCs,
// flags and local names are not trusted but checked, and every disagreement
// is returned as a problem instead of an error. The strict reader in
// lib/zip refuses such archives; the scanner must still see their pickles.
import { crc32 } from "../zip/crc32.ts";
import {
  CENTRAL_HEADER_SIGNATURE,
  CENTRAL_HEADER_SIZE,
  END_SIGNATURE,
  END_SIZE,
  getUint64,
  LOCAL_HEADER_SIGNATURE,
  LOCAL_HEADER_SIZE,
  MAX_UINT16,
  MAX_UINT32,
  METHOD_DEFLATED,
  METHOD_STORED,
  viewOf,
  ZIP64_END_SIGNATURE,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_SIGNATURE,
  ZIP64_LOCATOR_SIZE,
} from "../zip/_format.ts";
import type { RandomAccessSource } from "../zip/source.ts";

export interface ZipRecord {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export interface ZipListing {
  records: ZipRecord[];
  problems: string[];
}

const decoder = new TextDecoder();
// Room for the local extra field (torch's alignment padding) in the first read.
const EXTRA_SLACK = 256;

/** The central directory's records; undefined when there is no end record at all. */
export async function listZipRecords(source: RandomAccessSource): Promise<ZipListing | undefined> {
  const size = source.size;
  if (size < END_SIZE) return undefined;
  const tailLength = Math.min(size, END_SIZE + MAX_UINT16);
  const tailStart = size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const view = viewOf(tail);
  let at = -1;
  for (let i = tailLength - END_SIZE; i >= 0; i--) {
    if (view.getUint32(i, true) === END_SIGNATURE) {
      at = i;
      break;
    }
  }
  if (at < 0) return undefined;
  const problems: string[] = [];
  let count = view.getUint16(at + 10, true);
  let cdSize = view.getUint32(at + 12, true);
  let cdOffset = view.getUint32(at + 16, true);
  const endOffset = tailStart + at;
  if (endOffset >= ZIP64_LOCATOR_SIZE) {
    const locator = viewOf(await source.read(endOffset - ZIP64_LOCATOR_SIZE, ZIP64_LOCATOR_SIZE));
    if (locator.getUint32(0, true) === ZIP64_LOCATOR_SIGNATURE) {
      const zip64Offset = getUint64(locator, 8);
      if (zip64Offset + 56 <= size) {
        const z = viewOf(await source.read(zip64Offset, 56));
        if (z.getUint32(0, true) === ZIP64_END_SIGNATURE) {
          count = getUint64(z, 32);
          cdSize = getUint64(z, 40);
          cdOffset = getUint64(z, 48);
        } else problems.push("the ZIP64 end record is missing");
      } else problems.push("the ZIP64 locator points past the end of the file");
    }
  }
  if (cdOffset > size) {
    problems.push(`the central directory offset ${cdOffset} is past the end of the file`);
    return { records: [], problems };
  }
  const cd = await source.read(cdOffset, Math.min(cdSize, size - cdOffset));
  const cv = viewOf(cd);
  const records: ZipRecord[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (
      pos + CENTRAL_HEADER_SIZE > cd.length || cv.getUint32(pos, true) !== CENTRAL_HEADER_SIGNATURE
    ) {
      problems.push(`the central directory ends after ${i} of its ${count} records`);
      break;
    }
    const nameLength = cv.getUint16(pos + 28, true);
    const extraLength = cv.getUint16(pos + 30, true);
    const commentLength = cv.getUint16(pos + 32, true);
    const nameStart = pos + CENTRAL_HEADER_SIZE;
    const record: ZipRecord = {
      name: decoder.decode(cd.subarray(nameStart, nameStart + nameLength)),
      flags: cv.getUint16(pos + 8, true),
      method: cv.getUint16(pos + 10, true),
      crc32: cv.getUint32(pos + 16, true),
      compressedSize: cv.getUint32(pos + 20, true),
      size: cv.getUint32(pos + 24, true),
      localHeaderOffset: cv.getUint32(pos + 42, true),
    };
    applyZip64(record, cd.subarray(nameStart + nameLength, nameStart + nameLength + extraLength));
    records.push(record);
    pos = nameStart + nameLength + extraLength + commentLength;
  }
  return { records, problems };
}

function applyZip64(record: ZipRecord, extra: Uint8Array): void {
  const view = viewOf(extra);
  for (let at = 0; at + 4 <= extra.length;) {
    const id = view.getUint16(at, true);
    const length = view.getUint16(at + 2, true);
    if (id === ZIP64_EXTRA_ID) {
      let field = at + 4;
      const next = () => {
        const value = field + 8 <= at + 4 + length && field + 8 <= extra.length
          ? getUint64(view, field)
          : undefined;
        field += 8;
        return value;
      };
      if (record.size === MAX_UINT32) record.size = next() ?? record.size;
      if (record.compressedSize === MAX_UINT32) {
        record.compressedSize = next() ?? record.compressedSize;
      }
      if (record.localHeaderOffset === MAX_UINT32) {
        record.localHeaderOffset = next() ?? record.localHeaderOffset;
      }
      return;
    }
    at += 4 + length;
  }
}

/**
 * The uncompressed bytes of `record`, read as miniz reads them, at most
 * `limit` bytes; undefined when they cannot be read. Disagreements go to `problems`.
 */
export async function readZipRecord(
  source: RandomAccessSource,
  record: ZipRecord,
  limit: number,
  problems: string[],
): Promise<Uint8Array | undefined> {
  const name = JSON.stringify(record.name);
  if (record.localHeaderOffset + LOCAL_HEADER_SIZE > source.size) {
    problems.push(`record ${name}: its local header is past the end of the file`);
    return undefined;
  }
  // One read for the header, its name and extra field and the data, as far
  // as the central directory predicts them (a remote file pays per request).
  const nameBytes = new TextEncoder().encode(record.name);
  const guess = Math.min(
    source.size - record.localHeaderOffset,
    LOCAL_HEADER_SIZE + nameBytes.length + EXTRA_SLACK + Math.min(record.compressedSize, limit),
  );
  const first = await source.read(record.localHeaderOffset, guess);
  const header = viewOf(first);
  if (header.getUint32(0, true) !== LOCAL_HEADER_SIGNATURE) {
    problems.push(`record ${name}: no local header at offset ${record.localHeaderOffset}`);
    return undefined;
  }
  const localFlags = header.getUint16(6, true);
  const nameLength = header.getUint16(26, true);
  const extraLength = header.getUint16(28, true);
  const dataAt = LOCAL_HEADER_SIZE + nameLength + extraLength;
  const start = record.localHeaderOffset + dataAt;
  if (start > source.size) {
    problems.push(`record ${name}: its data starts past the end of the file`);
    return undefined;
  }
  const localName = decoder.decode(
    dataAt <= first.length
      ? first.subarray(LOCAL_HEADER_SIZE, LOCAL_HEADER_SIZE + nameLength)
      : await source.read(record.localHeaderOffset + LOCAL_HEADER_SIZE, nameLength),
  );
  if (localName !== record.name) {
    problems.push(
      `record ${name}: its local header names it ${
        JSON.stringify(localName)
      } (torch.load goes by the central directory)`,
    );
  }
  if ((record.flags | localFlags) & 0x0061) {
    problems.push(
      `record ${name}: flags 0x${
        (record.flags | localFlags).toString(16)
      } mark it encrypted or patched (torch.load ignores them)`,
    );
  }
  const available = Math.min(record.compressedSize, source.size - start);
  if (available < record.compressedSize) {
    problems.push(`record ${name}: its data runs past the end of the file`);
  }
  const wanted = Math.min(available, record.method === METHOD_STORED ? limit : available);
  const stored = dataAt + wanted <= first.length
    ? first.subarray(dataAt, dataAt + wanted)
    : await source.read(start, wanted);
  let data: Uint8Array;
  if (record.method === METHOD_STORED) {
    data = stored.subarray(0, Math.min(stored.length, limit));
  } else if (record.method === METHOD_DEFLATED) {
    const inflated = await inflate(
      stored,
      Math.min(limit, Math.max(record.size, 1)),
      problems,
      name,
    );
    if (inflated === undefined) return undefined;
    data = inflated;
  } else {
    problems.push(`record ${name}: compression method ${record.method}, which is not read`);
    return undefined;
  }
  if (data.length !== record.size) {
    problems.push(
      `record ${name}: ${data.length} bytes read, the central directory says ${record.size}`,
    );
  } else if (crc32(data) !== record.crc32) {
    problems.push(`record ${name}: its CRC-32 does not match (torch.load does not check it)`);
  }
  return data;
}

async function inflate(
  bytes: Uint8Array,
  limit: number,
  problems: string[],
  name: string,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  try {
    while (total < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } catch (error) {
    problems.push(`record ${name}: its data does not inflate (${(error as Error).message})`);
    if (total === 0) return undefined;
  } finally {
    await reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(Math.min(total, limit));
  let filled = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, out.length - filled);
    out.set(part, filled);
    filled += part.length;
  }
  return out;
}
