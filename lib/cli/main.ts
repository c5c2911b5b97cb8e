/**
 * The command-line entry point: finds the command, turns every failure into
 * one line on stderr and an exit code.
 *
 * @module
 */

import { type CommandContext, describeError, UsageError } from "./_command.ts";
import { COMMANDS } from "./commands.ts";
import { HttpSource } from "../zip/http_source.ts";

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return `ckptkit: PyTorch checkpoints without Python

Usage: deno run -A cli.ts <command> [options]

Commands:
${lines.join("\n")}

Run 'deno run -A cli.ts <command> --help' for a command's options.
Every command takes --help, --debug (stack traces on errors) and --quiet
(-q: no progress or informational lines; results and errors still print).
Exit codes: 0 success, 1 failure, 2 usage error.`;
}

/** One stderr line per URL read: how little of it was fetched. */
function reportRemoteUsage(): void {
  for (const { url, size, bytesFetched, requests } of HttpSource.usage()) {
    const share = size === 0 ? 0 : (100 * bytesFetched) / size;
    console.error(
      `ckptkit: ${url}: fetched ${bytesFetched} bytes of ${size} (${
        share.toFixed(share < 1 ? 3 : 1)
      }%) in ${requests} range requests`,
    );
  }
}

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const context: CommandContext = { subject: undefined, quiet: false };
  try {
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      console.log(usage());
      return 0;
    }
    const entry = COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
    if (entry === undefined) throw new UsageError(`unknown command '${name}'`);
    const command = await entry.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(command.help);
      return 0;
    }
    const code = await command.run(rest, context);
    if (!context.quiet) reportRemoteUsage();
    return code;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`ckptkit: ${error.message} (see --help)`);
      return 2;
    }
    console.error(`ckptkit: ${describeError(error, context.subject)}`);
    if (args.includes("--debug")) console.error(error);
    return 1;
  }
}
