/**
 * Random-access byte sources that the zip reader works on.
 *
 * @module
 */

import { CkptkitError, fileKind, NotAFileError, ZipFormatError } from "../errors.ts";

/**
 * A read from a {@linkcode FileSource} after it was closed, typically a
 * tensor of a checkpoint closed before a save that copies it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, ClosedSourceError, type PyDict, type Tensor } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/tensors.ckpt");
 * const tensor = (ckpt.root as PyDict<string, Tensor>).getItem("base");
 * ckpt.close();
 * await assert.rejects(() => tensor.bytes(), ClosedSourceError);
 * ```
 */
export class ClosedSourceError extends CkptkitError {
  /** The file's path. */
  readonly path: string;
  /** Creates the error for the closed file at `path`. */
  constructor(path: string) {
    super(
      `Cannot read tensor data: the checkpoint file ${path} was closed; ` +
        "keep a checkpoint open until its tensors are read or saved",
    );
    this.name = "ClosedSourceError";
    this.path = path;
  }
}

/** A fixed-size byte source that can be read at any offset. */
export interface RandomAccessSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Reads exactly `length` bytes starting at `offset`.
   *
   * @throws {ZipFormatError} when the range runs past the end of the source.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: fills `buffer` with the bytes starting at `offset`, so large
   * copies can reuse one buffer instead of allocating per read.
   */
  readInto?(offset: number, buffer: Uint8Array): Promise<void>;
  /** Releases the underlying resource. */
  close(): void;
}

// Reads up to this size are synchronous: Deno's async file reads cost tens
// of microseconds per call and copy through an intermediate buffer, which
// halves the speed of copying storages. Larger reads stay async so a huge
// one does not stall the event loop for long.
const SYNC_READ_LIMIT = 64 << 20;

function checkRange(offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new ZipFormatError(`Cannot read file: invalid range at ${offset} of length ${length}`);
  }
  if (offset + length > size) {
    throw new ZipFormatError(
      `Cannot read file: range ${offset}..${
        offset + length
      } is past the end of the file (${size} bytes)`,
    );
  }
}

/**
 * A {@linkcode RandomAccessSource} over an open file. Reads are positioned
 * (seek + read loop) and serialized, so concurrent callers cannot interleave
 * their seeks.
 */
export class FileSource implements RandomAccessSource {
  #file: Deno.FsFile;
  #size: number;
  #opened: Deno.FileInfo;
  #realPath: string;
  #path: string;
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    file: Deno.FsFile,
    opened: Deno.FileInfo,
    realPath: string,
    path: string,
  ) {
    this.#file = file;
    this.#size = opened.size;
    this.#opened = opened;
    this.#realPath = realPath;
    this.#path = path;
  }

  /**
   * Opens `path` for reading. Anything but a regular file (or a symlink to
   * one) is refused before it is opened: opening a FIFO blocks until a
   * writer comes, and a device is endless or not a file at all.
   *
   * @throws {NotAFileError} when `path` is a folder, device, FIFO or socket.
   */
  static async open(path: string | URL): Promise<FileSource> {
    const before = await Deno.stat(path);
    if (!before.isFile) throw new NotAFileError("open", fileKind(before));
    const realPath = await Deno.realPath(path);
    const file = await Deno.open(path, { read: true });
    try {
      const info = await file.stat();
      // Swapped for something else between the stat and the open.
      if (!info.isFile) throw new NotAFileError("open", fileKind(info));
      return new FileSource(
        file,
        info,
        realPath,
        String(path instanceof URL ? path.pathname : path),
      );
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** Size of the file when it was opened. */
  get size(): number {
    return this.#size;
  }

  /** The file's path when it was opened, every symlink followed. */
  get realPath(): string {
    return this.#realPath;
  }

  /** What the open file was when it was opened: identity, size and times. */
  get opened(): Deno.FileInfo {
    return this.#opened;
  }

  /**
   * Why the open file is no longer what it was when opened (written to,
   * truncated or grown since), or undefined when its size and modification
   * time (to the millisecond) are unchanged. The change time is not
   * compared: linking the file (a backup) changes it, and Deno gives it to
   * the second only.
   */
  async changedSinceOpen(): Promise<string | undefined> {
    const now = await this.file.stat();
    const then = this.#opened;
    if (now.size !== then.size) return `its size changed from ${then.size} to ${now.size} bytes`;
    if (now.mtime?.getTime() !== then.mtime?.getTime()) return "it was written to";
    return undefined;
  }

  /**
   * The underlying file handle.
   *
   * @throws {ClosedSourceError} once the source is closed.
   */
  get file(): Deno.FsFile {
    if (this.#closed) throw new ClosedSourceError(this.#path);
    return this.#file;
  }

  /** Whether {@linkcode FileSource.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads exactly `length` bytes at `offset`.
   *
   * @throws {ClosedSourceError} once the source is closed.
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.#closed) throw new ClosedSourceError(this.#path);
    checkRange(offset, length, this.#size);
    const buffer = new Uint8Array(length);
    await this.readInto(offset, buffer);
    return buffer;
  }

  /**
   * Fills `buffer` with the bytes at `offset`.
   *
   * @throws {ClosedSourceError} once the source is closed.
   */
  readInto(offset: number, buffer: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedSourceError(this.#path));
    checkRange(offset, buffer.length, this.#size);
    const run = this.#queue.then(() => this.#readAt(offset, buffer));
    // Keep the queue alive after a failed read.
    this.#queue = run.catch(() => {});
    return run;
  }

  async #readAt(offset: number, buffer: Uint8Array): Promise<void> {
    const sync = buffer.length <= SYNC_READ_LIMIT;
    if (sync) this.#file.seekSync(offset, Deno.SeekMode.Start);
    else await this.#file.seek(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < buffer.length) {
      const rest = buffer.subarray(filled);
      const n = sync ? this.#file.readSync(rest) : await this.#file.read(rest);
      if (n === null) {
        throw new ZipFormatError(
          `Cannot read file: file ended after ${
            offset + filled
          } bytes while reading ${buffer.length} bytes at ${offset}`,
        );
      }
      filled += n;
    }
  }

  /** Closes the file; later reads are a {@linkcode ClosedSourceError}. Closing again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}

/** A {@linkcode RandomAccessSource} over bytes already in memory. */
export class BytesSource implements RandomAccessSource {
  #bytes: Uint8Array;

  /** Wraps `bytes` without copying them. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Number of bytes. */
  get size(): number {
    return this.#bytes.length;
  }

  /** Returns a copy of `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length, this.#bytes.length);
    return Promise.resolve(this.#bytes.slice(offset, offset + length));
  }

  /** Fills `buffer` with the bytes at `offset`. */
  readInto(offset: number, buffer: Uint8Array): Promise<void> {
    checkRange(offset, buffer.length, this.#bytes.length);
    buffer.set(this.#bytes.subarray(offset, offset + buffer.length));
    return Promise.resolve();
  }

  /** Does nothing: there is nothing to release. */
  close(): void {}
}
