// Whole files copied by the kernel: shared blocks (a reflink) where the
// filesystem has them, else copy_file_range, for the clone strategy and for
// backups where hard links fail.
import { isSameFile, libc, O_NOFOLLOW, O_RDONLY, O_WRONLY, openDescriptor } from "../_libc.ts";
import type { FileSource } from "../zip/source.ts";
import { folderOf } from "./_save_target.ts";
import type { ProgressCounter } from "./_save_progress.ts";
import { Writeback } from "./_writeback.ts";

// Progress and writeback during a copy: at 2 GB/s the disk trails the copy
// by about 100 MB, and 20 calls a second cost nothing measurable.
const TICK_MS = 50;

/**
 * `Deno.copyFile`, starting the writeback of what it has copied (see
 * Writeback) and, given `progress`, reporting the growing size of the copy
 * while the kernel works.
 */
export async function kernelCopy(
  from: string,
  to: string,
  progress?: { counter: ProgressCounter; size: number },
): Promise<void> {
  const writeback = Writeback.open(to);
  const counter = progress?.counter.active ? progress.counter : undefined;
  if (counter === undefined && writeback === undefined) return await Deno.copyFile(from, to);
  const size = progress?.size ?? 0;
  let copying = true;
  const timer = setInterval(() => {
    writeback?.start();
    if (counter === undefined) return;
    Deno.stat(to).then(
      (info) => copying && counter.reach(Math.min(info.size, size)),
      () => {},
    );
  }, TICK_MS);
  try {
    await Deno.copyFile(from, to);
  } finally {
    copying = false;
    clearInterval(timer);
    writeback?.close();
  }
  counter?.reach(size);
}

const FICLONE = 0x40049409n;

/**
 * Makes the empty file at `to` share every block of `source` (the FICLONE
 * ioctl), where the filesystem can (XFS, btrfs, bcachefs, OCFS2 on Linux):
 * answers whether it did. The kernel's answer decides, not the
 * filesystem's name; elsewhere it is false and `to` is left empty.
 */
export function reflink(source: FileSource, to: string): boolean {
  const lib = libc();
  if (lib === null) return false;
  const target = openDescriptor(lib, to, O_WRONLY | O_NOFOLLOW, "write");
  if (target < 0) return false;
  try {
    const from = openDescriptor(lib, source.realPath, O_RDONLY | O_NOFOLLOW, "read");
    if (from < 0) return false;
    try {
      // The file that was read, not one renamed over its path since.
      return isSameFile(lib, from, source.opened) && lib.ioctl(target, FICLONE, BigInt(from)) === 0;
    } finally {
      lib.close(from);
    }
  } finally {
    lib.close(target);
  }
}

/**
 * Whether `Deno.copyFile` clones `from` into the folder of `to` on macOS,
 * where FFI is not used: both on one volume (APFS clones).
 */
export async function clonesOnDarwin(from: string, to: string): Promise<boolean> {
  if (Deno.build.os !== "darwin") return false;
  try {
    const [source, folder] = await Promise.all([Deno.stat(from), Deno.stat(folderOf(to))]);
    return source.dev === folder.dev;
  } catch {
    return false;
  }
}
