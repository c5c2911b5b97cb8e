// `create`: a new migration script from the template.
import { createMigration } from "../migrate/create.ts";
import { type Command, parse, UsageError } from "./_command.ts";
import { defaultMigrationsDir } from "./_migration.ts";

export const create: Command = {
  help: `Usage: deno run -A cli.ts create NAME [--with-setup] [--final] [--migrations DIR]
                                 [--anemoi-models VERSION]

Writes DIR/<unix-timestamp>_<name>.ts (NAME in snake_case) with the
metadata block and a migrate callback, and adds it to DIR/mod.ts when that
file has a registry block. Edit the callback; leave the metadata as written.

Options:
  --with-setup              add a migrateSetup callback, to redirect classes or
                            modules that moved or were deleted
  --final                   a final migration: checkpoints from before it can no
                            longer be migrated (no callbacks; not with --with-setup)
  --migrations DIR          the scripts folder (default: the shipped migrations/)
  --anemoi-models VERSION   the anemoi-models release with the change (default: the
                            version of the folder's last script)
  --quiet, -q               print nothing on success

Exit codes: 0 created, 1 failure, 2 usage error.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      "with-setup": { type: "boolean" },
      final: { type: "boolean" },
      migrations: { type: "string" },
      "anemoi-models": { type: "string" },
    }, context);
    if (positionals.length !== 1) throw new UsageError("create takes exactly one NAME");
    if (values.final && values["with-setup"]) {
      throw new UsageError(
        "a final migration cannot have setup callbacks (--final with --with-setup)",
      );
    }
    const dir = values.migrations ?? defaultMigrationsDir();
    context.subject = dir;
    const result = await createMigration(dir, positionals[0], {
      final: values.final,
      withSetup: values["with-setup"],
      version: values["anemoi-models"],
    });
    if (context.quiet) return 0;
    console.log(`Created migration ${result.path}`);
    if (result.registry) console.log(`Registered it in ${dir.replace(/\/?$/, "/")}mod.ts`);
    return 0;
  },
};
