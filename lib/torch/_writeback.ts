// Early writeback of a file being written, so the sync that ends a save
// finds little left to do. Below the kernel's dirty-page threshold (10% of
// RAM by default) nothing reaches the disk until that sync, so a copy then
// takes copy time plus disk time; asking the kernel to start writing each
// window as soon as it is filled overlaps the two.
//
// Linux only, through libc's sync_file_range, and only when the process may
// load native libraries (`--allow-ffi`, included in `-A`). Elsewhere saves
// behave as before. The hint changes no data and promises no durability:
// the sync before the rename stays.

/** Bytes written between two writeback requests. */
export const WRITEBACK_WINDOW = 16 << 20;

const O_RDONLY_CLOEXEC = 0o2000000;
const SYNC_FILE_RANGE_WRITE = 2;

// Blocking calls, on purpose: when the disk queue is full the copy waits,
// which bounds the dirty memory; nonblocking ones would park a thread per
// window on a slow disk (measured: no faster, no less memory).
const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  sync_file_range: { parameters: ["i32", "i64", "i64", "u32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// Loaded once; `null` when unavailable.
let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return libc;
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    // No glibc (or no FFI in this runtime): saves still sync at the end.
  }
  return libc;
}

/** Starts the disk writes of a file's dirty pages every {@linkcode WRITEBACK_WINDOW} bytes. */
export class Writeback {
  #libc: Libc;
  #fd: number;
  #pending = 0;

  private constructor(lib: Libc, fd: number) {
    this.#libc = lib;
    this.#fd = fd;
  }

  /** A writeback for the file at `path`, or `undefined` where the system cannot give one. */
  static open(path: string): Writeback | undefined {
    const lib = loadLibc();
    // A NUL would make libc open a shorter path than the one written.
    if (lib === null || path.includes("\0")) return undefined;
    const fd = lib.open(new TextEncoder().encode(`${path}\0`), O_RDONLY_CLOEXEC);
    return fd < 0 ? undefined : new Writeback(lib, fd);
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
    this.#libc.sync_file_range(this.#fd, 0n, 0n, SYNC_FILE_RANGE_WRITE);
  }

  /** Releases the descriptor; later writes are not hinted. */
  close(): void {
    if (this.#fd < 0) return;
    this.#libc.close(this.#fd);
    this.#fd = -1;
  }
}
