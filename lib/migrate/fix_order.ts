/**
 * Keeping migration scripts in order after a merge: scripts added on a
 * branch must sort after every script the base branch already has, or
 * checkpoints migrated on the base would skip them.
 *
 * @module
 */

import { join } from "node:path";
import { MigrationError } from "./migration_error.ts";
import { MIGRATION_FILE, migrationNames, writeRegistry } from "./registry.ts";

/**
 * Which of the `added` names (scripts new on this branch) sort before a
 * script of the base branch, and the last base script. `all` is every
 * script name, sorted. The added ones must all come last.
 *
 * @example One added script sorts before an upstream one
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrationsInIncorrectOrder } from "./fix_order.ts";
 *
 * assert.deepEqual(migrationsInIncorrectOrder(["1", "2", "3"], ["1", "3"]), {
 *   incorrect: ["1"],
 *   lastUpstream: "2",
 * });
 * ```
 */
export function migrationsInIncorrectOrder(
  all: readonly string[],
  added: readonly string[],
): { incorrect: string[]; lastUpstream: string | undefined } {
  const isAdded = new Set(added);
  const incorrect: string[] = [];
  let lastUpstream: string | undefined;
  for (let i = all.length - 1; i >= 0; i--) {
    const name = all[i];
    if (lastUpstream === undefined) {
      if (!isAdded.has(name)) lastUpstream = name;
    } else if (isAdded.has(name)) {
      incorrect.push(name);
    }
  }
  return { incorrect: incorrect.reverse(), lastUpstream };
}

/** Runs git in `dir`; returns its stdout, or throws with its first error line. */
async function git(dir: string, args: string[]): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("git", { args: ["-C", dir, ...args], stdin: "null" }).output();
  } catch (error) {
    throw new MigrationError(`Cannot run git: ${(error as Error).message}`, { cause: error });
  }
  if (!output.success) {
    const message = new TextDecoder().decode(output.stderr).trim().split("\n")[0];
    throw new MigrationError(`Cannot run git ${args[0]}: ${message}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** The base to compare with: `origin/main` when it exists, else `main`. */
export async function defaultBase(dir: string): Promise<string> {
  for (const ref of ["origin/main", "main"]) {
    try {
      await git(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
      return ref;
    } catch {
      // try the next one
    }
  }
  throw new MigrationError(
    "Cannot find the base branch: neither origin/main nor main exists (pass --base REF)",
  );
}

/**
 * The scripts of `dir` that `base` does not have: added in commits since
 * it, staged, or untracked. Sorted names (file stems).
 */
export async function addedMigrations(dir: string, base: string): Promise<string[]> {
  const changed = await git(dir, [
    "diff",
    "--name-only",
    "--relative",
    "--diff-filter=A",
    base,
    "--",
    ".",
  ]);
  const untracked = await git(dir, ["ls-files", "--others", "--exclude-standard", "--", "."]);
  const names = new Set<string>();
  for (const line of `${changed}\n${untracked}`.split("\n")) {
    const file = line.trim();
    if (MIGRATION_FILE.test(file)) names.add(file.slice(0, -3));
  }
  const present = new Set(await migrationNames(dir));
  return [...names].filter((name) => present.has(name)).sort();
}

/** What {@linkcode fixOrder} did. */
export interface FixOrderResult {
  /** The base compared with. */
  base: string;
  /** The scripts added since the base, before renaming. */
  added: string[];
  /** The last script the base has, when any. */
  lastUpstream: string | undefined;
  /** Renames done, `[from, to]` names, in order. */
  renamed: [string, string][];
  /** Whether `<dir>/mod.ts` has a registry block (rewritten with current names and digests). */
  registry: boolean;
}

/**
 * Renames the scripts added since `base` to timestamps just after the last
 * base script when one of them sorts before it, keeping their relative
 * order (as `anemoi-models migration fix-order`), then rewrites the
 * registry block of `<dir>/mod.ts`, if any, with names and digests. When
 * git cannot tell what was added, the registry is still rewritten before
 * the error is thrown.
 */
export async function fixOrder(dir: string, base?: string): Promise<FixOrderResult> {
  let ref: string;
  let added: string[];
  try {
    ref = base ?? await defaultBase(dir);
    added = await addedMigrations(dir, ref);
  } catch (error) {
    // The order cannot be checked, but the registry's names and digests can be refreshed.
    await writeRegistry(dir);
    throw error;
  }
  const all = await migrationNames(dir);
  const { incorrect, lastUpstream } = migrationsInIncorrectOrder(all, added);
  const renamed: [string, string][] = [];
  if (lastUpstream !== undefined && incorrect.length > 0) {
    const first = Number(MIGRATION_FILE.exec(`${lastUpstream}.ts`)![1]) + 1;
    added.forEach((name, k) => {
      const rest = MIGRATION_FILE.exec(`${name}.ts`)![2];
      const target = `${first + k}_${rest}`;
      if (target !== name) renamed.push([name, target]);
    });
    // Through temporary names, so a target may be another script's old name.
    const temps = renamed.map(([from]) => `.${from}.${crypto.randomUUID()}.renaming`);
    for (let i = 0; i < renamed.length; i++) {
      await Deno.rename(join(dir, `${renamed[i][0]}.ts`), join(dir, temps[i]));
    }
    for (let i = 0; i < renamed.length; i++) {
      const target = join(dir, `${renamed[i][1]}.ts`);
      if (await exists(target)) {
        throw new MigrationError(`Cannot rename ${renamed[i][0]}: ${renamed[i][1]}.ts exists`);
      }
      await Deno.rename(join(dir, temps[i]), target);
    }
  }
  const registry = await writeRegistry(dir);
  return { base: ref, added, lastUpstream, renamed, registry };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
