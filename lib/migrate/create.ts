/**
 * New migration scripts from a template, as `anemoi-models migration create`.
 *
 * @module
 */

import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MigrationError } from "./migration_error.ts";
import { MIGRATION_FILE, migrationNames, writeRegistry } from "./registry.ts";

/**
 * `name` in snake_case, as script names are: `"Rename SWA"` and
 * `"renameSwa"` both give `"rename_swa"`. Throws when nothing is left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { snakeCaseName } from "./create.ts";
 *
 * assert.equal(snakeCaseName("Rename SWA-to weightAveraging"), "rename_swa_to_weight_averaging");
 * ```
 */
export function snakeCaseName(name: string): string {
  const snake = name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (snake === "") throw new MigrationError(`Cannot create migration '${name}': empty name`);
  return snake;
}

/** Options of {@linkcode migrationTemplate}. */
export interface TemplateOptions {
  /** A final migration: metadata only, no callbacks. */
  final?: boolean;
  /** Include a `migrateSetup` callback. */
  withSetup?: boolean;
  /** The anemoi-models version to record. */
  version: string;
  /** The module specifier scripts import ckptkit's API from, e.g. `"../mod.ts"`. */
  importFrom: string;
}

/**
 * The source of a new script. A final migration has no callbacks, and
 * cannot have a setup.
 *
 * @example A script with a setup callback
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrationTemplate } from "./create.ts";
 *
 * const text = migrationTemplate({ withSetup: true, version: "0.9.0", importFrom: "../mod.ts" });
 * assert.match(text, /export function migrateSetup/);
 * assert.match(text, /"anemoi-models": "0\.9\.0"/);
 * ```
 */
export function migrationTemplate(options: TemplateOptions): string {
  if (options.final && options.withSetup) {
    throw new MigrationError("Cannot create migration: a final migration cannot have a setup");
  }
  const types = options.final
    ? ["MigrationMetadata"]
    : ["CkptType", ...(options.withSetup ? ["MigrationContext"] : []), "MigrationMetadata"];
  // Laid out as deno fmt would at its default width.
  let importLine = `import type { ${types.join(", ")} } from ${
    JSON.stringify(options.importFrom)
  };`;
  if (importLine.length > 80) {
    importLine = [
      "import type {",
      ...types.map((t) => `  ${t},`),
      `} from ${JSON.stringify(options.importFrom)};`,
    ].join("\n");
  }
  const lines = [
    "// A migration script: describe here what changed and why.",
    importLine,
    "",
    "// DO NOT CHANGE -->",
    "export const metadata: MigrationMetadata = {",
    "  versions: {",
    '    migration: "1.0.0",',
    `    "anemoi-models": ${JSON.stringify(options.version)},`,
    "  },",
    ...(options.final ? ["  final: true,"] : []),
    "};",
    "// <-- END DO NOT CHANGE",
  ];
  if (options.withSetup) {
    lines.push(
      "",
      "/** Runs before the checkpoint is decoded: redirects moved or deleted classes. */",
      "export function migrateSetup(context: MigrationContext): void {",
      "  // For example:",
      '  // context.moveAttribute("anemoi.pkg.old.Class", "anemoi.pkg.new.Class");',
      '  // context.deleteModule("anemoi.pkg.removed");',
      "  void context;",
      "}",
    );
  }
  if (!options.final) {
    lines.push(
      "",
      "/** Receives the old checkpoint's root and returns the migrated one. */",
      "export function migrate(ckpt: CkptType): CkptType {",
      "  return ckpt;",
      "}",
    );
  }
  return lines.join("\n") + "\n";
}

/** Options of {@linkcode createMigration}. */
export interface CreateOptions {
  /** Create a final migration. */
  final?: boolean;
  /** Include a setup callback. */
  withSetup?: boolean;
  /** The anemoi-models version; default: the one of the folder's last script. */
  version?: string;
  /** The current time in ms (default `Date.now()`), for the timestamp. */
  now?: number;
}

/** What {@linkcode createMigration} wrote. */
export interface CreateResult {
  /** The script's path. */
  path: string;
  /** The migration's name (file stem). */
  name: string;
  /** Whether `<dir>/mod.ts` has a registry block, now listing the script. */
  registry: boolean;
}

/**
 * Writes a new script `<timestamp>_<snake_name>.ts` into `dir` and adds it
 * to the registry block of `<dir>/mod.ts` when there is one. The timestamp
 * is the current Unix time, raised past the folder's last script if needed
 * so the new script sorts last.
 */
export async function createMigration(
  dir: string,
  name: string,
  options: CreateOptions = {},
): Promise<CreateResult> {
  const snake = snakeCaseName(name);
  const existing = await migrationNames(dir);
  const last = existing[existing.length - 1];
  let timestamp = Math.floor((options.now ?? Date.now()) / 1000);
  if (last !== undefined) {
    timestamp = Math.max(timestamp, Number(MIGRATION_FILE.exec(`${last}.ts`)![1]) + 1);
  }
  const version = options.version ?? (last === undefined ? undefined : await versionOf(dir, last));
  if (version === undefined) {
    throw new MigrationError(
      "Cannot create migration: the folder has no script to take the anemoi-models version from",
    );
  }
  const stem = `${timestamp}_${snake}`;
  const path = join(dir, `${stem}.ts`);
  const text = migrationTemplate({
    final: options.final,
    withSetup: options.withSetup,
    version,
    importFrom: importSpecifier(dir),
  });
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    await file.write(new TextEncoder().encode(text));
  } finally {
    file.close();
  }
  return { path, name: stem, registry: await writeRegistry(dir) };
}

// How a script in `dir` imports ckptkit's public API.
function importSpecifier(dir: string): string {
  const mod = new URL("../../mod.ts", import.meta.url);
  if (mod.protocol !== "file:") return mod.href;
  const path = relative(resolve(dir), fileURLToPath(mod)).replaceAll("\\", "/");
  return path.startsWith(".") ? path : `./${path}`;
}

async function versionOf(dir: string, name: string): Promise<string | undefined> {
  const text = await Deno.readTextFile(join(dir, `${name}.ts`));
  return /["']anemoi-models["']\s*:\s*["']([^"']+)["']/.exec(text)?.[1];
}
