/**
 * Checks a checkpoint end to end without trusting any of it: every record's
 * CRC-32 against the central directory, the local headers and data
 * descriptors against the central directory, storage alignment, that
 * `data.pkl` decodes, and that every storage it references exists and is
 * large enough for its tensors.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";
import { unpickle } from "../pickle/unpickler.ts";
import type { ZipEntry } from "../zip/central_directory.ts";
import { crc32 } from "../zip/crc32.ts";
import { assertTorchZip } from "../zip/detect_format.ts";
import { openSource } from "../zip/open_source.ts";
import { ENTRY_CHUNK_SIZE, readEntryChunks } from "../zip/read_entry.ts";
import type { RandomAccessSource } from "../zip/source.ts";
import {
  DATA_DESCRIPTOR_SIGNATURE,
  FLAG_DATA_DESCRIPTOR,
  LOCAL_HEADER_SIZE,
  MAX_UINT32,
  METHOD_STORED,
  viewOf,
  ZIP64_EXTRA_ID,
} from "../zip/_format.ts";
import { Storage } from "./storage.ts";
import { Tensor } from "./tensor.ts";
import { isFolderEntry, isStorageRecord } from "./_records.ts";
import { torchUnpickleOptions } from "./_torch_pickle.ts";

/** Which check found a problem. */
export type VerifyCheck =
  /** The data's CRC-32 differs from the central directory's. */
  | "crc"
  /** The data cannot be read or inflated to its declared size. */
  | "data"
  /** The local header disagrees with the central directory. */
  | "local-header"
  /** The data descriptor after the data is missing or disagrees. */
  | "data-descriptor"
  /** A storage's data does not start at the archive's alignment. */
  | "alignment"
  /** `data.pkl` does not decode. */
  | "pickle"
  /** A referenced storage record is missing or too small. */
  | "storage"
  /** A tensor views bytes past the end of its storage. */
  | "tensor"
  /** A storage record that `data.pkl` never references. */
  | "unreferenced"
  /** A metadata record (`byteorder`, `.storage_alignment`) has an unusable value. */
  | "metadata";

/** One problem {@linkcode verifyCheckpoint} found. */
export interface VerifyProblem {
  /** Full name of the record concerned, e.g. `"archive/data/3"`. */
  record: string;
  /** The check that failed. */
  check: VerifyCheck;
  /**
   * `"error"`: torch.load fails or returns wrong data. `"warning"`: the file
   * loads, but not as torch writes it (unaligned or unreferenced storages).
   */
  severity: "error" | "warning";
  /** One line describing the problem (without the record name). */
  message: string;
}

/** Progress of {@linkcode verifyCheckpoint}, reported after every chunk read. */
export interface VerifyProgress {
  /** Full name of the record being read. */
  record: string;
  /** Data bytes read so far, over all records. */
  bytesDone: number;
  /** Data bytes to read in total. */
  bytesTotal: number;
}

/** Options for {@linkcode verifyCheckpoint}. */
export interface VerifyOptions {
  /** Called after every chunk (at most 8 MiB) read. */
  onProgress?: (progress: VerifyProgress) => void;
  /** For a URL: how long each range request may take, in milliseconds (default 30 s). */
  timeoutMs?: number;
}

/** What {@linkcode verifyCheckpoint} found. */
export interface VerifyReport {
  /** Folder of the records inside the archive. */
  archiveName: string;
  /** Number of records. */
  records: number;
  /** Stored (possibly compressed) data bytes read and checked. */
  bytes: number;
  /** Storages `data.pkl` references (0 when it does not decode). */
  storages: number;
  /** Tensors and parameters `data.pkl` builds (0 when it does not decode). */
  tensors: number;
  /** Every problem, in file order for record checks, then pickle checks. */
  problems: VerifyProblem[];
  /** True when no problem is an error. */
  ok: boolean;
}

const DEFAULT_ALIGNMENT = 64;
const DESCRIPTOR_MAX = 24;

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

class Verifier {
  readonly #source: RandomAccessSource;
  readonly #options: VerifyOptions;
  readonly problems: VerifyProblem[] = [];
  bytesDone = 0;
  bytesTotal = 0;

  constructor(source: RandomAccessSource, options: VerifyOptions) {
    this.#source = source;
    this.#options = options;
  }

  add(
    record: string,
    check: VerifyCheck,
    message: string,
    severity: "error" | "warning" = "error",
  ) {
    this.problems.push({ record, check, severity, message });
  }

  /** Reads the whole entry, checking size and CRC; keeps the bytes when `keep`. */
  async readData(entry: ZipEntry, keep: boolean): Promise<Uint8Array | undefined> {
    const chunks: Uint8Array[] = [];
    let crc = 0;
    const report = (length: number) => {
      this.bytesDone += length;
      this.#options.onProgress?.({
        record: entry.name,
        bytesDone: this.bytesDone,
        bytesTotal: this.bytesTotal,
      });
    };
    try {
      if (entry.method === METHOD_STORED && this.#source.readInto !== undefined && !keep) {
        // One buffer for the whole record: storages can be many GiB.
        const buffer = new Uint8Array(Math.min(ENTRY_CHUNK_SIZE, entry.size));
        for (let at = 0; at < entry.size; at += buffer.length) {
          const chunk = buffer.subarray(0, Math.min(buffer.length, entry.size - at));
          await this.#source.readInto(entry.dataOffset + at, chunk);
          crc = crc32(chunk, crc);
          report(chunk.length);
        }
      } else {
        // Progress counts stored bytes; inflated chunks are scaled to them.
        let inflated = 0;
        let reported = 0;
        for await (const chunk of readEntryChunks(this.#source, entry)) {
          crc = crc32(chunk, crc);
          if (keep) chunks.push(chunk);
          inflated += chunk.length;
          const stored = entry.size === 0
            ? 0
            : Math.floor((entry.compressedSize * inflated) / entry.size);
          report(stored - reported);
          reported = stored;
        }
        if (reported < entry.compressedSize) report(entry.compressedSize - reported);
      }
    } catch (error) {
      if (!(error instanceof CkptkitError)) throw error;
      this.add(entry.name, "data", error.message);
      return undefined;
    }
    if (crc !== entry.crc32) {
      this.add(
        entry.name,
        "crc",
        `CRC-32 of the data is ${hex(crc)}, the central directory says ${hex(entry.crc32)}`,
      );
    }
    if (!keep) return undefined;
    const data = new Uint8Array(entry.size);
    let at = 0;
    for (const chunk of chunks) {
      data.set(chunk, at);
      at += chunk.length;
    }
    return data;
  }

  /** Compares the local header and the data descriptor with the central directory. */
  async checkLocal(entry: ZipEntry, next: number): Promise<void> {
    const name = entry.name;
    const header = await this.#source.read(
      entry.localHeaderOffset,
      entry.dataOffset - entry.localHeaderOffset,
    );
    const view = viewOf(header);
    const flags = view.getUint16(6, true);
    const crc = view.getUint32(14, true);
    let compressedSize = view.getUint32(18, true);
    let size = view.getUint32(22, true);
    const nameLength = view.getUint16(26, true);
    const extraLength = view.getUint16(28, true);
    if (flags !== entry.flags) {
      this.add(
        name,
        "local-header",
        `local header flags 0x${flags.toString(16)} differ from the central directory's 0x${
          entry.flags.toString(16)
        }`,
        "warning",
      );
    }
    // Walk the extra field; a ZIP64 field widens the placeholder sizes.
    let zip64 = false;
    const extraStart = LOCAL_HEADER_SIZE + nameLength;
    for (let at = extraStart; at < extraStart + extraLength;) {
      if (at + 4 > extraStart + extraLength) {
        this.add(name, "local-header", "local header extra field ends inside a field header");
        break;
      }
      const id = view.getUint16(at, true);
      const length = view.getUint16(at + 2, true);
      if (at + 4 + length > extraStart + extraLength) {
        this.add(
          name,
          "local-header",
          `local header extra field 0x${id.toString(16).padStart(4, "0")} runs past its end`,
        );
        break;
      }
      if (id === ZIP64_EXTRA_ID) {
        zip64 = true;
        let slot = at + 4;
        const wide = () => {
          if (slot + 8 > at + 4 + length) return undefined;
          const value = view.getUint32(slot, true) + view.getUint32(slot + 4, true) * 2 ** 32;
          slot += 8;
          return value;
        };
        if (size === MAX_UINT32) size = wide() ?? size;
        if (compressedSize === MAX_UINT32) compressedSize = wide() ?? compressedSize;
      }
      at += 4 + length;
    }
    const descriptor = (flags & FLAG_DATA_DESCRIPTOR) !== 0;
    // With a data descriptor the local fields may be zero; otherwise they must agree.
    const agrees = (local: number, central: number) =>
      local === central || (descriptor && local === 0);
    const fields: [string, number, number, (n: number) => string][] = [
      ["CRC-32", crc, entry.crc32, hex],
      ["compressed size", compressedSize, entry.compressedSize, String],
      ["size", size, entry.size, String],
    ];
    for (const [what, local, central, show] of fields) {
      if (!agrees(local, central)) {
        this.add(
          name,
          "local-header",
          `local header ${what} ${show(local)} differs from the central directory's ${
            show(central)
          }`,
        );
      }
    }
    if (!descriptor) return;
    const end = entry.dataOffset + entry.compressedSize;
    const available = Math.min(DESCRIPTOR_MAX, next - end);
    const wide = zip64 || entry.compressedSize >= MAX_UINT32 || entry.size >= MAX_UINT32;
    const bytes = available > 0 ? await this.#source.read(end, available) : new Uint8Array();
    const d = viewOf(bytes);
    const signed = bytes.length >= 4 && d.getUint32(0, true) === DATA_DESCRIPTOR_SIGNATURE;
    const start = signed ? 4 : 0;
    const needed = start + (wide ? 20 : 12);
    if (bytes.length < needed) {
      this.add(name, "data-descriptor", `no room for the data descriptor after the data`);
      return;
    }
    const read = (at: number) =>
      wide ? d.getUint32(at, true) + d.getUint32(at + 4, true) * 2 ** 32 : d.getUint32(at, true);
    const values: [string, number, number, (n: number) => string][] = [
      ["CRC-32", d.getUint32(start, true), entry.crc32, hex],
      ["compressed size", read(start + 4), entry.compressedSize, String],
      ["size", read(start + (wide ? 12 : 8)), entry.size, String],
    ];
    for (const [what, local, central, show] of values) {
      if (local !== central) {
        this.add(
          name,
          "data-descriptor",
          `data descriptor ${what} ${show(local)} differs from the central directory's ${
            show(central)
          }`,
        );
      }
    }
  }
}

/**
 * Verifies the checkpoint at `path` (a file, or an `http(s)://` URL read
 * with range requests). Structural damage that leaves no
 * record list to check (no end record, a malformed central directory, not a
 * torch archive) is thrown; everything else is collected in the report.
 *
 * @example Verify a checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifyCheckpoint } from "./verify.ts";
 * const report = await verifyCheckpoint("tests/fixtures/state_dict.ckpt");
 * assert.equal(report.ok, true);
 * assert.deepEqual(report.problems, []);
 * ```
 *
 * @param path The checkpoint file.
 * @param options See {@linkcode VerifyOptions}.
 * @returns Counts and every problem found.
 * @throws {CkptkitError} when the archive's structure cannot be read at all.
 */
export async function verifyCheckpoint(
  path: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const source = await openSource(path, { timeoutMs: options.timeoutMs });
  try {
    return await verifySource(source, options);
  } finally {
    source.close();
  }
}

/**
 * {@linkcode verifyCheckpoint} over any byte source, e.g. a checkpoint in memory.
 *
 * @param source The archive bytes.
 * @param options See {@linkcode VerifyOptions}.
 * @returns Counts and every problem found.
 */
export async function verifySource(
  source: RandomAccessSource,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const { directory, prefix } = await assertTorchZip(source);
  const verifier = new Verifier(source, options);
  const full = (name: string) => `${prefix}/${name}`;
  const byName = new Map(directory.entries.map((e) => [e.name, e]));
  const sorted = directory.entries.slice().sort((a, b) =>
    a.localHeaderOffset - b.localHeaderOffset
  );
  verifier.bytesTotal = sorted.reduce((sum, e) => sum + e.compressedSize, 0);

  const small = async (name: string) => {
    const entry = byName.get(full(name));
    if (entry === undefined) return undefined;
    const bytes = await verifier.readData(entry, true);
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes).trim();
  };
  let alignment = DEFAULT_ALIGNMENT;
  const alignmentText = await small(".storage_alignment");
  if (alignmentText !== undefined) {
    const value = Number(alignmentText);
    if (Number.isSafeInteger(value) && value > 0) alignment = value;
    else {
      verifier.add(
        full(".storage_alignment"),
        "metadata",
        `invalid alignment ${JSON.stringify(alignmentText.slice(0, 40))}`,
      );
    }
  }
  const byteorder = await small("byteorder");
  if (byteorder !== undefined && byteorder !== "little") {
    verifier.add(
      full("byteorder"),
      "metadata",
      byteorder === "big"
        ? "tensor data is big-endian; ckptkit reads storages as little-endian"
        : `unknown byte order ${JSON.stringify(byteorder.slice(0, 40))}`,
      byteorder === "big" ? "warning" : "error",
    );
  }

  // Records in file order: local header, data (CRC), data descriptor, alignment.
  const pickleName = full("data.pkl");
  let pickleBytes: Uint8Array | undefined;
  for (let i = 0; i < sorted.length; i++) {
    const entry = sorted[i];
    const next = i + 1 < sorted.length
      ? sorted[i + 1].localHeaderOffset
      : directory.centralDirectoryOffset;
    await verifier.checkLocal(entry, next);
    const relative = entry.name.slice(prefix.length + 1);
    if (relative === ".storage_alignment" || relative === "byteorder") continue;
    const data = await verifier.readData(entry, entry.name === pickleName);
    if (entry.name === pickleName) pickleBytes = data;
    if (
      relative.startsWith("data/") && !isFolderEntry(relative) &&
      entry.dataOffset % alignment !== 0
    ) {
      verifier.add(
        entry.name,
        "alignment",
        `data starts at offset ${entry.dataOffset}, not a multiple of ${alignment} as torch writes storages`,
        "warning",
      );
    }
  }

  // The pickle: decodes, storages exist and are large enough, views fit.
  const referenced = new Set<string>();
  let tensors = 0;
  if (pickleBytes !== undefined) {
    const found: Tensor[] = [];
    const hooks = torchUnpickleOptions(({ key, storageClass, dtype, location, numel }) => {
      const name = full(`data/${key}`);
      referenced.add(name);
      const entry = byName.get(name);
      const needed = numel * dtype.itemsize;
      if (entry === undefined) {
        verifier.add(
          name,
          "storage",
          `record is missing; data.pkl references it as a ${storageClass.name} of ${
            plural(numel, "element")
          }`,
        );
      } else if (entry.size < needed) {
        verifier.add(
          name,
          "storage",
          `record has ${plural(entry.size, "byte")}, the ${storageClass.name} of ${
            plural(numel, "element")
          } needs ${needed}`,
        );
      }
      return new Storage({ dtype, storageClass, location, numel, key });
    });
    const construct = hooks.construct!;
    hooks.construct = (callable, args, how) => {
      const value = construct(callable, args, how);
      if (value instanceof Tensor) found.push(value);
      return value;
    };
    let decoded = true;
    try {
      unpickle(pickleBytes, hooks);
    } catch (error) {
      if (!(error instanceof CkptkitError)) throw error;
      verifier.add(pickleName, "pickle", error.message);
      decoded = false;
    }
    for (const tensor of found) {
      const storage = tensor.storage;
      if (tensor.requiredBytes > storage.nbytes) {
        verifier.add(
          full(`data/${storage.key}`),
          "tensor",
          `a ${tensor.dtype.name} tensor of shape [${tensor.shape.slice(0, 8).join(", ")}${
            tensor.shape.length > 8 ? ", ..." : ""
          }] at offset ${tensor.offset} needs ${tensor.requiredBytes} bytes of a storage of ${storage.nbytes}`,
        );
      }
    }
    tensors = found.length;
    for (const entry of decoded ? sorted : []) {
      const relative = entry.name.slice(prefix.length + 1);
      if (isStorageRecord(relative) && !referenced.has(entry.name)) {
        verifier.add(
          entry.name,
          "unreferenced",
          "storage record is not referenced by data.pkl",
          "warning",
        );
      }
    }
  }
  return {
    archiveName: prefix,
    records: directory.entries.length,
    bytes: verifier.bytesDone,
    storages: referenced.size,
    tensors,
    problems: verifier.problems,
    ok: verifier.problems.every((p) => p.severity !== "error"),
  };
}
