// `inspect`: the migrations a checkpoint has, lacks and should not have.
import { inspectCheckpoint } from "../migrate/migrate_checkpoint.ts";
import { type Command, onePath, parse, TIMEOUT_HELP, timeoutOption } from "./_command.ts";
import { globalsWarning, POLICY_OPTIONS, policyFrom, policyHelp } from "./_globals.ts";
import { loadMigrations, migrateCommand, plural, styles, withVersion } from "./_migration.ts";

export const inspect: Command = {
  help: `Usage: deno run -A cli.ts inspect CKPT [--migrations DIR] [--json] [--no-color]

Shows the migrations registered in CKPT, those it is missing, those it has
that the scripts do not (it cannot be migrated then), whether it is too old
to migrate, and the command that brings it up to date. Changes nothing.

Options:
  --migrations DIR  use the <timestamp>_<name>.ts scripts in DIR, not the shipped ones
  --json            print one JSON document instead of text
  --no-color        no colours (there are none either off a terminal or with NO_COLOR)
  --strict-globals  also warn about globals not on the allowlist
${policyHelp(20)}
${TIMEOUT_HELP}

Its data.pkl is scanned as 'scan' does: when loading it in Python would run
dangerous globals, a warning says so on stderr, whatever the migration
state; --json reports the scan as "globals".

Exit codes: 0 reported (whatever the state), 1 unreadable or not a training
checkpoint, 2 usage error. See 'check' for an exit code per state.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      migrations: { type: "string" },
      json: { type: "boolean" },
      "no-color": { type: "boolean" },
      timeout: { type: "string" },
      "strict-globals": { type: "boolean" },
      ...POLICY_OPTIONS,
    }, context);
    const path = onePath(positionals, "inspect");
    const policy = await policyFrom(values);
    const s = styles(values["no-color"]);
    context.subject = values.migrations;
    const migrations = await loadMigrations(values.migrations);
    context.subject = path;
    const report = await inspectCheckpoint(path, {
      migrations,
      policy,
      timeoutMs: timeoutOption(values.timeout),
    });
    const command = migrateCommand(path, values.migrations);
    const warning = globalsWarning(report.globals, values["strict-globals"]);
    if (warning !== undefined) console.error(`ckptkit: ${path}: ${warning}`);
    if (values.json) {
      const document = { ...report, command: report.status === "pending" ? command : null };
      console.log(JSON.stringify(document, (_key, value) => value ?? null));
      return 0;
    }
    const lines: string[] = [];
    if (report.status === "up-to-date") {
      lines.push("Your checkpoint is already compatible! No missing migration to execute.");
    }
    // As anemoi-models: a checkpoint outside the last group gets one line.
    if (report.status === "too-old") {
      console.log(s.red(
        "No compatible migration available: the checkpoint is too old. " +
          `Use a version of anemoi-models < ${report.firstIncompatibleVersion}.`,
      ));
      return 0;
    }
    if (report.status === "incompatible") {
      console.log(s.red(report.problem!.replace(/^Cannot migrate: /, "")));
      return 0;
    }
    const { registered } = report;
    if (registered.length > 0) {
      lines.push(`${plural(registered.length, "registered migration")}:`);
      lines.push(s.italic("  These migrations are already executed and part of the checkpoint"));
      for (const m of registered) {
        lines.push(s.cyan(`  * ${withVersion(m.name, m.version, s)}`));
      }
    }
    if (report.missing.length > 0) {
      lines.push(`${plural(report.missing.length, "missing migration")}:`);
      for (const m of report.missing) {
        lines.push(s.green(`  + ${withVersion(m.name, m.version, s)}`));
      }
    }
    if (report.extra.length > 0) {
      lines.push(`${plural(report.extra.length, "extra migration")} in the checkpoint.`);
      for (const name of report.extra) lines.push(s.red(`  + ${s.bold(name)}`));
      lines.push("");
      lines.push(
        s.red(s.italic("Your checkpoint cannot be migrated because it contains extra migrations.")),
      );
    }
    for (const name of report.changed) {
      lines.push(s.yellow(`The script of ${name} changed since it ran on this checkpoint.`));
    }
    if (report.status === "pending") {
      lines.push("", s.italic("To update your checkpoint, run:"), s.italic(`  ${command}`));
    }
    console.log(lines.join("\n"));
    return 0;
  },
};
