#!/usr/bin/env -S deno run -A
/**
 * The ckptkit command line. Each command is a thin layer over `mod.ts`.
 *
 *     deno run -A cli.ts show CKPT [--depth N] [--max-items N] [--json]
 *     deno run -A cli.ts dis CKPT
 *     deno run -A cli.ts rewrite CKPT --out PATH
 *
 * Exit codes: 0 success, 1 the input or the operation failed, 2 usage error.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Checkpoint, CkptkitError, dis, formatTree, toJsonTree } from "./mod.ts";

const USAGE = `ckptkit: PyTorch checkpoints without Python

Usage: deno run -A cli.ts <command> [options]

Commands:
  show CKPT       print the object tree (dict keys, tensors, classes)
  dis CKPT        list data.pkl's opcodes like python -m pickletools
  rewrite CKPT    decode, re-encode and rewrite the archive (no migration)

Run 'deno run -A cli.ts <command> --help' for a command's options.
Global options: --debug (stack traces on errors), --help`;

const COMMAND_HELP: Record<string, string> = {
  show: `Usage: deno run -A cli.ts show CKPT [--depth N] [--max-items N] [--json]

Prints the decoded object graph of CKPT: dict keys, tensor dtype, shape and
storage, numpy arrays and the classes objects are built from. Reads only the
central directory and data.pkl.

Options:
  --depth N       expand containers down to depth N (default 6, at most 1000)
  --max-items N   show at most N items of each container (default: all)
  --json          print one JSON document instead of the tree`,
  dis: `Usage: deno run -A cli.ts dis CKPT

Lists the opcodes of CKPT's data.pkl in the layout of python -m pickletools.`,
  rewrite: `Usage: deno run -A cli.ts rewrite CKPT --out PATH

Decodes CKPT, re-encodes it and writes it to PATH in torch's own layout,
copying every tensor storage as an untouched byte range. PATH may be CKPT
itself: the new file is written beside it and renamed over it.

Options:
  --out PATH      where to write (required)`,
};

/** A mistake in the command line: printed with a hint, exit code 2. */
class UsageError extends Error {}

type Flags = Record<string, string | boolean | undefined>;

const COMMON = { help: { type: "boolean" }, debug: { type: "boolean" } } as const;

function parse<T extends Record<string, { type: "string" | "boolean" }>>(
  args: string[],
  options: T,
) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...options, ...COMMON },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function oneFile(positionals: string[], command: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(`${command} takes exactly one checkpoint path`);
  }
  return positionals[0];
}

function integer(flags: Flags, name: string): number | undefined {
  const text = flags[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`--${name} needs a non-negative integer, got '${text}'`);
  }
  return value;
}

/** The file a failure is about, for the one-line error message. */
let subject: string | undefined;

async function openCheckpoint(path: string): Promise<Checkpoint> {
  subject = path;
  return await Checkpoint.open(path);
}

async function show(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    depth: { type: "string" },
    "max-items": { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) return help("show");
  const path = oneFile(positionals, "show");
  const options = { depth: integer(values, "depth"), maxItems: integer(values, "max-items") };
  const ckpt = await openCheckpoint(path);
  try {
    if (values.json) {
      console.log(JSON.stringify({ file: path, root: toJsonTree(ckpt.root, options) }));
    } else {
      console.log(formatTree(ckpt.root, options));
    }
  } finally {
    ckpt.close();
  }
  return 0;
}

async function disassemble(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (values.help) return help("dis");
  const ckpt = await openCheckpoint(oneFile(positionals, "dis"));
  try {
    console.log(dis(ckpt.pickleBytes));
  } finally {
    ckpt.close();
  }
  return 0;
}

async function rewrite(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: "string" } });
  if (values.help) return help("rewrite");
  const path = oneFile(positionals, "rewrite");
  if (typeof values.out !== "string") throw new UsageError("rewrite needs --out PATH");
  const ckpt = await openCheckpoint(path);
  try {
    subject = values.out;
    const result = await ckpt.save(values.out);
    console.log(
      `wrote ${result.path}: ${result.size} bytes, ${result.storages} storages, data.pkl ${result.pickleSize} bytes`,
    );
  } finally {
    ckpt.close();
  }
  return 0;
}

function help(command?: string): number {
  console.log(command === undefined ? USAGE : COMMAND_HELP[command]);
  return 0;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  show,
  dis: disassemble,
  rewrite,
};

/** Describes an error in one line, the file it concerns first. */
function describeError(error: unknown): string {
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

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const debug = args.includes("--debug");
  try {
    if (command === undefined || command === "--help" || command === "-h") return help();
    const run = COMMANDS[command];
    if (run === undefined) throw new UsageError(`unknown command '${command}'`);
    return await run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`ckptkit: ${error.message} (see --help)`);
      return 2;
    }
    console.error(`ckptkit: ${describeError(error)}`);
    if (debug) console.error(error);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
