// The registry of CLI commands, in the order `--help` lists them. A
// command's module is imported only when it runs: loading every command's
// code costs the running one about 10 MiB of peak memory.
import type { Command } from "./_command.ts";

/** A command as the command list shows it; `load` imports its module. */
export interface CommandEntry {
  /** The word after `cli.ts`. */
  name: string;
  /** Other words that run the same command. */
  aliases?: string[];
  /** One line for the command list. */
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "show",
    summary: "print the object tree (dict keys, tensors, classes)",
    load: async () => (await import("./show.ts")).show,
  },
  {
    name: "dis",
    summary: "list data.pkl's opcodes like python -m pickletools",
    load: async () => (await import("./dis.ts")).dis,
  },
  {
    name: "rewrite",
    summary: "decode, re-encode and rewrite the archive (no migration)",
    load: async () => (await import("./rewrite.ts")).rewrite,
  },
  {
    name: "verify",
    summary: "read every record: CRC-32, layout, pickle, storage sizes",
    load: async () => (await import("./verify.ts")).verify,
  },
  {
    name: "scan",
    summary: "list the globals data.pkl references: safe, unknown, dangerous",
    load: async () => (await import("./scan.ts")).scan,
  },
  {
    name: "diff",
    summary:
      "what differs between two checkpoints (tensors, config, migrations); exit 0/1 like diff",
    load: async () => (await import("./diff.ts")).diff,
  },
  {
    name: "extract",
    summary: "write the weights alone, as .safetensors or a weights-only torch file",
    load: async () => (await import("./extract.ts")).extract,
  },
  {
    name: "transfer",
    summary:
      "copy another checkpoint's tensors into a checkpoint where names, shapes, dtypes match",
    load: async () => (await import("./transfer.ts")).transfer,
  },
  {
    name: "migrate",
    aliases: ["sync"],
    summary: "run the missing migrations on a training checkpoint (alias: sync)",
    load: async () => (await import("./migrate.ts")).migrate,
  },
  {
    name: "inspect",
    summary: "list a checkpoint's registered, missing and extra migrations",
    load: async () => (await import("./inspect.ts")).inspect,
  },
  {
    name: "check",
    summary: "exit 0 when a checkpoint is up to date, 1 when migrations are pending",
    load: async () => (await import("./check.ts")).check,
  },
  {
    name: "create",
    summary: "write a new migration script from the template",
    load: async () => (await import("./create.ts")).create,
  },
  {
    name: "fix-order",
    summary: "rename new migration scripts to sort after the base branch's",
    load: async () => (await import("./fix_order.ts")).fixOrder,
  },
];
