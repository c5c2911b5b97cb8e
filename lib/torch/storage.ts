/**
 * Torch storages: the flat byte buffers tensors view. A storage read from a
 * checkpoint points at its zip record and is read only when asked; a new
 * storage holds its bytes in memory.
 *
 * @module
 */

import { CheckpointError } from "../errors.ts";
import { INSPECT, inspectValue } from "../pickle/_inspect.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { resolveEntries } from "../zip/central_directory.ts";
import { METHOD_STORED } from "../zip/_format.ts";
import { readEntry } from "../zip/read_entry.ts";
import type { ZipEntry } from "../zip/central_directory.ts";
import type { RandomAccessSource } from "../zip/source.ts";
import { ORDER_SLOT } from "./_storage_order.ts";
import { type DType, dtype as lookupDtype, storageClassOf, UNTYPED_STORAGE } from "./dtype.ts";

/** Where a stored record lives: the archive it came from and its entry. */
export interface StorageRecord {
  /** The source archive. */
  readonly source: RandomAccessSource;
  /** The record's central directory entry. */
  readonly entry: ZipEntry;
}

/** A torch storage, as referenced by a persistent id `('storage', cls, key, location, numel)`. */
export class Storage {
  /** Element type declared by the storage class (uint8 for `UntypedStorage`). */
  readonly dtype: DType;
  /** The storage class the pickle names, e.g. `torch.FloatStorage`. */
  readonly storageClass: PyGlobal;
  /** Device tag, e.g. `"cpu"` or `"cuda:0"`. */
  location: string;
  /** Number of elements of `dtype` (bytes for an untyped storage). */
  readonly numel: number;
  /** The key in the source archive (`data/<key>`), for storages read from a file. */
  readonly key: string | undefined;
  readonly #record: StorageRecord | undefined;
  #data: Uint8Array | undefined;
  #orderSlot = -1;

  /** @ignore */
  [ORDER_SLOT](slot?: number): number {
    if (slot !== undefined) this.#orderSlot = slot;
    return this.#orderSlot;
  }

  /** Creates a storage; give `record` for one that lives in an archive, `data` for a new one. */
  constructor(init: {
    dtype: DType;
    storageClass: PyGlobal;
    location: string;
    numel: number;
    key?: string;
    record?: StorageRecord;
    data?: Uint8Array;
  }) {
    this.dtype = init.dtype;
    this.storageClass = init.storageClass;
    this.location = init.location;
    this.numel = init.numel;
    this.key = init.key;
    this.#record = init.record;
    this.#data = init.data;
  }

  /**
   * A new in-memory storage holding `data`, typed as `dtype`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Storage } from "./storage.ts";
   * import { dtype } from "./dtype.ts";
   * const storage = Storage.fromBytes(new Uint8Array(8), dtype("float32")!);
   * assert.equal(storage.numel, 2);
   * assert.equal(storage.storageClass.path, "torch.FloatStorage");
   * ```
   */
  static fromBytes(data: Uint8Array, type: DType, location = "cpu"): Storage {
    if (data.length % type.itemsize !== 0) {
      throw new CheckpointError(
        `Cannot create storage: ${data.length} bytes is not a multiple of ${type.name}'s ${type.itemsize}`,
      );
    }
    const legacy = storageClassOf(type);
    return new Storage({
      dtype: legacy === undefined ? lookupDtype("uint8")! : type,
      storageClass: legacy === undefined
        ? PyGlobal.of("torch.storage", UNTYPED_STORAGE)
        : PyGlobal.of("torch", legacy),
      location,
      numel: legacy === undefined ? data.length : data.length / type.itemsize,
      data,
    });
  }

  /**
   * How `console.log` and `Deno.inspect` show the storage:
   * `Storage(FloatStorage, 6 elements, cpu, data/0)` (`new` for one not read from a file).
   */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(this, "Storage", inspect, options, () => {
      const where = this.key === undefined ? "new" : `data/${this.key}`;
      const unit = this.untyped ? "bytes" : "elements";
      return `Storage(${this.storageClass.name}, ${this.numel} ${unit}, ${this.location}, ${where})`;
    }, true);
  }

  /** Size in bytes. */
  get nbytes(): number {
    return this.numel * this.dtype.itemsize;
  }

  /** True when the storage has no element type (saved with `_rebuild_tensor_v3`). */
  get untyped(): boolean {
    return this.storageClass.name === UNTYPED_STORAGE;
  }

  /** The archive record holding the bytes, for storages read from a file. */
  get record(): StorageRecord | undefined {
    return this.#record;
  }

  /** The in-memory bytes, for new storages or ones already read. */
  get loaded(): Uint8Array | undefined {
    return this.#data;
  }

  /**
   * Reads `length` bytes from byte `start` of the storage: from memory when
   * the storage is new or was read whole, else only that range of its
   * archive record (a compressed record is read whole). The result may share
   * memory with the storage.
   *
   * @throws {CheckpointError} when the range is not inside the storage.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Checkpoint, type PyDict, type Tensor } from "../../mod.ts";
   *
   * const ckpt = await Checkpoint.open("tests/fixtures/tensors.ckpt");
   * const base = (ckpt.root as PyDict<string, Tensor>).getItem("base");
   * const second = await base.storage.read(4, 4);
   * assert.deepEqual(second, (await base.bytes()).subarray(4, 8));
   * ckpt.close();
   * ```
   */
  async read(start: number, length: number): Promise<Uint8Array> {
    if (
      !Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 ||
      start + length > this.nbytes
    ) {
      throw new CheckpointError(
        `Cannot read storage: bytes ${start}..${start + length} are not inside its ${this.nbytes}`,
      );
    }
    if (this.#data !== undefined) return this.#data.subarray(start, start + length);
    const { source, entry } = this.#record!;
    if (entry.method !== METHOD_STORED) return (await this.bytes()).subarray(start, start + length);
    if (length === 0) return new Uint8Array(0);
    await resolveEntries(source, [entry]);
    return await source.read(entry.dataOffset + start, length);
  }

  /** Reads the storage's bytes (from the archive on first use). */
  async bytes(): Promise<Uint8Array> {
    if (this.#data === undefined) {
      const record = this.#record!;
      const data = await readEntry(record.source, record.entry);
      this.#data = data.subarray(0, this.nbytes);
    }
    return this.#data;
  }
}
