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

// Probed once per process: a failed probe would fail again.
let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  // Absolute paths only: Deno resolves a bare "libc.so.6" against the working
  // folder when an FFI deny list is given, and that folder may be an
  // untrusted model's.
  for (const path of glibcPaths()) {
    try {
      if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
      libc = Deno.dlopen(path, SYMBOLS).symbols;
      break;
    } catch {
      // Not there, or no FFI in this runtime: saves still sync at the end.
    }
  }
  return libc;
}

/** Where glibc is: the one mapped into this process, then the usual system places. */
function glibcPaths(): string[] {
  const multiarch = `${Deno.build.arch}-linux-gnu`;
  const paths = [
    `/lib/${multiarch}`,
    `/usr/lib/${multiarch}`,
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
  ]
    .map((folder) => `${folder}/libc.so.6`);
  const mapped = mappedGlibc();
  return mapped === undefined ? paths : [mapped, ...paths];
}

/** The glibc file in /proc/self/maps, which Deno lets only -A read. */
function mappedGlibc(): string | undefined {
  const maps = "/proc/self/maps";
  // Queried first: a read without the right would prompt on a terminal.
  if (Deno.permissions.querySync({ name: "read", path: maps }).state !== "granted") {
    return undefined;
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(maps);
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const path = line.slice(Math.max(line.indexOf("/"), 0));
    if (/^\/.*\/libc(?:\.so\.6|-[0-9.]+\.so)$/.test(path)) return path;
  }
  return undefined;
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
