// The registry of CLI commands, in the order `--help` lists them.
import type { Command } from "./_command.ts";
import { dis } from "./dis.ts";
import { rewrite } from "./rewrite.ts";
import { show } from "./show.ts";

export const COMMANDS: readonly Command[] = [show, dis, rewrite];
