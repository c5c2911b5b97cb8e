// Early writeback of a file being written, so the sync that ends a save
// finds little left to do. Below the kernel's dirty-page threshold (10% of
// RAM by default) nothing reaches the disk until that sync, so a copy then
// takes copy time plus disk time; asking the kernel to start writing each
// window as soon as it is filled overlaps the two.
//
// Linux only, through libc's sync_file_range (see lib/_libc.ts). Elsewhere
// saves behave as before. The hint changes no data and promises no durability:
// the sync before the rename stays.

import { type Libc, libc, O_RDONLY, openDescriptor } from "../_libc.ts";

/** Bytes written between two writeback requests. */
export const WRITEBACK_WINDOW = 16 << 20;

const SYNC_FILE_RANGE_WRITE = 2;

// Blocking calls, on purpose: when the disk queue is full the copy waits,
// which bounds the dirty memory; nonblocking ones would park a thread per
// window on a slow disk (measured: no faster, no less memory).

/** Starts the disk writes of a file's dirty pages every {@linkcode WRITEBACK_WINDOW} bytes. */
export class Writeback {
  #libc: Libc;
  #sync: NonNullable<Libc["sync_file_range"]>;
  #fd: number;
  #pending = 0;

  private constructor(lib: Libc, sync: NonNullable<Libc["sync_file_range"]>, fd: number) {
    this.#libc = lib;
    this.#sync = sync;
    this.#fd = fd;
  }

  /** A writeback for the file at `path`, or `undefined` where the system cannot give one. */
  static open(path: string): Writeback | undefined {
    const lib = libc();
    if (lib === null || lib.sync_file_range === null) return undefined;
    const fd = openDescriptor(lib, path, O_RDONLY, "write");
    return fd < 0 ? undefined : new Writeback(lib, lib.sync_file_range, fd);
  }

  /** Counts `bytes` written; a full window starts the writeback of the file's dirty pages. */
  wrote(bytes: number): void {
    this.#pending += bytes;
    if (this.#pending >= WRITEBACK_WINDOW) this.start();
  }

  /** Starts the writeback of the file's dirty pages now. */
  start(): void {
    if (this.#fd < 0) return;
    this.#pending = 0;
    // The whole file (length 0 = to the end): pages already on their way
    // are skipped, and seeks between writes need no bookkeeping. A failure
    // only loses the hint.
    this.#sync(this.#fd, 0n, 0n, SYNC_FILE_RANGE_WRITE);
  }

  /** Releases the descriptor; later writes are not hinted. */
  close(): void {
    if (this.#fd < 0) return;
    this.#libc.close(this.#fd);
    this.#fd = -1;
  }
}
