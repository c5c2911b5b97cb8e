/**
 * A torch checkpoint opened without Python: the central directory and
 * `data.pkl` are read and decoded; tensor bytes stay in the file until a
 * save copies them as untouched byte ranges.
 *
 * @module
 */

import { CheckpointError } from "../errors.ts";
import { pickle } from "../pickle/pickler.ts";
import { unpickle } from "../pickle/unpickler.ts";
import type { ZipDirectory, ZipEntry } from "../zip/central_directory.ts";
import { assertTorchZip } from "../zip/detect_format.ts";
import { readEntry } from "../zip/read_entry.ts";
import { HttpSource } from "../zip/http_source.ts";
import { FileSource, type RandomAccessSource } from "../zip/source.ts";
import { DEFAULT_ALIGNMENT, TorchZipWriter } from "../zip/torch_zip_writer.ts";
import { Storage } from "./storage.ts";
import { torchPickleOptions, torchUnpickleOptions } from "./_torch_pickle.ts";

/** Options for {@linkcode Checkpoint.open}. */
export interface OpenOptions {
  /**
   * Resolves each global the pickle references (Python 3 spelling) to the
   * value to use, e.g. a redirected {@linkcode PyGlobal}. Default: the name as is.
   */
  findGlobal?: (module: string, name: string) => unknown;
}

/** Options for {@linkcode Checkpoint.save}. */
export interface SaveOptions {
  /** Folder name inside the archive; default: the one the input used. */
  archiveName?: string;
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
}

// Records torch writes besides data.pkl and data/<key>, in torch's order.
const LEADING_METADATA = [".format_version", ".storage_alignment", "byteorder"];
const VERSION_RECORDS = ["version", ".data/version"];
const SERIALIZATION_ID = ".data/serialization_id";

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
  readonly #source: RandomAccessSource;
  readonly #entries: Map<string, ZipEntry>;

  private constructor(init: {
    root: unknown;
    path: string;
    archiveName: string;
    directory: ZipDirectory;
    pickleBytes: Uint8Array;
    source: RandomAccessSource;
    entries: Map<string, ZipEntry>;
  }) {
    this.root = init.root;
    this.path = init.path;
    this.archiveName = init.archiveName;
    this.directory = init.directory;
    this.pickleBytes = init.pickleBytes;
    this.#source = init.source;
    this.#entries = init.entries;
  }

  /**
   * Opens `path`, reading only its central directory and `data.pkl`. An
   * `http://` or `https://` URL is read with range requests.
   */
  static async open(path: string, options: OpenOptions = {}): Promise<Checkpoint> {
    const source = /^https?:\/\//i.test(path)
      ? await HttpSource.open(path)
      : await FileSource.open(path);
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
    const { directory, prefix } = await assertTorchZip(source);
    const entries = new Map<string, ZipEntry>();
    for (const entry of directory.entries) entries.set(entry.name.slice(prefix.length + 1), entry);
    const pickleBytes = await readEntry(source, entries.get("data.pkl")!);
    const hooks = torchUnpickleOptions(({ key, storageClass, dtype, location, numel }) => {
      const entry = entries.get(`data/${key}`);
      if (entry === undefined) {
        throw new CheckpointError(
          `Cannot decode checkpoint: storage record data/${key} is missing`,
        );
      }
      const needed = numel * dtype.itemsize;
      if (entry.size < needed) {
        throw new CheckpointError(
          `Cannot decode checkpoint: storage record data/${key} has ${entry.size} bytes, ${needed} needed`,
        );
      }
      return new Storage({
        dtype,
        storageClass,
        location,
        numel,
        key,
        record: { source, entry },
      });
    });
    const root = unpickle(pickleBytes, { ...hooks, findGlobal: options.findGlobal });
    return new Checkpoint({
      root,
      path,
      archiveName: prefix,
      directory,
      pickleBytes,
      source,
      entries,
    });
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
    const order = new Map<Storage, string>();
    const bytes = pickle(
      this.root,
      torchPickleOptions((storage) => {
        let key = order.get(storage);
        if (key === undefined) {
          key = String(order.size);
          order.set(storage, key);
        }
        return key;
      }),
    );
    return { pickle: bytes, storages: [...order.keys()] };
  }

  /**
   * Writes the checkpoint to `path` in torch's own layout: storage records
   * are copied from the source as byte ranges, or written from memory for
   * new ones. The file is written to a temporary name in the same folder,
   * synced, then renamed over `path`.
   */
  async save(path: string, options: SaveOptions = {}): Promise<SaveResult> {
    const { pickle: pickleBytes, storages } = this.encode();
    const alignment = await this.#alignment();
    const temp = tempPathBeside(path);
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      const writer = await TorchZipWriter.create(file, {
        archiveName: options.archiveName ?? this.archiveName,
        alignment,
      });
      await writer.writeRecord("data.pkl", pickleBytes);
      for (const name of LEADING_METADATA) await this.#copyIfPresent(writer, name);
      for (let i = 0; i < storages.length; i++) {
        const storage = storages[i];
        const name = `data/${i}`;
        if (storage.record !== undefined) {
          await writer.copyRecord(name, storage.record.source, storage.record.entry);
        } else {
          await writer.writeRecord(name, storage.loaded!.subarray(0, storage.nbytes));
        }
      }
      const versionName = VERSION_RECORDS.find((name) => this.#entries.has(name));
      if (versionName === undefined) {
        await writer.writeRecord("version", new TextEncoder().encode("3\n"));
      } else {
        await this.#copyIfPresent(writer, versionName);
      }
      if (this.#entries.has(SERIALIZATION_ID)) {
        await writer.writeRecord(SERIALIZATION_ID, serializationId(writer));
      }
      for (const [name, entry] of this.#entries) {
        if (!isTorchRecord(name)) await writer.copyRecord(name, this.#source, entry);
      }
      await writer.finish();
      await file.sync();
      file.close();
      await Deno.rename(temp, path);
      return {
        path,
        size: writer.position,
        pickleSize: pickleBytes.length,
        storages: storages.length,
      };
    } catch (error) {
      try {
        file.close();
      } catch { /* already closed */ }
      await Deno.remove(temp).catch(() => {});
      throw error;
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

  async #copyIfPresent(writer: TorchZipWriter, name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (entry !== undefined) await writer.copyRecord(name, this.#source, entry);
  }

  /** Closes the source file. */
  close(): void {
    this.#source.close();
  }
}

function isTorchRecord(name: string): boolean {
  return name === "data.pkl" || name.startsWith("data/") || LEADING_METADATA.includes(name) ||
    VERSION_RECORDS.includes(name) || name === SERIALIZATION_ID;
}

function tempPathBeside(path: string): string {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const base = slash < 0 ? path : path.slice(slash + 1);
  const suffix = crypto.getRandomValues(new Uint32Array(2)).join("");
  return `${dir}/.${base}.${suffix}.ckptkit-tmp`;
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
