// `migrate` (alias `sync`): bring a training checkpoint up to date.
import { migrateCheckpoint } from "../migrate/migrate_checkpoint.ts";
import { type Command, onePath, parse } from "./_command.ts";
import { loadMigrations, plural, stderrLog, styles, withVersion } from "./_migration.ts";

export const migrate: Command = {
  name: "migrate",
  aliases: ["sync"],
  summary: "run the missing migrations on a training checkpoint (alias: sync)",
  help: `Usage: deno run -A cli.ts migrate CKPT [options]     (alias: sync)

Runs the migrations CKPT is missing, in order, registers them in it as
anemoi-models does, and writes the result. Without --out, the original is
first kept next to it as {stem}-v{version}-{count}.ckpt (version: the
anemoi-models version of its last registered migration, count: how many were
registered; {stem}-v0.ckpt when none were). An existing file is never
overwritten: _1, _2, ... is added instead. Then the migrated checkpoint
takes CKPT's path. Only training checkpoints can be migrated: migrate the
training checkpoint, then regenerate the inference checkpoint from it.

Options:
  --out PATH        write the migrated checkpoint to PATH; CKPT is left alone
                    (an --out naming CKPT itself migrates in place, with the backup)
  --dry-run         run the migrations in memory and show them; write nothing
  --migrations DIR  use the <timestamp>_<name>.ts scripts in DIR, not the shipped ones
  --json            print one JSON document (the report) instead of text
  --no-color        no colours (there are none either off a terminal or with NO_COLOR)
  --log-level L     debug, info, warning (default) or error, on stderr

Exit codes: 0 migrated or already up to date, 1 cannot be migrated (too old,
extra migrations, not a training checkpoint) or a migration failed, 2 usage error.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      out: { type: "string" },
      "dry-run": { type: "boolean" },
      migrations: { type: "string" },
      json: { type: "boolean" },
      "no-color": { type: "boolean" },
      "log-level": { type: "string" },
    });
    const path = onePath(positionals, "migrate");
    const log = stderrLog(values["log-level"]);
    const s = styles(values["no-color"]);
    context.subject = values.migrations;
    const migrations = await loadMigrations(values.migrations);
    context.subject = path;
    const report = await migrateCheckpoint(path, {
      migrations,
      out: values.out,
      dryRun: values["dry-run"],
      log,
    });
    if (values.json) {
      console.log(JSON.stringify(report, (_key, value) => value ?? null));
      return 0;
    }
    if (report.status === "up-to-date") {
      console.log("Your checkpoint is already compatible! No missing migration to execute.");
      return 0;
    }
    if (report.backup !== undefined) {
      console.log(`Saved backed-up checkpoint here: ${await Deno.realPath(report.backup)}`);
    } else if (report.output !== undefined) {
      console.log(`Wrote the migrated checkpoint to ${report.output}`);
    }
    const count = plural(report.executed.length, "operation");
    console.log(report.status === "dry-run" ? `Would execute ${count}:` : `Executed ${count}:`);
    for (const migration of report.executed) {
      console.log(s.green(`  + MIGRATE ${withVersion(migration.name, migration.version, s)}`));
    }
    return 0;
  },
};
