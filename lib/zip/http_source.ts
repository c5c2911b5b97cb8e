/**
 * A {@linkcode RandomAccessSource} over HTTP(S) that reads with range
 * requests only, so inspecting a remote checkpoint fetches its end records,
 * central directory, local headers and `data.pkl`, not its tensors.
 *
 * @module
 */

import { RemoteError, ZipFormatError } from "../errors.ts";
import type { RandomAccessSource } from "./source.ts";

// The first request fetches this much of the end of the file: the end
// records and, for most checkpoints, the whole central directory.
const TAIL_SIZE = 64 << 10;

function parseContentRange(header: string | null): { start: number; total: number } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header ?? "");
  return match === null ? undefined : { start: Number(match[1]), total: Number(match[3]) };
}

/** What one process fetched from one URL, over all its sources. */
export interface RemoteUsage {
  /** The URL. */
  url: string;
  /** Size of the remote file in bytes. */
  size: number;
  /** Body bytes received. */
  bytesFetched: number;
  /** Range requests made. */
  requests: number;
}

const usage = new Map<string, RemoteUsage>();

/** Reads a remote file with HTTP range requests; counts the bytes it fetched. */
export class HttpSource implements RandomAccessSource {
  readonly #url: string;
  readonly #size: number;
  readonly #tail: Uint8Array;
  readonly #tailStart: number;
  #bytesFetched: number;
  #requests: number;

  private constructor(url: string, size: number, tail: Uint8Array) {
    this.#url = url;
    this.#size = size;
    this.#tail = tail;
    this.#tailStart = size - tail.length;
    this.#bytesFetched = tail.length;
    this.#requests = 1;
    this.#account(tail.length);
  }

  /** What this process fetched from each URL so far, across every source opened on it. */
  static usage(): RemoteUsage[] {
    return [...usage.values()].map((entry) => ({ ...entry }));
  }

  #account(bytes: number): void {
    const entry = usage.get(this.#url) ??
      { url: this.#url, size: this.#size, bytesFetched: 0, requests: 0 };
    entry.bytesFetched += bytes;
    entry.requests++;
    usage.set(this.#url, entry);
  }

  /**
   * Opens `url`, fetching its last 64 KiB to learn its size.
   *
   * @throws {RemoteError} when the server fails or does not support range requests.
   */
  static async open(url: string): Promise<HttpSource> {
    const response = await HttpSource.#fetch(url, `bytes=-${TAIL_SIZE}`);
    if (response.status === 200) {
      await response.body?.cancel();
      throw new RemoteError(
        "Cannot read remote file: the server ignores HTTP range requests (it would send the whole file)",
      );
    }
    if (response.status === 416) {
      await response.body?.cancel();
      throw new ZipFormatError("Cannot read checkpoint: file is empty");
    }
    const range = parseContentRange(response.headers.get("content-range"));
    if (response.status !== 206 || range === undefined) {
      await response.body?.cancel();
      throw new RemoteError(
        `Cannot read remote file: HTTP ${response.status} ${response.statusText}`,
      );
    }
    const tail = new Uint8Array(await response.arrayBuffer());
    if (range.start + tail.length !== range.total) {
      throw new RemoteError("Cannot read remote file: the server sent a short range");
    }
    return new HttpSource(url, range.total, tail);
  }

  static async #fetch(url: string, range: string): Promise<Response> {
    try {
      return await fetch(url, { headers: { range, "accept-encoding": "identity" } });
    } catch (error) {
      throw new RemoteError(`Cannot read remote file: ${(error as Error).message}`);
    }
  }

  /** Total size in bytes. */
  get size(): number {
    return this.#size;
  }

  /** Bytes received from the server so far. */
  get bytesFetched(): number {
    return this.#bytesFetched;
  }

  /** Range requests made so far. */
  get requests(): number {
    return this.#requests;
  }

  /** Reads exactly `length` bytes at `offset`, from the cached tail or with one range request. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.#size) {
      throw new ZipFormatError(
        `Cannot read file: range ${offset}..${
          offset + length
        } is past the end of the file (${this.#size} bytes)`,
      );
    }
    if (length === 0) return new Uint8Array(0);
    if (offset >= this.#tailStart) {
      return this.#tail.subarray(offset - this.#tailStart, offset - this.#tailStart + length);
    }
    const response = await HttpSource.#fetch(this.#url, `bytes=${offset}-${offset + length - 1}`);
    this.#requests++;
    const range = parseContentRange(response.headers.get("content-range"));
    if (response.status !== 206 || range?.start !== offset) {
      await response.body?.cancel();
      throw new RemoteError(`Cannot read remote file: HTTP ${response.status} for a range request`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    this.#bytesFetched += bytes.length;
    this.#account(bytes.length);
    if (bytes.length !== length) {
      throw new RemoteError(
        `Cannot read remote file: asked for ${length} bytes, got ${bytes.length}`,
      );
    }
    return bytes;
  }

  /** Nothing to release: every request is complete when read returns. */
  close(): void {}
}
