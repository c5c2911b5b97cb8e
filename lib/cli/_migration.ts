// What the migration commands share: loading the scripts, colours, the log
// level and one-line error descriptions.
import { fileURLToPath } from "node:url";
import type { Migration } from "../migrate/migration.ts";
import type { MigrationLog } from "../migrate/migrator.ts";
import { loadMigrationsFromDir } from "../migrate/registry.ts";
import { UsageError } from "./_command.ts";

/** The scripts in `dir`, or the shipped registry when `dir` is undefined. */
export async function loadMigrations(dir: string | undefined): Promise<Migration[]> {
  if (dir !== undefined) return await loadMigrationsFromDir(dir);
  const registry = await import("../../migrations/mod.ts");
  return await registry.loadMigrations();
}

/** The shipped scripts' folder, for `create` and `fix-order` without `--migrations`. */
export function defaultMigrationsDir(): string {
  const url = new URL("../../migrations/", import.meta.url);
  if (url.protocol !== "file:") {
    throw new UsageError("the shipped migrations are not a local folder: pass --migrations DIR");
  }
  return fileURLToPath(url);
}

/** Terminal styles; plain text when colours are off. */
export interface Styles {
  green(text: string): string;
  red(text: string): string;
  cyan(text: string): string;
  yellow(text: string): string;
  bold(text: string): string;
  italic(text: string): string;
}

/** Colours only on a terminal, never with `--no-color` or a non-empty NO_COLOR. */
export function styles(noColor: boolean | undefined): Styles {
  let enabled = !noColor && Deno.stdout.isTerminal();
  try {
    if ((Deno.env.get("NO_COLOR") ?? "") !== "") enabled = false;
  } catch {
    // No env permission: keep the terminal check.
  }
  const sgr = (open: number, close: number) => (text: string) =>
    enabled ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    green: sgr(32, 39),
    red: sgr(31, 39),
    cyan: sgr(36, 39),
    yellow: sgr(33, 39),
    bold: sgr(1, 22),
    italic: sgr(3, 23),
  };
}

const LEVELS = ["debug", "info", "warning", "error"] as const;

/** A log on stderr showing messages at `level` and above (default warning). */
export function stderrLog(level: string | boolean | undefined): MigrationLog {
  const name = typeof level === "string"
    ? level.toLowerCase().replace(/^warn$/, "warning")
    : "warning";
  const threshold = LEVELS.indexOf(name as typeof LEVELS[number]);
  if (threshold < 0) {
    throw new UsageError(`--log-level must be one of ${LEVELS.join(", ")}, got '${level}'`);
  }
  const at = (index: number, label: string) =>
    index >= threshold
      ? (message: string) => console.error(`ckptkit: ${label}: ${message}`)
      : undefined;
  return { debug: at(0, "debug"), info: at(1, "info"), warn: at(2, "warning") };
}

/** `count word`, with an s when count is not 1. */
export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** `name [vversion]`, as anemoi-models lists migrations. */
export function withVersion(name: string, version: string | undefined, s: Styles): string {
  return `${s.bold(name)} [v${version ?? "?"}]`;
}

/** The command that migrates `path`, for hints. */
export function migrateCommand(path: string, dir: string | undefined): string {
  const quote = (
    text: string,
  ) => (/^[\w./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`);
  const migrations = dir === undefined ? "" : ` --migrations ${quote(dir)}`;
  return `deno run -A cli.ts migrate ${quote(path)}${migrations}`;
}
