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

/** How long one request may take, its body included, unless told otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;

interface Range {
  start: number;
  end: number;
  total: number;
}

function parseContentRange(header: string | null): Range | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header ?? "");
  return match === null
    ? undefined
    : { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) };
}

/**
 * One range request, done within `timeoutMs`: its status, its
 * Content-Range, and for a 206 its body, of which at most `most` bytes are
 * read (a longer one is refused, never buffered).
 */
async function request(
  url: string,
  range: string,
  most: number,
  timeoutMs: number,
): Promise<{ status: number; range: Range | undefined; body: Uint8Array | undefined }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, {
      headers: { range, "accept-encoding": "identity" },
      signal: controller.signal,
    });
    const parsed = parseContentRange(response.headers.get("content-range"));
    if (response.status !== 206) {
      await response.body?.cancel();
      return { status: response.status, range: parsed, body: undefined };
    }
    const declared = Number(response.headers.get("content-length") ?? NaN);
    if (declared > most) {
      await response.body?.cancel();
      throw new RemoteError(
        `Cannot read remote file: the server would send ${declared} bytes where ${most} were asked for`,
      );
    }
    return { status: 206, range: parsed, body: await readAtMost(response, most) };
  } catch (error) {
    if (error instanceof RemoteError) throw error;
    if (controller.signal.aborted) {
      throw new RemoteError(
        `Cannot read remote file: no complete answer within ${timeoutMs / 1000} s (see --timeout)`,
      );
    }
    throw new RemoteError(`Cannot read remote file: ${(error as Error).message.split("\n")[0]}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The body of `response`, refused as soon as it runs past `most` bytes. */
async function readAtMost(response: Response, most: number): Promise<Uint8Array> {
  const out = new Uint8Array(most);
  let filled = 0;
  const reader = response.body?.getReader();
  if (reader === undefined) return out.subarray(0, 0);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return out.subarray(0, filled);
      if (filled + value.length > most) {
        throw new RemoteError(
          `Cannot read remote file: the server sent more than the ${most} bytes asked for`,
        );
      }
      out.set(value, filled);
      filled += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
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
  #timeoutMs = DEFAULT_TIMEOUT_MS;

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
   * Opens `url`, fetching its last 64 KiB to learn its size. Each request,
   * its body included, must end within `timeoutMs` (default 30 s), and no
   * more body is read than was asked for.
   *
   * @throws {RemoteError} when the server fails, does not support range
   * requests, sends more or other than asked, or is too slow.
   */
  static async open(url: string, options: { timeoutMs?: number } = {}): Promise<HttpSource> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { status, range, body } = await request(url, `bytes=-${TAIL_SIZE}`, TAIL_SIZE, timeoutMs);
    if (status === 200) {
      throw new RemoteError(
        "Cannot read remote file: the server ignores HTTP range requests (it would send the whole file)",
      );
    }
    if (status === 416) throw new ZipFormatError("Cannot read checkpoint: file is empty");
    if (status !== 206 || range === undefined) {
      throw new RemoteError(`Cannot read remote file: HTTP ${status}`);
    }
    if (range.start + body!.length !== range.total || range.end !== range.total - 1) {
      throw new RemoteError("Cannot read remote file: the server sent another range than asked");
    }
    const source = new HttpSource(url, range.total, body!);
    source.#timeoutMs = timeoutMs;
    return source;
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
    const { status, range, body } = await request(
      this.#url,
      `bytes=${offset}-${offset + length - 1}`,
      length,
      this.#timeoutMs,
    );
    this.#requests++;
    if (status !== 206 || range?.start !== offset || range.end !== offset + length - 1) {
      throw new RemoteError(`Cannot read remote file: HTTP ${status} for a range request`);
    }
    this.#bytesFetched += body!.length;
    this.#account(body!.length);
    if (body!.length !== length) {
      throw new RemoteError(
        `Cannot read remote file: asked for ${length} bytes, got ${body!.length}`,
      );
    }
    return body!;
  }

  /** Nothing to release: every request is complete when read returns. */
  close(): void {}
}
