// What every CLI command shares: its description, argument parsing and the
// context that names the file an error is about.
import { parseArgs } from "node:util";
import { CkptkitError } from "../errors.ts";
import type { Checkpoint } from "../torch/checkpoint.ts";
import { HttpSource } from "../zip/http_source.ts";

/** A mistake in the command line: printed with a hint, exit code 2. */
export class UsageError extends Error {}

/** State a command shares with the error handler. */
export interface CommandContext {
  /** The file the current step works on; error messages start with it. */
  subject: string | undefined;
  /** `--quiet`: no progress and no informational lines; results and errors still print. */
  quiet: boolean;
}

/** One CLI command. */
export interface Command {
  /** The full `--help` text. */
  help: string;
  /** Runs the command; returns the exit code. */
  run(args: string[], context: CommandContext): Promise<number>;
}

type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; multiple?: boolean; short?: string }
>;

const COMMON = {
  help: { type: "boolean" },
  debug: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
} as const;

/**
 * Parses `args` strictly; unknown options are usage errors. Every command
 * also takes `--help`, `--debug` and `--quiet` (`-q`), which sets
 * `context.quiet`.
 */
export function parse<T extends OptionSpec>(args: string[], options: T, context?: CommandContext) {
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...options, ...COMMON },
    });
    if (context !== undefined) {
      context.quiet = (parsed.values as { quiet?: boolean }).quiet === true;
    }
    return parsed;
  } catch (error) {
    // node:util explains on further lines; one line is what users get.
    throw new UsageError((error as Error).message.split("\n")[0]);
  }
}

/** The single positional argument of `command`. */
export function onePath(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one path`);
  return positionals[0];
}

/** A non-negative integer option, or undefined when absent. */
export function integerOption(
  text: string | boolean | undefined,
  name: string,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (typeof text !== "string" || !Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`--${name} needs a non-negative integer, got '${text}'`);
  }
  return value;
}

/** The line `--help` texts give the `--timeout` option of commands that read URLs. */
export const TIMEOUT_HELP =
  "  --timeout S     for a URL: give up on a request that takes more than S seconds (default 30)";

/** `--timeout S` in milliseconds (positive seconds, decimals allowed), or undefined when absent. */
export function timeoutOption(text: string | boolean | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (typeof text !== "string" || !Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`--timeout needs a positive number of seconds, got '${text}'`);
  }
  return seconds * 1000;
}

/** How much of a remote checkpoint was fetched; undefined for local files. */
export function remoteSummary(
  ckpt: Checkpoint,
): { bytes_fetched: number; requests: number; size: number } | undefined {
  const source = ckpt.source;
  if (!(source instanceof HttpSource)) return undefined;
  return { bytes_fetched: source.bytesFetched, requests: source.requests, size: source.size };
}

/** Describes an error in one line, the file it concerns first. */
export function describeError(error: unknown, subject: string | undefined): string {
  const where = subject === undefined ? "" : `${subject}: `;
  if (error instanceof CkptkitError) return `${where}${error.message}`;
  if (error instanceof Deno.errors.NotFound) return `${where}Cannot open: no such file`;
  if (error instanceof Deno.errors.PermissionDenied) {
    return `${where}Cannot open: permission denied`;
  }
  if (error instanceof Deno.errors.IsADirectory) return `${where}Cannot open: is a directory`;
  const message = error instanceof Error ? error.message : String(error);
  return `${where}Cannot complete: ${message.split("\n")[0]}`;
}
