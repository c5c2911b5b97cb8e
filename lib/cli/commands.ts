// The registry of CLI commands, in the order `--help` lists them.
import type { Command } from "./_command.ts";
import { check } from "./check.ts";
import { create } from "./create.ts";
import { dis } from "./dis.ts";
import { fixOrder } from "./fix_order.ts";
import { inspect } from "./inspect.ts";
import { migrate } from "./migrate.ts";
import { rewrite } from "./rewrite.ts";
import { scan } from "./scan.ts";
import { show } from "./show.ts";
import { verify } from "./verify.ts";

export const COMMANDS: readonly Command[] = [
  show,
  dis,
  rewrite,
  verify,
  scan,
  migrate,
  inspect,
  check,
  create,
  fixOrder,
];
