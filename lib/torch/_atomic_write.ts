// Replacing a file so that no failure, signal or crash loses the original:
// write a locked temporary file beside it, sync, check, rename, sync the folder.
import { CheckpointError } from "../errors.ts";

/** A temporary file's name ends with this; see {@linkcode tempPathBeside}. */
export const TEMP_SUFFIX = ".ckptkit-tmp";

/** What {@linkcode replaceAtomically} runs before the rename. */
export interface ReplaceOptions {
  /** Checks the synced temporary file; throwing keeps the original in place. */
  check?: (temp: string) => Promise<void>;
}

/**
 * Runs `write(temp)` for a new, empty temporary file beside `path` (`write`
 * fills it), syncs it, runs `options.check`, renames the result over
 * `path` and syncs the folder. On any failure or SIGINT/SIGTERM the temporary file
 * is removed and `path` is untouched; failures are rethrown as one-line
 * {@linkcode CheckpointError}s saying so.
 *
 * The temporary file is locked while it exists, so a later save of the same
 * path can tell an abandoned one (left by a SIGKILL or power loss) from one
 * being written, and removes it.
 *
 * A symlink at `path` stays: the file it names is replaced, as writing
 * through the link would. A replaced file keeps its permissions (and its
 * owner, where the process may set it).
 */
export async function replaceAtomically<T>(
  target: string,
  write: (temp: string) => Promise<T>,
  options: ReplaceOptions = {},
): Promise<T> {
  const path = await Deno.realPath(target).catch(() => target);
  await removeStaleTemps(path);
  const original = await Deno.lstat(path).catch(() => undefined);
  const existed = original !== undefined;
  const temp = tempPathBeside(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, createNew: true });
  } catch (error) {
    throw saveError(error, existed);
  }
  const release = onInterrupt(() => {
    try {
      Deno.removeSync(temp);
    } catch { /* already gone */ }
    return path;
  });
  try {
    await file.lock(true);
    const result = await write(temp);
    if (original !== undefined) await keepAccess(temp, original);
    // One after the other: checking while the sync ran hid the check's
    // 50 ms but raised the peak memory of a 2 GB save by up to 25 MiB.
    await file.sync();
    await options.check?.(temp);
    await Deno.rename(temp, path);
    await syncFolder(path);
    return result;
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw saveError(error, existed);
  } finally {
    release();
    file.close();
  }
}

/** Gives `temp` the permissions and owner of the file it replaces. */
async function keepAccess(temp: string, original: Deno.FileInfo): Promise<void> {
  if (Deno.build.os === "windows" || original.mode === null) return;
  if (original.uid !== null && original.gid !== null) {
    // Only root may give a file away; others keep what they created.
    await Deno.chown(temp, original.uid, original.gid).catch(() => {});
  }
  // After chown, which clears set-id bits.
  await Deno.chmod(temp, original.mode & 0o7777);
}

/** A hidden, unique name beside `path`: `.{name}.{random}.ckptkit-tmp`. */
export function tempPathBeside(path: string): string {
  const suffix = crypto.getRandomValues(new Uint32Array(2)).join("");
  return `${folderOf(path)}/.${baseName(path)}.${suffix}${TEMP_SUFFIX}`;
}

/**
 * Removes the temporary files an interrupted save of `path` left beside it
 * (`.{name}.*.ckptkit-tmp`) that no process holds locked; returns their paths.
 * A folder that cannot be listed is left alone.
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const folder = folderOf(path);
  const prefix = `.${baseName(path)}.`;
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      const name = entry.name;
      if (!entry.isFile || !name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
      if (!/^\d+$/.test(name.slice(prefix.length, -TEMP_SUFFIX.length))) continue;
      const stale = `${folder}/${name}`;
      let file: Deno.FsFile;
      try {
        file = await Deno.open(stale, { read: true });
      } catch {
        continue;
      }
      try {
        if (await file.tryLock(true)) {
          await Deno.remove(stale);
          removed.push(stale);
        }
      } catch {
        // Not ours to remove (permissions, or gone already).
      } finally {
        file.close();
      }
    }
  } catch {
    // An unlistable folder: the save itself reports what is wrong.
  }
  return removed;
}

/** Syncs the folder holding `path`, so a rename or link in it survives a crash. */
export async function syncFolder(path: string): Promise<void> {
  let folder: Deno.FsFile;
  try {
    folder = await Deno.open(folderOf(path), { read: true });
  } catch {
    return; // Windows cannot open folders; its renames are journaled.
  }
  try {
    await folder.sync();
  } catch {
    // Some filesystems refuse fsync on a folder; the rename still happened.
  } finally {
    folder.close();
  }
}

// Cleanups to run when SIGINT or SIGTERM arrives during a write; each returns
// the path of the file it protects, for the message.
const cleanups = new Set<() => string | undefined>();
const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];
const handlers = new Map<Deno.Signal, () => void>();

/**
 * Registers `cleanup` to run synchronously if SIGINT or SIGTERM arrives
 * before the returned function is called. While any is registered, such a
 * signal runs every cleanup (newest first), prints one line and exits with
 * 130 (SIGINT) or 143 (SIGTERM), as the shell reports a killed process.
 */
export function onInterrupt(cleanup: () => string | undefined): () => void {
  cleanups.add(cleanup);
  if (cleanups.size === 1) listen();
  return () => {
    if (cleanups.delete(cleanup) && cleanups.size === 0) unlisten();
  };
}

function listen(): void {
  for (const signal of SIGNALS) {
    const handler = () => interrupted(signal);
    try {
      Deno.addSignalListener(signal, handler);
      handlers.set(signal, handler);
    } catch {
      // Not supported here (SIGTERM on Windows).
    }
  }
}

function unlisten(): void {
  for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  handlers.clear();
}

function interrupted(signal: Deno.Signal): never {
  const names = new Set<string>();
  for (const cleanup of [...cleanups].reverse()) {
    try {
      const name = cleanup();
      if (name !== undefined) names.add(name);
    } catch {
      // Keep cleaning up the others.
    }
  }
  const which = names.size === 0 ? "" : `${[...names].join(", ")}: `;
  const originals = names.size > 1 ? "the originals are" : "the original is";
  console.error(`ckptkit: ${which}Cannot save: interrupted by ${signal}; ${originals} unchanged`);
  Deno.exit(signal === "SIGINT" ? 130 : 143);
}

/** One line for a failed save, saying what became of the target. */
export function saveError(error: unknown, existed: boolean): Error {
  const outcome = existed ? "the original is unchanged" : "nothing was written";
  return new CheckpointError(`Cannot save: ${reason(error)}; ${outcome}`, { cause: error });
}

/** The system's reason for `error`, without the call and path Deno adds. */
export function reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or folder";
  if (error instanceof CheckpointError) {
    return error.message.replace(/^Cannot [a-z ]+: /, "");
  }
  const message = error instanceof Error ? error.message : String(error);
  // Deno: "No space left on device (os error 28): write '/path'".
  const os = /^(.*?) \(os error \d+\)/.exec(message);
  const text = (os ? os[1] : message.split("\n")[0]).trim();
  return text.length === 0 ? "unknown error" : text[0].toLowerCase() + text.slice(1);
}

/** The folder holding `path` (`.` for a bare name). */
export function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : path.slice(0, slash) || "/";
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
