#!/usr/bin/env -S deno run -A
/**
 * The ckptkit command line; `deno run -A cli.ts --help` lists the commands.
 * Each command lives in `lib/cli/` and is a thin layer over the library.
 *
 * @module
 */

import { main } from "./lib/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
