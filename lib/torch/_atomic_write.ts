// Replacing a file so that no failure, signal, crash or concurrent writer
// loses a checkpoint: write a locked temporary file beside it, check, sync,
// make sure the target is still the file the save started from (and its
// sources unchanged), rename, sync the folder.
import { CheckpointError, CkptkitError } from "../errors.ts";
import type { FileSource } from "../zip/source.ts";
import { lockFile } from "./file_lock.ts";
import {
  baseName,
  folderOf,
  resolveSaveTarget,
  sameFile,
  type SaveTarget,
} from "./_save_target.ts";

/** A temporary file's name ends with this; see {@linkcode createHidden}. */
export const TEMP_SUFFIX = ".ckptkit-tmp";

/** What {@linkcode replaceAtomically} runs and checks before the rename. */
export interface ReplaceOptions {
  /** Checks the written temporary file; throwing keeps the original in place. */
  check?: (temp: string) => Promise<void>;
  /**
   * The files the write copies bytes from: each must be unchanged when the
   * write is done, or the copies may mix old and new bytes.
   */
  sources?: readonly FileSource[];
  /** How long to wait for another process's lock on an existing target (default 10 s). */
  lockTimeoutMs?: number;
  /**
   * The file the target must be, for a save in place: it was read, so a
   * target replaced by another process since is refused, not overwritten
   * with what was read before.
   */
  expected?: Deno.FileInfo;
}

/**
 * Runs `write(temp)` for a new, empty temporary file beside the target
 * (`write` fills it), runs `options.check`, syncs it, then puts it in the
 * target's place and syncs the folder. The target is the file `given`
 * names (see {@linkcode resolveSaveTarget}: a symlink stays, anything but a
 * regular file is refused). An existing target is locked meanwhile (see
 * {@linkcode lockFile}), and is replaced only if it is still the file that
 * was locked and every source is unchanged; a new one is created only if
 * nothing appeared there meanwhile. On any failure or SIGINT/SIGTERM/SIGHUP
 * the temporary file is removed and the target is untouched; failures are
 * rethrown as one-line {@linkcode CheckpointError}s saying so.
 *
 * The temporary file is locked while it exists, so a later save of the same
 * path can tell an abandoned one (left by a SIGKILL or power loss) from one
 * being written, and removes it. A replaced file keeps its permissions (and
 * its owner, where the process may set it).
 */
export async function replaceAtomically<T>(
  given: string | SaveTarget,
  write: (temp: string, target: SaveTarget) => Promise<T>,
  options: ReplaceOptions = {},
): Promise<T> {
  let target: SaveTarget;
  try {
    target = typeof given === "string" ? await resolveSaveTarget(given) : given;
  } catch (error) {
    throw saveError(error, false);
  }
  const existed = target.existing !== undefined;
  // Another process rewriting the same file (a migrate) finishes first.
  const lock = existed
    ? await lockFile(target.path, { timeoutMs: options.lockTimeoutMs, action: "save" })
      .catch((error) => {
        throw saveError(error, true);
      })
    : undefined;
  try {
    if (lock !== undefined) target = { path: target.path, existing: lock.info };
    if (options.expected !== undefined && !sameFile(target.existing, options.expected)) {
      throw new CheckpointError(
        "Cannot save: the file was replaced since the checkpoint was read from it; " +
          "the file there is kept, nothing was written",
      );
    }
    return await replaceLocked(target, write, options);
  } finally {
    lock?.release();
  }
}

async function replaceLocked<T>(
  target: SaveTarget,
  write: (temp: string, target: SaveTarget) => Promise<T>,
  options: ReplaceOptions,
): Promise<T> {
  const { path, existing } = target;
  const existed = existing !== undefined;
  await removeStaleTemps(path);
  let temp: string;
  let file: Deno.FsFile;
  try {
    ({ path: temp, file } = await createHidden(path, TEMP_SUFFIX));
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
    const result = await write(temp, target);
    if (existing !== undefined) await keepAccess(temp, existing);
    // The check reads the page cache, synced or not; run first, it lets the
    // disk drain the writeback started during the copy meanwhile, so the
    // sync waits that much less (checking during the sync raised the peak
    // memory of a 2 GB save by up to 25 MiB).
    await options.check?.(temp);
    await file.sync();
    for (const source of options.sources ?? []) {
      const change = await source.changedSinceOpen();
      if (change !== undefined) {
        throw new CheckpointError(
          `Cannot save: a file it copies from changed while it was copied (${change})`,
        );
      }
    }
    await putInPlace(temp, target);
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

/**
 * Renames `temp` over the target if it is still the file the save started
 * from; links it there if the target is new and still absent, so a file
 * another process created meanwhile is never replaced.
 */
async function putInPlace(temp: string, target: SaveTarget): Promise<void> {
  const { path, existing } = target;
  const now = await Deno.lstat(path).catch(() => undefined);
  if (existing !== undefined) {
    if (!sameFile(now, existing)) {
      throw new ReplacedError(now === undefined ? "removed" : "replaced");
    }
    await Deno.rename(temp, path);
    return;
  }
  if (now !== undefined) throw new ReplacedError("created");
  try {
    await Deno.link(temp, path);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) throw new ReplacedError("created");
    // No hard links here (FAT, some network mounts): the check above stands.
    await Deno.rename(temp, path);
    return;
  }
  await Deno.remove(temp);
}

/** The target changed under a save: what is there now is kept. */
class ReplacedError extends CheckpointError {
  constructor(how: "replaced" | "removed" | "created") {
    super(
      how === "created"
        ? "Cannot save: another process created the file while it was written; it is kept"
        : `Cannot save: another process ${how} the file while it was written`,
    );
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

// Hidden files beside a checkpoint are `.{name}.{12 hex}{suffix}`, or, when
// that is longer than the folder allows, `.ckptkit-{8 hex of name}.{12 hex}{suffix}`:
// any name the filesystem accepts gets a hidden file it accepts too.
const RANDOM_DIGITS = 12;

function nameHash(name: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** The prefixes of the hidden files that belong to `path`, long form first. */
function hiddenPrefixes(path: string): [string, string] {
  const name = baseName(path);
  return [`.${name}.`, `.ckptkit-${nameHash(name)}.`];
}

function randomDigits(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(RANDOM_DIGITS / 2));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Creates a new hidden file beside `path` for writing, ending in `suffix`;
 * returns its path and the open file. Never reuses a name.
 */
export async function createHidden(
  path: string,
  suffix: string,
): Promise<{ path: string; file: Deno.FsFile }> {
  const folder = folderOf(path);
  for (const prefix of hiddenPrefixes(path)) {
    const hidden = `${folder}/${prefix}${randomDigits()}${suffix}`;
    try {
      return { path: hidden, file: await Deno.open(hidden, { write: true, createNew: true }) };
    } catch (error) {
      if ((error as { code?: string }).code !== "ENAMETOOLONG") throw error;
    }
  }
  throw new CheckpointError(
    "Cannot save: the file name is too long for a temporary name beside it",
  );
}

/**
 * The hidden files beside `path` that end in `suffix` (see
 * {@linkcode createHidden}), including those of older ckptkit versions.
 */
export async function hiddenFilesOf(path: string, suffix: string): Promise<string[]> {
  const folder = folderOf(path);
  const prefixes = hiddenPrefixes(path);
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      const name = entry.name;
      if (!entry.isFile || !name.endsWith(suffix)) continue;
      const prefix = prefixes.find((p) => name.startsWith(p));
      if (prefix === undefined) continue;
      const middle = name.slice(prefix.length, name.length - suffix.length);
      if (!/^(?:[0-9a-f]{12}|\d+)$/.test(middle)) continue;
      found.push(`${folder}/${name}`);
    }
  } catch {
    // An unlistable folder: the save itself reports what is wrong.
  }
  return found;
}

/**
 * Removes the temporary files an interrupted save of `path` left beside it
 * that no process holds locked; returns their paths.
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const removed: string[] = [];
  for (const stale of await hiddenFilesOf(path, TEMP_SUFFIX)) {
    if (await removeIfUnlocked(stale)) removed.push(stale);
  }
  return removed;
}

/** Removes `path` unless a live process holds it locked; whether it did. */
async function removeIfUnlocked(path: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return false;
  }
  try {
    if (!await file.tryLock(true)) return false;
    await Deno.remove(path);
    return true;
  } catch {
    return false; // Not ours to remove (permissions, or gone already).
  } finally {
    file.close();
  }
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

// Cleanups to run when a terminating signal arrives during a write; each
// returns the path of the file it protects, for the message.
const cleanups = new Set<() => string | undefined>();
// The signals a shell, a terminal or a batch system sends to end a job, and
// the exit code the shell reports for each (128 + its number).
const SIGNALS: ReadonlyMap<Deno.Signal, number> = new Map([
  ["SIGHUP", 129],
  ["SIGINT", 130],
  ["SIGTERM", 143],
]);
const handlers = new Map<Deno.Signal, () => void>();

/**
 * Registers `cleanup` to run synchronously if SIGINT, SIGTERM or SIGHUP
 * arrives before the returned function is called. While any is registered,
 * such a signal runs every cleanup (newest first), prints one line and exits
 * with 128 + the signal's number, as the shell reports a killed process.
 */
export function onInterrupt(cleanup: () => string | undefined): () => void {
  cleanups.add(cleanup);
  if (cleanups.size === 1) listen();
  return () => {
    if (cleanups.delete(cleanup) && cleanups.size === 0) unlisten();
  };
}

function listen(): void {
  for (const signal of SIGNALS.keys()) {
    const handler = () => interrupted(signal);
    try {
      Deno.addSignalListener(signal, handler);
      handlers.set(signal, handler);
    } catch {
      // Not supported here (SIGTERM and SIGHUP on Windows).
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
  Deno.exit(SIGNALS.get(signal)!);
}

/** One line for a failed save, saying what became of the target. */
export function saveError(error: unknown, existed: boolean): Error {
  if (error instanceof ReplacedError) {
    return new CheckpointError(`${error.message}; nothing was written`, { cause: error });
  }
  const outcome = existed ? "the original is unchanged" : "nothing was written";
  if (
    error instanceof CkptkitError &&
    /; (the original is unchanged|nothing was written)$/.test(error.message)
  ) {
    return error;
  }
  return new CheckpointError(`Cannot save: ${reason(error)}; ${outcome}`, { cause: error });
}

/** The system's reason for `error`, without the call and path Deno adds. */
export function reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or folder";
  if (error instanceof CkptkitError) {
    return error.message.replace(/^Cannot [a-z ]+: /, "");
  }
  const message = error instanceof Error ? error.message : String(error);
  // Deno: "No space left on device (os error 28): write '/path'".
  const os = /^(.*?) \(os error \d+\)/.exec(message);
  const text = (os ? os[1] : message.split("\n")[0]).trim();
  return text.length === 0 ? "unknown error" : text[0].toLowerCase() + text.slice(1);
}
