// `fix-order`: renumber this branch's new scripts after the base branch's.
import { fixOrder as fixMigrationOrder } from "../migrate/fix_order.ts";
import { type Command, parse, UsageError } from "./_command.ts";
import { defaultMigrationsDir } from "./_migration.ts";

export const fixOrder: Command = {
  help: `Usage: deno run -A cli.ts fix-order [--base REF] [--migrations DIR]

Finds, with git, the scripts added since REF (committed, staged or
untracked). When a script of REF sorts after one of them (for example after
merging main), renames them all to timestamps just after REF's last script,
keeping their order. Then rewrites the registry block of DIR/mod.ts, if any,
with the current names and digests (run it after editing a script too; the
registry is rewritten even when git cannot tell what was added).

Options:
  --base REF        what to compare with (default: origin/main, else main)
  --migrations DIR  the scripts folder (default: the shipped migrations/)
  --quiet, -q       print nothing on success

Exit codes: 0 done, 1 failure (no git, unknown REF), 2 usage error.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      base: { type: "string" },
      migrations: { type: "string" },
    }, context);
    if (positionals.length > 0) throw new UsageError("fix-order takes no positional argument");
    const dir = values.migrations ?? defaultMigrationsDir();
    context.subject = dir;
    const result = await fixMigrationOrder(dir, values.base);
    if (context.quiet) return 0;
    if (result.renamed.length === 0) console.log("No migration to rename.");
    for (const [from, to] of result.renamed) console.log(`Renaming ${from} to ${to}.`);
    if (result.registry) console.log(`Updated the registry ${dir.replace(/\/?$/, "/")}mod.ts`);
    return 0;
  },
};
