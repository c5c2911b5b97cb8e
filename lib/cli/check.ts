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
import { globalsWarning, POLICY_OPTIONS, policyFrom, policyHelp } from "./_globals.ts";
import { loadMigrations, plural } from "./_migration.ts";

/** Exit codes of `check`. */
const UP_TO_DATE = 0;
const PENDING = 1;
const ERROR = 2;
const INCOMPATIBLE = 3;
const UNTRUSTED = 4;

export const check: Command = {
  help: `Usage: deno run -A cli.ts check CKPT [--migrations DIR]

Says in one line whether CKPT needs migrating, and exits accordingly.

Its data.pkl is scanned as 'scan' does: when loading it in Python would
run dangerous globals, a warning says so on stderr (also with --quiet)
and the exit code is 4, whatever the migration state.

Options:
  --migrations DIR  use the <timestamp>_<name>.ts scripts in DIR, not the shipped ones
  --quiet, -q       print nothing but errors and warnings: the exit code says it all
  --strict-globals  also warn about (and exit 4 for) globals not on the allowlist
${policyHelp(20)}
${TIMEOUT_HELP}

Exit codes: 0 up to date, 1 migrations pending, 2 usage error or the
checkpoint or scripts cannot be read, 3 it cannot be migrated (too old,
not compatible, extra migrations, a needed script without a migrate
function, or not a training checkpoint), as anemoi-models decides,
4 loading it would run dangerous globals (see 'scan').`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      migrations: { type: "string" },
      timeout: { type: "string" },
      "strict-globals": { type: "boolean" },
      ...POLICY_OPTIONS,
    }, context);
    const path = onePath(positionals, "check");
    const policy = await policyFrom(values);
    let subject: string | undefined = values.migrations;
    try {
      const migrations = await loadMigrations(values.migrations);
      subject = path;
      const report = await inspectCheckpoint(path, {
        migrations,
        policy,
        timeoutMs: timeoutOption(values.timeout),
      });
      let code: number;
      switch (report.status) {
        case "up-to-date":
          if (!context.quiet) console.log(`${path}: up to date`);
          code = UP_TO_DATE;
          break;
        case "pending":
          if (!context.quiet) {
            console.log(
              `${path}: ${plural(report.missing.length, "migration")} pending: ${
                report.missing.map((m) => m.name).join(", ")
              }`,
            );
          }
          code = PENDING;
          break;
        case "too-old":
        case "incompatible":
        case "extra":
          console.error(`ckptkit: ${path}: ${report.problem}`);
          code = INCOMPATIBLE;
      }
      const warning = globalsWarning(report.globals, values["strict-globals"]);
      if (warning === undefined) return code;
      console.error(`ckptkit: ${path}: ${warning}`);
      return UNTRUSTED;
    } catch (error) {
      console.error(`ckptkit: ${describeError(error, subject)}`);
      if (args.includes("--debug")) console.error(error);
      return error instanceof IncompatibleCheckpointError ? INCOMPATIBLE : ERROR;
    }
  },
};
