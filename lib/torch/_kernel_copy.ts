// Whole-file copies the kernel makes (copy_file_range, or a clone where the
// filesystem shares extents), for the clone strategy and for backups where
// hard links fail.
import { folderOf } from "./_save_target.ts";
import type { ProgressCounter } from "./_save_progress.ts";
import { Writeback } from "./_writeback.ts";

// Progress and writeback during a copy: at 2 GB/s the disk trails the copy
// by about 100 MB, and 20 calls a second cost nothing measurable.
const TICK_MS = 50;

// Filesystems where copy_file_range shares extents instead of copying bytes.
const CLONING_FILESYSTEMS = new Set(["btrfs", "xfs", "zfs", "bcachefs", "ocfs2"]);

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
  // Where the kernel clones, nothing is left dirty to hint at.
  const writeback = await kernelClones(from, to) ? undefined : Writeback.open(to);
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

/**
 * Whether the kernel can clone `from` into the folder of `to` rather than
 * copy its bytes: both on one filesystem of a kind that clones.
 */
export async function kernelClones(from: string, to: string): Promise<boolean> {
  try {
    const [source, folder] = await Promise.all([Deno.stat(from), Deno.stat(folderOf(to))]);
    if (source.dev !== folder.dev) return false;
    if (Deno.build.os === "darwin") return true; // APFS: copyFile clones
    if (Deno.build.os !== "linux") return false;
    // The mount with the same device number tells the filesystem type.
    const dev = source.dev;
    const high = Math.floor(dev / 2 ** 32);
    const low = dev % 2 ** 32;
    const major = ((low >>> 8) & 0xfff) | (high & ~0xfff);
    const minor = (low & 0xff) | ((low >>> 12) & ~0xff);
    for (const line of (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")) {
      const fields = line.split(" ");
      if (fields[2] !== `${major}:${minor}`) continue;
      const separator = fields.indexOf("-", 6);
      if (separator > 0 && CLONING_FILESYSTEMS.has(fields[separator + 1])) return true;
    }
    return false;
  } catch {
    return false;
  }
}
