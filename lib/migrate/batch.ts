/**
 * Migrating many checkpoints: finding them, splitting them into stable
 * shards for job arrays, and running a few at a time.
 *
 * @module
 */

import { join } from "node:path";
import { backupOf } from "./backup.ts";
import { MigrationError } from "./migration_error.ts";

/** Options for {@linkcode findCheckpoints}. */
export interface FindOptions {
  /** Also look in subfolders of the folders given. */
  recursive?: boolean;
  /** File name ending of checkpoints in folders (default `.ckpt`); files named directly always count. */
  ext?: string;
  /** Also take backups made by migrate (`{stem}-v{version}-{count}.ckpt`) from folders. */
  includeBackups?: boolean;
  /** Told of each file of a folder left out, and why (a backup of which checkpoint). */
  onSkip?: (path: string, why: string) => void;
}

/**
 * The checkpoint files named by `paths`: files as given, and the files
 * ending in `ext` inside folders (sorted; hidden names, ckptkit's temporary
 * files and migrate's backups skipped, see {@linkcode backupOf}), without
 * duplicates, in a stable order.
 */
export async function findCheckpoints(
  paths: readonly string[],
  options: FindOptions = {},
): Promise<string[]> {
  const ext = options.ext ?? ".ckpt";
  const found: string[] = [];
  const seen = new Set<string>();
  const add = (path: string) => {
    if (!seen.has(path)) {
      seen.add(path);
      found.push(path);
    }
  };
  const walk = async (dir: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isFile && entry.name.endsWith(ext)) {
        const backup = options.includeBackups ? undefined : await backupOf(path);
        if (backup === undefined) add(path);
        else options.onSkip?.(path, backup);
      } else if (entry.isDirectory && options.recursive) {
        await walk(path);
      }
    }
  };
  for (const path of paths) {
    const info = await Deno.stat(path).catch((error) => {
      // Several paths are in play: the message names the one that failed.
      const problem = error instanceof Deno.errors.NotFound
        ? "no such file or folder"
        : error.message;
      throw new MigrationError(`Cannot find checkpoints in ${path}: ${problem}`);
    });
    if (info.isDirectory) await walk(path);
    else add(path);
  }
  return found;
}

/**
 * FNV-1a of the path without its extension and any `-v...` suffix, so a
 * file's shard never depends on which other files exist, and the backups
 * `{stem}-v{version}-{count}.ckpt` a task makes while others are still
 * listing files fall in that task's own shard, never in another's.
 */
function familyHash(path: string, ext: string): number {
  const stem = path.endsWith(ext) ? path.slice(0, path.length - ext.length) : path;
  const family = stem.replace(/-v[^/]*$/, "");
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(family)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** A shard of a job array: this is shard `index` of `count`. */
export interface Shard {
  /** 0-based index of this shard. */
  index: number;
  /** Number of shards. */
  count: number;
}

/** Parses `i/n` (0 <= i < n). */
export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const shard = match === null ? undefined : { index: Number(match[1]), count: Number(match[2]) };
  if (shard === undefined || shard.count < 1 || shard.index >= shard.count) {
    throw new MigrationError(`Cannot use shard '${text}': expected i/n with 0 <= i < n`);
  }
  return shard;
}

/**
 * The shard of a Slurm job array task, from `SLURM_ARRAY_TASK_ID`,
 * `SLURM_ARRAY_TASK_MIN` and `SLURM_ARRAY_TASK_COUNT`; undefined outside one.
 */
export function slurmShard(env: { get(name: string): string | undefined }): Shard | undefined {
  const id = env.get("SLURM_ARRAY_TASK_ID");
  const count = env.get("SLURM_ARRAY_TASK_COUNT");
  if (id === undefined || count === undefined) return undefined;
  const min = Number(env.get("SLURM_ARRAY_TASK_MIN") ?? "0");
  return parseShard(`${Number(id) - min}/${Number(count)}`);
}

/**
 * The files of `files` that belong to `shard`. Every file belongs to exactly
 * one shard, chosen by a hash of its path, so the tasks of an array need no
 * coordinator and agree even if they list the files at different times.
 * A checkpoint and its backups (`name-v...`) share a shard.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { takeShard } from "./batch.ts";
 * const files = ["a.ckpt", "b.ckpt", "c.ckpt", "d.ckpt"];
 * const shards = [0, 1, 2].map((index) => takeShard(files, { index, count: 3 }));
 * assert.deepEqual(shards.flat().sort(), files);
 * ```
 */
export function takeShard(files: readonly string[], shard: Shard, ext = ".ckpt"): string[] {
  return files.filter((file) => familyHash(file, ext) % shard.count === shard.index);
}

/** Runs `task` on every item, at most `jobs` at a time; results keep the items' order. */
export async function runPool<T, R>(
  items: readonly T[],
  jobs: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return results;
}
