// The check a save runs on its temporary file before renaming it
// over the target: the file reads back as the checkpoint that was written.
import { CheckpointError, CkptkitError } from "../errors.ts";
import { unpickle } from "../pickle/unpickler.ts";
import type { ZipEntry } from "../zip/central_directory.ts";
import { assertTorchZip } from "../zip/detect_format.ts";
import { readEntry, verifyEntryCrc } from "../zip/read_entry.ts";
import { FileSource, type RandomAccessSource } from "../zip/source.ts";
import type { WrittenRecord } from "../zip/torch_zip_writer.ts";
import { METHOD_STORED } from "../zip/_format.ts";
import { Storage } from "./storage.ts";
import { recordsByName } from "./_records.ts";
import { torchUnpickleOptions } from "./_torch_pickle.ts";

/** A record copied from another archive, which keeps that archive's CRC-32. */
export interface CopiedFrom {
  source: RandomAccessSource;
  entry: ZipEntry;
}

/** What the file at the path should hold. */
export interface WrittenArchive {
  archiveName: string;
  /** Every record the writer listed, in order. */
  records: readonly WrittenRecord[];
  /** The source of a record copied or kept from another file; undefined for new records. */
  copiedFrom(name: string): CopiedFrom | undefined;
}

// Bytes compared at each end of a copied record: catches data placed at the
// wrong offset without reading gigabytes again.
const SAMPLE = 4096;

/**
 * Re-opens the written archive at `path` and checks that its central
 * directory parses and lists exactly the written records, that new records'
 * CRC-32s match their data, that copied records keep their source's CRC-32,
 * size and (sampled) bytes, that `data.pkl` decodes, and that every storage
 * it references exists with at least numel * itemsize bytes.
 *
 * @throws {CheckpointError} naming the first problem.
 */
export async function checkWritten(path: string, expected: WrittenArchive): Promise<void> {
  const source = await FileSource.open(path);
  try {
    await check(source, expected);
  } catch (error) {
    if (!(error instanceof CkptkitError)) throw error;
    const detail = error instanceof Failed ? error.message : error.message.replace(/^Cannot /, "");
    throw new CheckpointError(
      `Cannot save checkpoint: the written file fails its check: ${detail}`,
    );
  } finally {
    source.close();
  }
}

class Failed extends CkptkitError {}

async function check(source: FileSource, expected: WrittenArchive): Promise<void> {
  const { directory, prefix } = await assertTorchZip(source);
  if (prefix !== expected.archiveName) {
    throw new Failed(`archive folder is ${prefix}, not ${expected.archiveName}`);
  }
  const entries = recordsByName(directory, prefix);
  if (entries.size !== expected.records.length) {
    throw new Failed(`${entries.size} records, ${expected.records.length} written`);
  }
  const samples = { written: new Uint8Array(SAMPLE), original: new Uint8Array(SAMPLE) };
  for (const record of expected.records) {
    const entry = entries.get(record.name);
    if (entry === undefined) throw new Failed(`record ${record.name} is missing`);
    if (
      entry.method !== METHOD_STORED || entry.size !== record.size ||
      entry.crc32 !== record.crc32 || entry.dataOffset !== record.dataOffset
    ) {
      throw new Failed(`record ${record.name} is not listed as written`);
    }
    const copied = expected.copiedFrom(record.name);
    if (copied === undefined) {
      if (!await verifyEntryCrc(source, entry)) {
        throw new Failed(`record ${record.name} has the wrong CRC-32`);
      }
    } else {
      await checkCopied(source, entry, copied, samples);
    }
  }
  const hooks = torchUnpickleOptions(({ key, storageClass, dtype, location, numel }) => {
    const entry = entries.get(`data/${key}`);
    const needed = numel * dtype.itemsize;
    if (entry === undefined) throw new Failed(`storage record data/${key} is missing`);
    if (entry.size < needed) {
      throw new Failed(`storage record data/${key} has ${entry.size} bytes, ${needed} needed`);
    }
    return new Storage({ dtype, storageClass, location, numel, key });
  });
  unpickle(await readEntry(source, entries.get("data.pkl")!), hooks);
}

/** Sample buffers of one check, reused for every record (checks may run concurrently). */
interface Samples {
  written: Uint8Array;
  original: Uint8Array;
}

async function checkCopied(
  source: FileSource,
  entry: ZipEntry,
  from: CopiedFrom,
  samples: Samples,
): Promise<void> {
  const name = entry.name;
  if (entry.crc32 !== from.entry.crc32 || entry.size !== from.entry.size) {
    throw new Failed(`record ${name} lost its source's CRC-32 or size`);
  }
  // Local stored records are compared directly; inflated ones were checked
  // when copied, and remote ones would cost requests.
  if (from.entry.method !== METHOD_STORED || !(from.source instanceof FileSource)) return;
  const length = Math.min(SAMPLE, entry.size);
  // Reused buffers: thousands of storages would otherwise leave thousands
  // of samples for the garbage collector and raise peak memory.
  const written = samples.written.subarray(0, length);
  const original = samples.original.subarray(0, length);
  for (const at of new Set([0, entry.size - length])) {
    await Promise.all([
      source.readInto(entry.dataOffset + at, written),
      from.source.readInto(from.entry.dataOffset + at, original),
    ]);
    if (!sameBytes(written, original)) {
      throw new Failed(`record ${name} differs from its source at byte ${at}`);
    }
  }
}

// A plain loop: a callback per byte (`some`) cost more than the reads for
// checkpoints with thousands of small storages.
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
