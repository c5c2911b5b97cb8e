// Where a save to a path writes, resolved as the kernel resolves it: the
// file a symlink names (a dangling one too), `..` taken after the links
// before it, and refusing anything that is not a regular file.
import { CheckpointError, fileKind, NotAFileError } from "../errors.ts";

/** The file a save replaces or creates. */
export interface SaveTarget {
  /** The file written: every symlink followed, in a real folder. */
  path: string;
  /** The regular file there now, or undefined when the save creates it. */
  existing: Deno.FileInfo | undefined;
}

// As the kernel's own limit on symlinks in one lookup (ELOOP).
const MAX_LINKS = 40;

/**
 * Resolves `given` to the file a save writes. A symlink stays: the file it
 * names is written, even when that file does not exist yet. Throws
 * {@linkcode NotAFileError} when the path names a folder, device, FIFO or
 * socket, and {@linkcode CheckpointError} when its folder does not exist or
 * the links loop.
 */
export async function resolveSaveTarget(given: string): Promise<SaveTarget> {
  let current = given;
  for (let hops = 0; hops <= MAX_LINKS; hops++) {
    const name = baseName(current);
    if (name === "" || name === "." || name === "..") {
      throw new NotAFileError("save", "a folder");
    }
    // The folder as the kernel reaches it: `x/..` with x a symlink is the
    // parent of x's target, not the folder holding x.
    let folder: string;
    try {
      folder = await Deno.realPath(folderOf(current));
    } catch (error) {
      throw new CheckpointError(`Cannot save: its folder ${folderOf(current)} ${missing(error)}`, {
        cause: error,
      });
    }
    const path = folder === "/" ? `/${name}` : `${folder}/${name}`;
    const info = await Deno.lstat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (info?.isSymlink) {
      const link = await Deno.readLink(path);
      current = link.startsWith("/") ? link : `${folder}/${link}`;
      continue;
    }
    if (info !== undefined && !info.isFile) throw new NotAFileError("save", fileKind(info));
    return { path, existing: info };
  }
  throw new CheckpointError("Cannot save: too many levels of symbolic links");
}

/** Whether two file infos describe the same file (device and inode). */
export function sameFile(a: Deno.FileInfo | undefined, b: Deno.FileInfo | undefined): boolean {
  return a !== undefined && b !== undefined && a.ino !== null && a.ino === b.ino &&
    a.dev === b.dev;
}

function missing(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "does not exist";
  if (error instanceof Deno.errors.NotADirectory) return "is not a folder";
  if (error instanceof Deno.errors.PermissionDenied) return "cannot be reached (permission denied)";
  return `cannot be reached (${(error as Error).message.split(" (os error")[0]})`;
}

/** The folder holding `path` (`.` for a bare name). */
export function folderOf(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const slash = trimmed.lastIndexOf("/");
  return slash < 0 ? "." : trimmed.slice(0, slash) || "/";
}

/** The last component of `path` ("" for a path ending in a slash). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
