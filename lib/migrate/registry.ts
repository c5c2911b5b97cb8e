/**
 * Where migrations come from: the static registry (`migrations/mod.ts`,
 * which bundling and compiling follow) or a folder of scripts imported at
 * run time (`--migrations DIR`).
 *
 * @module
 */

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { loadMigration, type Migration, type MigrationScript } from "./migration.ts";
import { MigrationError } from "./migration_error.ts";
import { scriptDigest } from "./signature.ts";

/** A script file name: `<unix-timestamp>_<snake_name>.ts`. */
export const MIGRATION_FILE: RegExp = /^(\d+)_(\w+)\.ts$/;

/**
 * One script of a static registry. `digest` is the script's
 * {@linkcode scriptDigest}, kept in the registry because bundles and
 * compiled binaries cannot read the script's source; `create` and
 * `fix-order` write it and a test keeps it current.
 *
 * @example A registry with one script
 * ```ts
 * import type { RegistryEntry } from "../../mod.ts";
 *
 * export const MIGRATIONS: readonly RegistryEntry[] = [
 *   {
 *     name: "1750840837_add_foo",
 *     script: await import("../../tests/migrations/first_group/1750840837_add_foo.ts"),
 *   },
 * ];
 * ```
 */
export interface RegistryEntry {
  /** The script's file stem. */
  readonly name: string;
  /** The script's digest; read from the source next to the registry when absent. */
  readonly digest?: string;
  /** The imported script module. */
  readonly script: MigrationScript | Record<string, unknown>;
}

/**
 * Turns registry entries into migrations, in the registry's order. An
 * entry without a digest has it computed from `<name>.ts` next to
 * `baseUrl` (the registry module's `import.meta.url`).
 *
 * @example Load a registry
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrationsFromRegistry } from "../../mod.ts";
 *
 * const base = new URL("../../tests/migrations/first_group/mod.ts", import.meta.url).href;
 * const migrations = await migrationsFromRegistry([
 *   { name: "1750840837_add_foo", script: await import("../../tests/migrations/first_group/1750840837_add_foo.ts") },
 * ], base);
 * assert.equal(migrations[0].signature.length, 64);
 * ```
 */
export async function migrationsFromRegistry(
  entries: readonly RegistryEntry[],
  baseUrl?: string | URL,
): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const entry of entries) {
    let digest = entry.digest;
    if (digest === undefined) {
      let source: string;
      try {
        if (baseUrl === undefined) throw new Error("no base URL");
        source = await readSource(new URL(`./${entry.name}.ts`, baseUrl));
      } catch (error) {
        throw new MigrationError(
          `Cannot load migration ${entry.name}: the registry has no digest and the source cannot be read`,
          { cause: error },
        );
      }
      digest = await scriptDigest(source);
    }
    migrations.push(loadMigration(entry.name, entry.script, digest));
  }
  return migrations;
}

/** The script names (file stems) in `dir`, sorted: the execution order. */
export async function migrationNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && MIGRATION_FILE.test(entry.name)) names.push(entry.name.slice(0, -3));
  }
  return names.sort();
}

/**
 * Imports every `<timestamp>_<name>.ts` script of `dir`, sorted by name,
 * as anemoi-models loads a migrations folder. Other files are ignored.
 *
 * @example Load a folder of scripts
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadMigrationsFromDir } from "../../mod.ts";
 *
 * const migrations = await loadMigrationsFromDir("tests/migrations/two_groups");
 * assert.deepEqual(migrations.map((m) => m.final), [false, false, false, false, true, false]);
 * ```
 */
export async function loadMigrationsFromDir(dir: string): Promise<Migration[]> {
  let names: string[];
  try {
    names = await migrationNames(dir);
  } catch (error) {
    throw new MigrationError(`Cannot read migrations folder ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const migrations: Migration[] = [];
  for (const name of names) {
    const path = resolve(dir, `${name}.ts`);
    const source = await Deno.readTextFile(path);
    let script: unknown;
    try {
      // The user's own scripts, found at run time (`--migrations DIR`): no
      // import can name them in advance, so publishing reports this import
      // as unanalyzable. The shipped scripts load through the static
      // registry in migrations/mod.ts instead.
      script = await import(pathToFileURL(path).href);
    } catch (error) {
      throw new MigrationError(
        `Cannot load migration ${name}: ${(error as Error).message?.split("\n")[0]}`,
        { cause: error },
      );
    }
    migrations.push(loadMigration(name, script, await scriptDigest(source)));
  }
  return migrations;
}

async function readSource(url: URL): Promise<string> {
  if (url.protocol === "file:") return await Deno.readTextFile(url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return await response.text();
}

// The generated part of a registry module, between these two lines.
const START = "// ckptkit-registry-start";
const END = "// ckptkit-registry-end";

/**
 * Rewrites the generated block of `<dir>/mod.ts` (between the
 * `// ckptkit-registry-start` and `// ckptkit-registry-end` lines) to list
 * every script of `dir`, sorted, with fresh digests. Returns false when
 * there is no such registry module.
 */
export async function writeRegistry(dir: string): Promise<boolean> {
  const path = resolve(dir, "mod.ts");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  const updated = await renderRegistry(text, dir);
  if (updated === undefined) return false;
  if (updated !== text) {
    const temp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(temp, updated);
    await Deno.rename(temp, path);
  }
  return true;
}

/**
 * The registry module text with its generated block listing the scripts of
 * `dir`; `undefined` when `text` has no block markers.
 */
export async function renderRegistry(text: string, dir: string): Promise<string | undefined> {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.trim().startsWith(START));
  const end = lines.findIndex((line) => line.trim().startsWith(END));
  if (start < 0 || end < start) return undefined;
  const indent = lines[start].slice(0, lines[start].indexOf("/"));
  const entries: string[] = [];
  for (const name of await migrationNames(dir)) {
    const digest = await scriptDigest(await Deno.readTextFile(resolve(dir, `${name}.ts`)));
    entries.push(
      `${indent}{`,
      `${indent}  name: "${name}",`,
      `${indent}  digest: "${digest}",`,
      `${indent}  script: await import("./${name}.ts"),`,
      `${indent}},`,
    );
  }
  return [...lines.slice(0, start + 1), ...entries, ...lines.slice(end)].join("\n");
}
