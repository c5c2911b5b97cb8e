// `check`: an exit code for a checkpoint's migration state, for scripts.
import { IncompatibleCheckpointError } from "../migrate/migration_error.ts";
import { inspectCheckpoint } from "../migrate/migrate_checkpoint.ts";
import {
  type Command,
  describeError,
  onePath,
  parse,
  TIMEOUT_HELP,
  timeoutOption,
} from "./_command.ts";
import { loadMigrations, plural } from "./_migration.ts";

/** Exit codes of `check`. */
const UP_TO_DATE = 0;
const PENDING = 1;
const ERROR = 2;
const INCOMPATIBLE = 3;

export const check: Command = {
  help: `Usage: deno run -A cli.ts check CKPT [--migrations DIR]

Says in one line whether CKPT needs migrating, and exits accordingly.

Options:
  --migrations DIR  use the <timestamp>_<name>.ts scripts in DIR, not the shipped ones
  --quiet, -q       print nothing but errors: the exit code says it all
${TIMEOUT_HELP}

Exit codes: 0 up to date, 1 migrations pending, 2 usage error or the
checkpoint or scripts cannot be read, 3 it cannot be migrated (too old,
not compatible, extra migrations, a needed script without a migrate
function, or not a training checkpoint), as anemoi-models decides.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      migrations: { type: "string" },
      timeout: { type: "string" },
    }, context);
    const path = onePath(positionals, "check");
    let subject: string | undefined = values.migrations;
    try {
      const migrations = await loadMigrations(values.migrations);
      subject = path;
      const report = await inspectCheckpoint(path, {
        migrations,
        timeoutMs: timeoutOption(values.timeout),
      });
      switch (report.status) {
        case "up-to-date":
          if (!context.quiet) console.log(`${path}: up to date`);
          return UP_TO_DATE;
        case "pending":
          if (context.quiet) return PENDING;
          console.log(
            `${path}: ${plural(report.missing.length, "migration")} pending: ${
              report.missing.map((m) => m.name).join(", ")
            }`,
          );
          return PENDING;
        case "too-old":
        case "incompatible":
        case "extra":
          console.error(`ckptkit: ${path}: ${report.problem}`);
          return INCOMPATIBLE;
      }
    } catch (error) {
      console.error(`ckptkit: ${describeError(error, subject)}`);
      if (args.includes("--debug")) console.error(error);
      return error instanceof IncompatibleCheckpointError ? INCOMPATIBLE : ERROR;
    }
  },
};
