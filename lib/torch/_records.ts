// A torch archive's records by their names inside its folder, and which of
// them are storages: what opening, saving, checking and verifying agree on.
import type { ZipDirectory, ZipEntry } from "../zip/central_directory.ts";

/**
 * The entries of `directory` by name inside the archive folder `prefix`.
 * Folder entries (re-zipping a checkpoint adds them) hold nothing and are left out.
 */
export function recordsByName(directory: ZipDirectory, prefix: string): Map<string, ZipEntry> {
  const records = new Map<string, ZipEntry>();
  for (const entry of directory.entries) {
    if (!isFolderEntry(entry.name)) records.set(entry.name.slice(prefix.length + 1), entry);
  }
  return records;
}

/** Whether a zip entry name is a folder's rather than a file's. */
export function isFolderEntry(name: string): boolean {
  return name.endsWith("/");
}

/**
 * Whether the record `name` holds a storage: numbered as torch numbers
 * them, or named by a key in `referenced` (the keys a data.pkl uses).
 * Another record under data/ (a tool's README, say) is not a storage.
 */
export function isStorageRecord(name: string, referenced?: ReadonlySet<string>): boolean {
  if (!name.startsWith("data/")) return false;
  const key = name.slice(5);
  return /^\d+$/.test(key) || (referenced?.has(key) ?? false);
}
