// The few glibc calls Deno has no API for (copy_file_range, sync_file_range,
// the FICLONE ioctl, statx on a descriptor), through FFI. Linux only, and only when the process
// may load native libraries (`--allow-ffi`, included in `-A`); elsewhere
// `libc()` is null and callers take their portable path. A symbol missing
// from an old glibc is null on its own.

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  sync_file_range: {
    parameters: ["i32", "i64", "i64", "u32"],
    result: "i32",
    optional: true,
  },
  copy_file_range: {
    parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"],
    result: "isize",
    optional: true,
  },
  statx: {
    parameters: ["i32", "buffer", "i32", "u32", "buffer"],
    result: "i32",
    optional: true,
  },
  // Variadic in C; its one integer argument is passed as a fixed one would
  // be on every Linux ABI Deno runs on.
  ioctl: { parameters: ["i32", "u64", "i64"], result: "i32" },
} as const;

/** The loaded symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** `open` flags. */
export const O_RDONLY = 0;
/** `open` flags. */
export const O_WRONLY = 1;
/** Not inherited by child processes. */
export const O_CLOEXEC = 0o2000000;
/** Refuses a symlink in the last component. */
export const O_NOFOLLOW = 0o400000;

// Probed once per process: a failed probe would fail again.
let loaded: Libc | null | undefined;

/** glibc's symbols, or null where they cannot be had (not Linux, no FFI permission). */
export function libc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (Deno.build.os !== "linux") return loaded;
  // Absolute paths only: Deno resolves a bare "libc.so.6" against the working
  // folder when an FFI deny list is given, and that folder may be an
  // untrusted model's.
  for (const path of glibcPaths()) {
    try {
      if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
      loaded = Deno.dlopen(path, SYMBOLS).symbols;
      break;
    } catch {
      // Not there, or no FFI in this runtime.
    }
  }
  return loaded;
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

/**
 * A descriptor for `path` opened by libc, or -1. `access` is the Deno
 * permission the open needs ("read" or "write"): libc does not ask Deno, so
 * a path the process may not touch is refused here.
 */
export function openDescriptor(
  lib: Libc,
  path: string,
  flags: number,
  access: "read" | "write",
): number {
  // A NUL would make libc open a shorter path than the one checked.
  if (path.includes("\0")) return -1;
  if (Deno.permissions.querySync({ name: access, path }).state !== "granted") return -1;
  return lib.open(new TextEncoder().encode(`${path}\0`), flags | O_CLOEXEC);
}

const AT_EMPTY_PATH = 0x1000;
const STATX_BASIC_STATS = 0x7ff;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const EMPTY_PATH = new Uint8Array(1);

/**
 * Whether descriptor `fd` is the regular file `info` describes (same device
 * and inode), so bytes copied through it go to or come from that file and
 * not one swapped in at its path.
 */
export function isSameFile(lib: Libc, fd: number, info: Deno.FileInfo): boolean {
  if (lib.statx === null || info.dev === null || info.ino === null) return false;
  const buffer = new Uint8Array(256);
  if (lib.statx(fd, EMPTY_PATH, AT_EMPTY_PATH, STATX_BASIC_STATS, buffer) !== 0) return false;
  const view = new DataView(buffer.buffer);
  if ((view.getUint16(28, true) & S_IFMT) !== S_IFREG) return false;
  const ino = view.getBigUint64(32, true);
  const major = BigInt(view.getUint32(136, true));
  const minor = BigInt(view.getUint32(140, true));
  // glibc's makedev(), which Deno's FileInfo.dev is.
  const dev = ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) |
    ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
  return ino === BigInt(info.ino) && dev === BigInt(info.dev);
}
