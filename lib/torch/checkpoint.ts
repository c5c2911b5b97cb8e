/**
 * A torch checkpoint opened without Python: the central directory and
 * `data.pkl` are read and decoded; tensor bytes stay in the file until a
 * save copies them as untouched byte ranges.
 *
 * @module
 */

import { CheckpointError, CkptkitError } from "../errors.ts";
import { joinParts } from "../pickle/_byte_writer.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { unpickle } from "../pickle/unpickler.ts";
import { resolveEntries, type ZipDirectory, type ZipEntry } from "../zip/central_directory.ts";
import { assertTorchZip } from "../zip/detect_format.ts";
import { localHeadersFor, openSource } from "../zip/open_source.ts";
import { readEntry } from "../zip/read_entry.ts";
import { ClosedSourceError, FileSource, type RandomAccessSource } from "../zip/source.ts";
import { MAX_UINT32, METHOD_STORED } from "../zip/_format.ts";
import { KernelRangeCopier } from "../zip/_kernel_range_copy.ts";
import {
  DEFAULT_ALIGNMENT,
  torchRecordLayout,
  TorchZipWriter,
  type WrittenRecord,
} from "../zip/torch_zip_writer.ts";
import { Storage } from "./storage.ts";
import { isStorageRecord, recordsByName } from "./_records.ts";
import { replaceAtomically, saveError } from "./_atomic_write.ts";
import { resolveSaveTarget, sameFile, type SaveTarget } from "./_save_target.ts";
import { clonesOnDarwin, kernelCopy, reflink } from "./_kernel_copy.ts";
import { ProgressCounter } from "./_save_progress.ts";
import { Writeback } from "./_writeback.ts";
import { checkWritten, type CopiedFrom } from "./_check_written.ts";
import { torchPickle, torchUnpickleOptions } from "./_torch_pickle.ts";
import { InvalidTensorError, pathTo } from "./_tensor_check.ts";

/** Options for {@linkcode Checkpoint.open}. */
export interface OpenOptions {
  /**
   * Resolves each global the pickle references (Python 3 spelling) to the
   * value to use, e.g. a redirected {@linkcode PyGlobal}. Default: the name as is.
   */
  findGlobal?: (module: string, name: string) => unknown;
  /**
   * When to read the records' local headers: `"all"` while opening, or
   * `"on-demand"` as each record is first read (saving reads them all).
   * The default is `"on-demand"` for URLs, where each costs a range
   * request, and `"all"` for files, where opening then checks every record's
   * header.
   */
  localHeaders?: "all" | "on-demand";
  /** For a URL: how long each range request may take, in milliseconds (default 30 s). */
  timeoutMs?: number;
}

/**
 * How {@linkcode Checkpoint.save} writes the file:
 * - `"stream"` writes every record in torch's own layout; storage records
 *   of local files are copied inside the kernel (`copy_file_range` on
 *   Linux, where the process may use FFI), else through memory;
 * - `"clone"` makes the new file a copy of the source file (sharing its
 *   blocks where the filesystem can, else copied by the kernel), keeps the
 *   storage records where they are and rewrites only the records before and
 *   after them. It needs an unchanged set and order of storages read from a
 *   local file;
 * - `"auto"` (the default) clones when that is possible, copies mostly
 *   storage bytes, and the filesystem shares the source's blocks with the
 *   new file, which it asks the kernel to do (the FICLONE ioctl: XFS,
 *   btrfs, bcachefs, OCFS2 on Linux; on macOS, APFS clones any file copied
 *   within a volume), taking a fraction of a second for any size; it
 *   streams otherwise.
 */
export type SaveStrategy = "auto" | "stream" | "clone";

/** Progress of a {@linkcode Checkpoint.save}, in bytes. */
export interface SaveProgress {
  /** Bytes copied or written so far; never decreases. */
  done: number;
  /** Bytes the save expects to copy or write; the last report has `done === total`. */
  total: number;
}

/** Options for {@linkcode Checkpoint.save}. */
export interface SaveOptions {
  /** Folder name inside the archive; default: the one the input used. */
  archiveName?: string;
  /** How to write the file; default `"auto"`. See {@linkcode SaveStrategy}. */
  strategy?: SaveStrategy;
  /** Called as bytes are copied or written, e.g. to draw a progress bar. */
  onProgress?: (progress: SaveProgress) => void;
  /**
   * Re-open the written temporary file and check it before it replaces
   * `path` (default `true`): the central directory parses, new records'
   * CRC-32s are right, copied records keep their source's, `data.pkl`
   * decodes and every storage it references is large enough.
   */
  verify?: boolean;
  /**
   * How long to wait while another process (a migrate, a rewrite) holds the
   * lock on an existing file at `path`, in milliseconds (default 10 s).
   */
  lockTimeoutMs?: number;
  /**
   * Records of the source that torch does not write (e.g. anemoi's
   * `anemoi-metadata/`): `"keep"` them byte for byte (the default) or
   * `"drop"` them.
   */
  extraRecords?: "keep" | "drop";
}

/** What {@linkcode Checkpoint.save} wrote. */
export interface SaveResult {
  /** The path written. */
  path: string;
  /** Size of the new file in bytes. */
  size: number;
  /** Size of the new `data.pkl`. */
  pickleSize: number;
  /** Number of storage records written. */
  storages: number;
  /** The strategy used: `"stream"` or `"clone"`. */
  strategy: "stream" | "clone";
}

// Records torch writes besides data.pkl and data/<key>, in torch's order.
const LEADING_METADATA = [".format_version", ".storage_alignment", "byteorder"];
const VERSION_RECORDS = ["version", ".data/version"];
const SERIALIZATION_ID = ".data/serialization_id";
const FORMAT_VERSION = ".format_version";
// Zeros that fill the place of the old head when a clone moves data.pkl to
// the end; dropped again by the next save.
const FILLER = ".data/ckptkit_padding";
// Below this much storage data a clone saves nothing measurable, and
// streaming keeps torch's exact layout.
const CLONE_MIN_BYTES = 32 << 20;
const STRATEGIES: readonly string[] = ["auto", "stream", "clone"];

/** The encoded data.pkl, in the parts the encoder left it in. */
interface EncodedPickle {
  parts: readonly Uint8Array[];
  size: number;
}

/** What a clone keeps and rewrites, worked out before anything is written. */
interface ClonePlan {
  /** The source's local file, which the kernel copies. */
  source: FileSource;
  /** Storage records in file order, each with the offset where the next record starts. */
  kept: { name: string; entry: ZipEntry; end: number }[];
  /** Offset of the first storage record's local header. */
  start: number;
  /** Offset just past the last storage record. */
  end: number;
  /** Leading records, data.pkl first, as written. */
  head: string[];
  /** Whether the new head ends exactly where the storages start. */
  headInPlace: boolean;
  /** Whether the clone copies mostly storage bytes, so `"auto"` picks it. */
  worthwhile: boolean;
}

/**
 * A PyTorch checkpoint (`torch.save` zip format).
 *
 * @example Open, inspect and re-save a checkpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint } from "./checkpoint.ts";
 * import { PyObject } from "../pickle/py_object.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/state_dict.ckpt");
 * assert.ok(ckpt.root instanceof PyObject);
 * const out = await Deno.makeTempFile({ suffix: ".ckpt" });
 * await ckpt.save(out);
 * ckpt.close();
 * const again = await Checkpoint.open(out);
 * assert.deepEqual([...(again.root as PyObject).keys()], [...(ckpt.root as PyObject).keys()]);
 * again.close();
 * await Deno.remove(out);
 * ```
 */
export class Checkpoint {
  /** The decoded object graph; assign to replace it. */
  root: unknown;
  /** The file the checkpoint was read from. */
  readonly path: string;
  /** Folder name of the records inside the archive. */
  readonly archiveName: string;
  /** The validated central directory of the source file. */
  readonly directory: ZipDirectory;
  /** The source `data.pkl` bytes. */
  readonly pickleBytes: Uint8Array;
  /**
   * The globals `data.pkl` names, as `[module, qualified name]` pairs (before
   * any `findGlobal` redirect), each once, in the order the pickle first
   * uses them.
   *
   * @example Which classes a checkpoint needs
   * ```ts
   * import assert from "node:assert/strict";
   * import { Checkpoint } from "../../mod.ts";
   *
   * const ckpt = await Checkpoint.open("tests/fixtures/training.ckpt");
   * const names = ckpt.globals.map(([module, name]) => `${module}.${name}`);
   * assert.ok(names.includes("omegaconf.dictconfig.DictConfig"));
   * ckpt.close();
   * ```
   */
  readonly globals: readonly (readonly [string, string])[];
  readonly #source: RandomAccessSource;
  readonly #entries: Map<string, ZipEntry>;
  // Storage keys the source data.pkl references (see isStorageRecord): a
  // storage record no longer used is dropped, other records are kept.
  readonly #storageKeys: ReadonlySet<string>;

  private constructor(init: {
    root: unknown;
    path: string;
    archiveName: string;
    directory: ZipDirectory;
    pickleBytes: Uint8Array;
    globals: readonly (readonly [string, string])[];
    source: RandomAccessSource;
    entries: Map<string, ZipEntry>;
    storageKeys: ReadonlySet<string>;
  }) {
    this.root = init.root;
    this.path = init.path;
    this.archiveName = init.archiveName;
    this.directory = init.directory;
    this.pickleBytes = init.pickleBytes;
    this.globals = init.globals;
    this.#source = init.source;
    this.#entries = init.entries;
    this.#storageKeys = init.storageKeys;
  }

  /**
   * Opens `path`, reading only its central directory and `data.pkl`. An
   * `http://` or `https://` URL is read with range requests.
   */
  static async open(path: string, options: OpenOptions = {}): Promise<Checkpoint> {
    const source = await openSource(path, { timeoutMs: options.timeoutMs });
    try {
      return await Checkpoint.#read(path, source, options);
    } catch (error) {
      source.close();
      throw error;
    }
  }

  static async #read(
    path: string,
    source: RandomAccessSource,
    options: OpenOptions,
  ): Promise<Checkpoint> {
    const { directory, prefix } = await assertTorchZip(source, {
      localHeaders: options.localHeaders ?? localHeadersFor(source),
    });
    const entries = recordsByName(directory, prefix);
    const pickleBytes = await readEntry(source, entries.get("data.pkl")!);
    const storageKeys = new Set<string>();
    const globals = new Map<string, readonly [string, string]>();
    const findGlobal = options.findGlobal;
    const root = decodePickle(pickleBytes, source, entries, storageKeys, (module, name) => {
      const path = `${module}\0${name}`;
      if (!globals.has(path)) globals.set(path, [module, name]);
      return findGlobal === undefined ? PyGlobal.of(module, name) : findGlobal(module, name);
    });
    return new Checkpoint({
      root,
      path,
      archiveName: prefix,
      directory,
      pickleBytes,
      globals: [...globals.values()],
      source,
      entries,
      storageKeys,
    });
  }

  /**
   * Decodes the `data.pkl` read at open into a new object graph, e.g. with
   * other global redirects, from the same bytes and the same file: whatever
   * happened to the path since, the graph describes the checkpoint `root`
   * came from. `root` is left as it is.
   *
   * @example Decode again with a redirect
   * ```ts
   * import assert from "node:assert/strict";
   * import { Checkpoint, PyDict, PyGlobal, PyObject } from "../../mod.ts";
   *
   * const ckpt = await Checkpoint.open("tests/fixtures/training.ckpt");
   * const moved = ckpt.decode({
   *   findGlobal: (module, name) =>
   *     PyGlobal.of(module === "omegaconf.dictconfig" ? "moved" : module, name),
   * }) as PyDict;
   * const config = (moved.get("hyper_parameters") as PyObject).get("config") as PyObject;
   * assert.equal(config.className, "moved.DictConfig");
   * ckpt.close();
   * ```
   */
  decode(options: Pick<OpenOptions, "findGlobal"> = {}): unknown {
    return decodePickle(
      this.pickleBytes,
      this.#source,
      this.#entries,
      new Set(),
      options.findGlobal,
    );
  }

  /** The bytes the checkpoint is read from (a file, or an {@linkcode HttpSource}). */
  get source(): RandomAccessSource {
    return this.#source;
  }

  /** Record names (without the archive folder) in the source file, in central directory order. */
  get recordNames(): string[] {
    return [...this.#entries.keys()];
  }

  /** The text of a small source record such as `version` or `byteorder`, when present. */
  async readRecordText(name: string): Promise<string | undefined> {
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    return new TextDecoder().decode(await readEntry(this.#source, entry));
  }

  /** Encodes the object graph as `data.pkl`, numbering storages as torch.save does. */
  encode(): { pickle: Uint8Array; storages: Storage[] } {
    const { parts, storages } = this.#encode("encode");
    return { pickle: joinParts(parts), storages };
  }

  /** torchPickle of the root; a tensor torch could not rebuild is named by its place. */
  #encode(action: string): { parts: Uint8Array[]; storages: Storage[] } {
    try {
      return torchPickle(this.root);
    } catch (error) {
      if (!(error instanceof InvalidTensorError)) throw error;
      const where = pathTo(this.root, error.tensor) ?? "somewhere in the checkpoint";
      throw new CheckpointError(
        `Cannot ${action}: the tensor at ${where} cannot be loaded by torch: ${error.problem}` +
          (action === "save" ? "; nothing was written" : ""),
        { cause: error },
      );
    }
  }

  /**
   * Writes the checkpoint to `path`. Storage records are copied from the
   * source as untouched byte ranges, or written from memory for new ones.
   * The file is written to a temporary name in the same folder, synced,
   * checked (see {@linkcode SaveOptions.verify}), then renamed over `path`,
   * and the folder is synced. On any failure, or SIGINT/SIGTERM (the
   * process then exits with 130/143), the temporary file is removed and
   * `path` is untouched. See {@linkcode SaveStrategy} for how the bytes get
   * there; every strategy writes a file that torch loads, and
   * `.format_version` is kept only when the storages sit where torch's
   * computed-offset loading expects them.
   *
   * @throws {CheckpointError} for an unknown strategy, `"clone"` when the
   * checkpoint cannot be cloned, or a failed write or check (the message says
   * why and that the original is unchanged).
   */
  async save(path: string, options: SaveOptions = {}): Promise<SaveResult> {
    const strategy = options.strategy ?? "auto";
    if (!STRATEGIES.includes(strategy)) {
      throw new CheckpointError(
        `Cannot save checkpoint: unknown strategy ${JSON.stringify(strategy)}`,
      );
    }
    // Written as the encoder's parts: large bytes values are not copied into one array.
    const { parts, storages } = this.#encode("save");
    const pickle = { parts, size: parts.reduce((sum, part) => sum + part.length, 0) };
    try {
      await this.#resolveRecords(storages);
    } catch (error) {
      // A closed source is the save's failure, said as one: "Cannot save: ...".
      if (error instanceof CkptkitError && !(error instanceof ClosedSourceError)) throw error;
      throw saveError(error, false);
    }
    let target: SaveTarget;
    try {
      target = await resolveSaveTarget(path);
    } catch (error) {
      throw saveError(error, false);
    }
    // In place, by its path or another name of the file: the target must
    // still be the file read when the save replaces it.
    const source = this.#source instanceof FileSource ? this.#source : undefined;
    const inPlace = source !== undefined &&
      (target.path === source.realPath || sameFile(target.existing, source.opened));
    const alignment = await this.#alignment();
    const archiveName = options.archiveName ?? this.archiveName;
    const keepExtra = (options.extraRecords ?? "keep") === "keep";
    const progress = new ProgressCounter(options.onProgress);
    const written: { records?: readonly WrittenRecord[] } = {};
    const replace = {
      check: options.verify === false ? undefined : (temp: string) =>
        checkWritten(temp, {
          archiveName,
          records: written.records ?? [],
          copiedFrom: (name) => this.#copiedFrom(name, storages),
        }),
      sources: this.#fileSources(storages),
      lockTimeoutMs: options.lockTimeoutMs,
      expected: inPlace ? source.opened : undefined,
    };
    const stream = (temp: string) =>
      this.#saveStream(
        temp,
        path,
        pickle,
        storages,
        archiveName,
        alignment,
        progress,
        written,
        keepExtra,
      );
    if (strategy !== "stream") {
      let plan = this.#planClone(storages, archiveName, pickle.size, alignment);
      if (typeof plan !== "string" && !await this.#stillOnDisk(plan.source)) {
        plan = "the source file was replaced or changed since it was opened";
      }
      if (typeof plan === "string") {
        if (strategy === "clone") throw new CheckpointError(`Cannot clone checkpoint: ${plan}`);
      } else if (strategy === "clone" || plan.worthwhile) {
        const clonePlan = plan;
        const byCopyFile = strategy === "clone" || await clonesOnDarwin(this.path, target.path);
        // The filesystem answers whether it shares blocks by doing it; where
        // it will not, a stream save copies in the kernel as fast as a clone.
        return await replaceAtomically(target, (temp) => {
          const shared = reflink(clonePlan.source, temp);
          if (!shared && !byCopyFile) return stream(temp);
          return this.#saveClone(
            temp,
            path,
            clonePlan,
            shared,
            pickle,
            storages,
            alignment,
            progress,
            written,
            keepExtra,
          );
        }, replace);
      }
    }
    return await replaceAtomically(target, stream, replace);
  }

  /** Reads the local headers of every record a save may copy, from each source archive. */
  async #resolveRecords(storages: Storage[]): Promise<void> {
    const bySource = new Map<RandomAccessSource, ZipEntry[]>([
      [this.#source, [...this.#entries.values()]],
    ]);
    for (const storage of storages) {
      const record = storage.record;
      if (record === undefined) continue;
      let entries = bySource.get(record.source);
      if (entries === undefined) bySource.set(record.source, entries = []);
      entries.push(record.entry);
    }
    for (const [source, entries] of bySource) await resolveEntries(source, entries);
  }

  /** The local files a save copies bytes from: this checkpoint's and other checkpoints' storages. */
  #fileSources(storages: Storage[]): FileSource[] {
    const sources = new Set<FileSource>();
    if (this.#source instanceof FileSource) sources.add(this.#source);
    for (const storage of storages) {
      const from = storage.record?.source;
      if (from instanceof FileSource) sources.add(from);
    }
    return [...sources];
  }

  /** The source of a record the save copies or keeps; undefined for records written anew. */
  #copiedFrom(name: string, storages: Storage[]): CopiedFrom | undefined {
    // The storages this save writes are numbered; other data/ names are extras.
    if (isStorageRecord(name)) return storages[Number(name.slice(5))]?.record;
    if (name === "data.pkl" || name === SERIALIZATION_ID || name === FILLER) return undefined;
    const entry = this.#entries.get(name);
    return entry === undefined ? undefined : { source: this.#source, entry };
  }

  async #saveStream(
    temp: string,
    path: string,
    pickle: EncodedPickle,
    storages: Storage[],
    archiveName: string,
    alignment: number,
    progress: ProgressCounter,
    written: { records?: readonly WrittenRecord[] },
    keepExtra: boolean,
  ): Promise<SaveResult> {
    // Our writer lays storages out as torch does, so computed offsets hold
    // unless a copied record is longer than its storage.
    const exact = storages.every((s) => s.record === undefined || s.record.entry.size === s.nbytes);
    const head = ["data.pkl", ...this.#leadingRecords(exact)];
    progress.total = pickle.size + this.#recordBytes(head.slice(1)) +
      storages.reduce((sum, s) => sum + (s.record?.entry.size ?? s.nbytes), 0) +
      this.#recordBytes(this.#trailingRecords(keepExtra));
    // The temporary file exists, empty and locked by replaceAtomically.
    const file = await Deno.open(temp, { write: true });
    const writeback = Writeback.open(temp);
    const copier = KernelRangeCopier.open(file, temp);
    try {
      const writer = await TorchZipWriter.create(file, {
        archiveName,
        alignment,
        onWrite: (bytes) => {
          progress.add(bytes);
          writeback?.wrote(bytes);
        },
        copier,
      });
      await writer.writeRecord("data.pkl", pickle.parts);
      for (const name of head.slice(1)) await this.#copy(writer, name);
      for (let i = 0; i < storages.length; i++) {
        const storage = storages[i];
        const name = `data/${i}`;
        if (storage.record !== undefined) {
          await writer.copyRecord(name, storage.record.source, storage.record.entry);
        } else {
          await writer.writeRecord(name, storage.loaded!.subarray(0, storage.nbytes));
        }
      }
      await this.#finishWrite(writer, progress, written, keepExtra);
      return {
        path,
        size: writer.position,
        pickleSize: pickle.size,
        storages: storages.length,
        strategy: "stream",
      };
    } finally {
      copier?.close();
      writeback?.close();
      file.close();
    }
  }

  /**
   * The records after the storages and the end records: how both strategies
   * end. replaceAtomically syncs the file.
   */
  async #finishWrite(
    writer: TorchZipWriter,
    progress: ProgressCounter,
    written: { records?: readonly WrittenRecord[] },
    keepExtra: boolean,
  ): Promise<void> {
    await this.#writeTrailing(writer, keepExtra);
    await writer.finish();
    written.records = writer.records;
    progress.finish();
  }

  async #saveClone(
    temp: string,
    path: string,
    plan: ClonePlan,
    shared: boolean,
    pickle: EncodedPickle,
    storages: Storage[],
    alignment: number,
    progress: ProgressCounter,
    written: { records?: readonly WrittenRecord[] },
    keepExtra: boolean,
  ): Promise<SaveResult> {
    const { source, kept, start, head, headInPlace } = plan;
    progress.total = source.size + pickle.size + this.#recordBytes(head.slice(1)) +
      this.#recordBytes(this.#trailingRecords(keepExtra));
    if (shared) progress.reach(source.size);
    else await kernelCopy(this.path, temp, { counter: progress, size: source.size });
    // The copy has the source's mode; like a streamed file, it must be writable.
    const { mode } = await Deno.stat(temp);
    if (mode !== null && (mode & 0o200) === 0) await Deno.chmod(temp, (mode & 0o777) | 0o200);
    const file = await Deno.open(temp, { read: true, write: true });
    try {
      if ((await file.stat()).size !== source.size) {
        throw new CheckpointError("Cannot clone checkpoint: the copy has the wrong size");
      }
      const writer = await TorchZipWriter.create(file, {
        archiveName: this.archiveName,
        alignment,
        onWrite: (bytes) => progress.add(bytes),
      });
      const writeHead = async () => {
        await writer.writeRecord("data.pkl", pickle.parts);
        for (const name of head.slice(1)) await this.#copy(writer, name);
      };
      if (headInPlace) await writeHead();
      else await writer.writeFiller(FILLER, start);
      for (const { name, entry, end } of kept) await writer.keepRecord(name, entry, end);
      if (!headInPlace) await writeHead();
      await this.#finishWrite(writer, progress, written, keepExtra);
      return {
        path,
        size: writer.position,
        pickleSize: pickle.size,
        storages: storages.length,
        strategy: "clone",
      };
    } finally {
      file.close();
    }
  }

  /**
   * Works out whether the new file can keep every storage record where the
   * source has it; returns why not otherwise.
   */
  #planClone(
    storages: Storage[],
    archiveName: string,
    pickleSize: number,
    alignment: number,
  ): ClonePlan | string {
    const source = this.#source;
    if (!(source instanceof FileSource)) return "the source is not a local file";
    if (archiveName !== this.archiveName) return "the archive folder is renamed";
    if (storages.length === 0) return "there are no storages";
    const storageEntries = new Set<ZipEntry>();
    for (let i = 0; i < storages.length; i++) {
      const record = storages[i].record;
      if (record === undefined || record.source !== source) {
        return `storage ${i} is new or comes from another file`;
      }
      if (record.entry !== this.#entries.get(`data/${i}`)) {
        return "the storages are renumbered (added, dropped or reordered)";
      }
      if (record.entry.method !== METHOD_STORED) return `storage record data/${i} is compressed`;
      storageEntries.add(record.entry);
    }
    for (const name of this.#entries.keys()) {
      if (
        isStorageRecord(name, this.#storageKeys) && !storageEntries.has(this.#entries.get(name)!)
      ) {
        return `storage record ${name} is no longer used`;
      }
    }
    // The storages must form one run of records in file order.
    const sorted = [...this.#entries].sort((a, b) =>
      a[1].localHeaderOffset - b[1].localHeaderOffset
    );
    const first = sorted.findIndex(([, entry]) => storageEntries.has(entry));
    const last = first + storages.length - 1;
    for (let k = first; k <= last; k++) {
      if (!storageEntries.has(sorted[k]?.[1])) {
        return `record ${sorted[k][0]} lies between the storage records`;
      }
    }
    const start = sorted[first][1].localHeaderOffset;
    const end = last + 1 < sorted.length
      ? sorted[last + 1][1].localHeaderOffset
      : this.directory.centralDirectoryOffset;
    const kept = sorted.slice(first, last + 1).map(([name, entry], k) => ({
      name,
      entry,
      end: first + k < last ? sorted[first + k + 1][1].localHeaderOffset : end,
    }));

    const head = [
      "data.pkl",
      ...this.#leadingRecords(this.#computedOffsetsHold(storages, alignment)),
    ];
    const prefixLength = encoder.encode(`${archiveName}/`).length;
    let headEnd = 0;
    for (const name of head) {
      const size = name === "data.pkl" ? pickleSize : this.#entries.get(name)!.size;
      headEnd =
        torchRecordLayout(headEnd, prefixLength + encoder.encode(name).length, size, alignment)
          .end;
    }
    const headInPlace = headEnd === start;
    if (!headInPlace && (start < 30 + prefixLength + FILLER.length + 4 || start >= MAX_UINT32)) {
      return "there is no room for a filler record before the storages";
    }
    const storageBytes = end - start;
    const wasted = source.size - storageBytes + (headInPlace ? 0 : start);
    return {
      source,
      kept,
      start,
      end,
      head,
      headInPlace,
      worthwhile: storageBytes >= CLONE_MIN_BYTES && wasted * 4 <= storageBytes,
    };
  }

  /**
   * Whether the storage records, left where they are, sit where loaders that
   * compute offsets (torch 2.x with `.format_version`) expect them: data/0
   * first and each next one right after, laid out as torch's writer does.
   */
  #computedOffsetsHold(storages: Storage[], alignment: number): boolean {
    let cursor = 0;
    for (let i = 0; i < storages.length; i++) {
      const entry = storages[i].record?.entry;
      const nbytes = storages[i].nbytes;
      if (entry === undefined || entry.size !== nbytes) return false;
      if (i > 0) {
        const layout = torchRecordLayout(
          cursor,
          encoder.encode(entry.name).length,
          nbytes,
          alignment,
        );
        if (entry.localHeaderOffset !== cursor || entry.dataOffset !== layout.dataOffset) {
          return false;
        }
        cursor = layout.end;
      } else {
        const zip64 = entry.localHeaderOffset >= MAX_UINT32 || nbytes >= MAX_UINT32;
        cursor = entry.dataOffset + nbytes + (nbytes > 0 ? (zip64 ? 24 : 16) : 0);
      }
    }
    return true;
  }

  /** Torch's metadata records after data.pkl that the source has. */
  #leadingRecords(keepFormatVersion: boolean): string[] {
    return LEADING_METADATA.filter((name) =>
      this.#entries.has(name) && (name !== FORMAT_VERSION || keepFormatVersion)
    );
  }

  /** Source records copied after the storages, besides the version and serialization id. */
  #trailingRecords(keepExtra: boolean): string[] {
    const names = keepExtra
      ? [...this.#entries.keys()].filter((name) => !this.#isTorchRecord(name))
      : [];
    const version = VERSION_RECORDS.find((name) => this.#entries.has(name));
    return version === undefined ? names : [version, ...names];
  }

  #recordBytes(names: string[]): number {
    return names.reduce((sum, name) => sum + (this.#entries.get(name)?.size ?? 0), 0);
  }

  async #writeTrailing(writer: TorchZipWriter, keepExtra: boolean): Promise<void> {
    const versionName = VERSION_RECORDS.find((name) => this.#entries.has(name));
    if (versionName === undefined) {
      await writer.writeRecord("version", encoder.encode("3\n"));
    } else {
      await this.#copy(writer, versionName);
    }
    if (this.#entries.has(SERIALIZATION_ID)) {
      await writer.writeRecord(SERIALIZATION_ID, serializationId(writer));
    }
    for (const [name, entry] of this.#entries) {
      if (keepExtra && !this.#isTorchRecord(name)) {
        await writer.copyRecord(name, this.#source, entry);
      }
    }
  }

  /** Whether `this.path` is still the file the source reads, unchanged in size. */
  async #stillOnDisk(source: FileSource): Promise<boolean> {
    try {
      const [open, onDisk] = await Promise.all([source.file.stat(), Deno.stat(this.path)]);
      return open.dev === onDisk.dev && open.ino === onDisk.ino && onDisk.size === source.size;
    } catch {
      return false;
    }
  }

  async #alignment(): Promise<number> {
    const text = await this.readRecordText(".storage_alignment");
    if (text === undefined) return DEFAULT_ALIGNMENT;
    const value = Number(text.trim());
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new CheckpointError(`Cannot save checkpoint: invalid .storage_alignment ${text}`);
    }
    return value;
  }

  /** Records a save writes anew or places itself, rather than copying them as extras. */
  #isTorchRecord(name: string): boolean {
    return name === "data.pkl" || isStorageRecord(name, this.#storageKeys) ||
      LEADING_METADATA.includes(name) || VERSION_RECORDS.includes(name) ||
      name === SERIALIZATION_ID || name === FILLER;
  }

  async #copy(writer: TorchZipWriter, name: string): Promise<void> {
    await writer.copyRecord(name, this.#source, this.#entries.get(name)!);
  }

  /** Closes the source file. */
  close(): void {
    this.#source.close();
  }
}

const encoder = new TextEncoder();

/** Decodes `data.pkl`, resolving storages to the records of `entries` and adding their keys to `keys`. */
function decodePickle(
  pickleBytes: Uint8Array,
  source: RandomAccessSource,
  entries: Map<string, ZipEntry>,
  keys: Set<string>,
  findGlobal: OpenOptions["findGlobal"],
): unknown {
  const hooks = torchUnpickleOptions(({ key, storageClass, dtype, location, numel }) => {
    keys.add(key);
    const entry = entries.get(`data/${key}`);
    if (entry === undefined) {
      throw new CheckpointError(`Cannot decode checkpoint: storage record data/${key} is missing`);
    }
    const needed = numel * dtype.itemsize;
    if (entry.size < needed) {
      throw new CheckpointError(
        `Cannot decode checkpoint: storage record data/${key} has ${entry.size} bytes, ${needed} needed`,
      );
    }
    return new Storage({ dtype, storageClass, location, numel, key, record: { source, entry } });
  });
  return unpickle(pickleBytes, { ...hooks, findGlobal });
}

// torch derives the id from record names and CRCs; any stable 40-digit value
// of the same form serves, since loaders only compare ids with each other.
function serializationId(writer: TorchZipWriter): Uint8Array {
  let names = 0xcbf29ce484222325n;
  let crcs = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (const record of writer.records) {
    for (const byte of new TextEncoder().encode(record.name)) {
      names = BigInt.asUintN(64, (names ^ BigInt(byte)) * prime);
    }
    crcs = BigInt.asUintN(64, (crcs ^ BigInt(record.crc32)) * prime);
  }
  const digits = names.toString().padStart(20, "0") + crcs.toString().padStart(20, "0");
  return new TextEncoder().encode(digits);
}
