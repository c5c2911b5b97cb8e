// `migrate` (alias `sync`): bring training checkpoints up to date, one file
// or many (folders, job-array shards).
import {
  findCheckpoints,
  parseShard,
  runPool,
  type Shard,
  slurmShard,
  takeShard,
} from "../migrate/batch.ts";
import type { Migration } from "../migrate/migration.ts";
import type { ScanPolicy } from "../scan/policy.ts";
import { migrateCheckpoint, type MigrationReport } from "../migrate/migrate_checkpoint.ts";
import type { MigrationLog } from "../migrate/migrator.ts";
import {
  type Command,
  type CommandContext,
  describeError,
  integerOption,
  parse,
  UsageError,
} from "./_command.ts";
import { POLICY_OPTIONS, policyFrom, policyHelp } from "./_globals.ts";
import { stderrProgress } from "./_progress.ts";
import {
  loadMigrations,
  plural,
  stderrLog,
  type Styles,
  styles,
  withVersion,
} from "./_migration.ts";

export const migrate: Command = {
  help: `Usage: deno run -A cli.ts migrate CKPT [options]     (alias: sync)
       deno run -A cli.ts migrate PATH... [--recursive] [--jobs N] [--shard i/n] [options]

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
  --lock-timeout S  wait up to S seconds (default 10) while another process
                    migrates the same file, then give up; after waiting, the
                    file it migrated is read, so nothing runs twice
  --allow-dangerous-globals
                    write the result even when data.pkl references globals that
                    run code on load (os.system, eval, ...; see 'scan'): refused
                    by default
  --strict-globals  also refuse globals that are not on the allowlist (see
                    'scan': unknown ones); off by default
${policyHelp(20)}
  --no-verify       skip re-reading the written file before it replaces
                    anything (central directory, data.pkl, storage sizes, the
                    CRC-32 of new records); on by default
  --quiet, -q       print nothing on success (no progress bar, no list of
                    migrations; many files: only the failures, on stderr);
                    --json still prints its document

A progress bar is drawn on stderr while writing, when stderr is a terminal.

Many checkpoints: give several files or folders. Folders contain the files
ending in --ext (default .ckpt); --recursive also searches their subfolders.
Each file is migrated in place with its backup, --jobs N at a time (default 1);
a failing file does not stop the others. One line per file, then a summary.
  --recursive       search subfolders of the folders given
  --ext EXT         file name ending of checkpoints in folders (default .ckpt)
  --include-backups also take the backups migrate made from folders; they are
                    skipped by default, and listed as skipped: a backup is
                    {stem}-v{version}-{count}.ckpt (or {stem}-v0.ckpt) beside
                    {stem}.ckpt, registering that many migrations
  --jobs N          migrate N files at a time (default 1)
  --shard i/n       migrate only shard i of n (0 <= i < n): a stable split of the
                    files for job arrays; inside a Slurm job array the shard comes
                    from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT

Exit codes: 0 migrated or already up to date, 1 cannot be migrated (too old,
extra migrations, not a training checkpoint) or a migration failed (for many
files: any file failed), 2 usage error.`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      out: { type: "string" },
      "dry-run": { type: "boolean" },
      migrations: { type: "string" },
      json: { type: "boolean" },
      "no-color": { type: "boolean" },
      "log-level": { type: "string" },
      recursive: { type: "boolean" },
      ext: { type: "string" },
      jobs: { type: "string" },
      shard: { type: "string" },
      "include-backups": { type: "boolean" },
      "allow-dangerous-globals": { type: "boolean" },
      "strict-globals": { type: "boolean" },
      ...POLICY_OPTIONS,
      "lock-timeout": { type: "string" },
      "no-verify": { type: "boolean" },
    }, context);
    const verify = !values["no-verify"];
    if (positionals.length === 0) throw new UsageError("migrate needs a checkpoint path");
    const log = stderrLog(values["log-level"]);
    const s = styles(values["no-color"]);
    const jobs = integerOption(values.jobs, "jobs") ?? 1;
    const lockTimeout = integerOption(values["lock-timeout"], "lock-timeout");
    const lockTimeoutMs = lockTimeout === undefined ? undefined : lockTimeout * 1000;
    if (jobs < 1) throw new UsageError("--jobs needs at least 1");
    const shard = values.shard === undefined
      ? slurmShard(Deno.env)
      : parseShardOption(values.shard);
    const batch = positionals.length > 1 || shard !== undefined ||
      (await Deno.stat(positionals[0]).catch(() => undefined))?.isDirectory === true;
    if (batch && values.out !== undefined) {
      throw new UsageError("--out takes one checkpoint, not several or a folder");
    }
    const policy = await policyFrom(values);
    const strictGlobals = values["strict-globals"];
    context.subject = values.migrations;
    const migrations = await loadMigrations(values.migrations);
    if (batch) {
      const skipped: { path: string; status: "skipped"; reason: string }[] = [];
      const found = await findCheckpoints(positionals, {
        recursive: values.recursive,
        ext: values.ext,
        includeBackups: values["include-backups"],
        onSkip: (path, reason) => skipped.push({ path, status: "skipped", reason }),
      });
      const files = shard === undefined ? found : takeShard(found, shard, values.ext);
      const allowDangerousGlobals = values["allow-dangerous-globals"];
      return await migrateMany(files, {
        migrations,
        log,
        jobs,
        dryRun: values["dry-run"],
        allowDangerousGlobals,
        strictGlobals,
        policy,
        lockTimeoutMs,
        verify,
      }, {
        json: values.json,
        skipped: shard === undefined
          ? skipped
          : skipped.filter((x) => takeShard([x.path], shard, values.ext).length === 1),
        quiet: context.quiet,
        s,
        shard,
        total: found.length,
        context,
      });
    }
    const path = positionals[0];
    context.subject = path;
    const bar = stderrProgress("migrate", { quiet: context.quiet, json: values.json });
    let report: MigrationReport;
    try {
      report = await migrateCheckpoint(path, {
        migrations,
        out: values.out,
        dryRun: values["dry-run"],
        log,
        allowDangerousGlobals: values["allow-dangerous-globals"],
        strictGlobals,
        policy,
        lockTimeoutMs,
        verify,
        onProgress: bar && ((progress) => bar.update(progress)),
      });
    } finally {
      bar?.done();
    }
    if (values.json) {
      console.log(JSON.stringify(report, (_key, value) => value ?? null));
      return 0;
    }
    if (context.quiet) return 0;
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

function parseShardOption(text: string): Shard {
  try {
    return parseShard(text);
  } catch (error) {
    throw new UsageError(`--shard: ${(error as Error).message}`);
  }
}

type FileResult = MigrationReport | { path: string; status: "failed"; error: string };

async function migrateMany(
  files: string[],
  options: {
    migrations: Migration[];
    log: MigrationLog;
    jobs: number;
    dryRun?: boolean;
    allowDangerousGlobals?: boolean;
    strictGlobals?: boolean;
    policy?: ScanPolicy;
    lockTimeoutMs?: number;
    verify?: boolean;
  },
  output: {
    json?: boolean;
    quiet: boolean;
    skipped: { path: string; status: "skipped"; reason: string }[];
    s: Styles;
    shard: Shard | undefined;
    total: number;
    context: CommandContext;
  },
): Promise<number> {
  const { s } = output;
  const results = await runPool(files, options.jobs, async (path): Promise<FileResult> => {
    let result: FileResult;
    try {
      result = await migrateCheckpoint(path, options);
    } catch (error) {
      result = { path, status: "failed", error: describeError(error, undefined) };
    }
    if (output.json) return result;
    // Quiet: only the failures, on stderr, as errors are.
    if (!output.quiet) console.log(fileLine(result, s));
    else if (result.status === "failed") console.error(`ckptkit: ${result.path}: ${result.error}`);
    return result;
  });
  const count = (status: string) => results.filter((r) => r.status === status).length;
  if (!output.json && !output.quiet) {
    for (const { path, reason } of output.skipped) console.log(`skipped     ${path}: ${reason}`);
  }
  const summary = {
    files: results.length,
    skipped: output.skipped.length,
    migrated: count("migrated"),
    up_to_date: count("up-to-date"),
    dry_run: count("dry-run"),
    failed: count("failed"),
    shard: output.shard === undefined ? null : `${output.shard.index}/${output.shard.count}`,
    found: output.total,
  };
  if (output.json) {
    console.log(
      JSON.stringify(
        { summary, files: results, skipped: output.skipped },
        (_key, value) => value ?? null,
      ),
    );
  } else if (!output.quiet) {
    const parts = [
      `${summary.migrated} migrated`,
      `${summary.up_to_date} up to date`,
      ...(summary.dry_run > 0 ? [`${summary.dry_run} would migrate`] : []),
      `${summary.failed} failed`,
      ...(summary.skipped > 0 ? [`${summary.skipped} skipped (backups)`] : []),
    ];
    const where = output.shard === undefined
      ? ""
      : ` (shard ${summary.shard} of ${plural(output.total, "file")})`;
    console.log(`${plural(results.length, "file")}${where}: ${parts.join(", ")}`);
  }
  return summary.failed > 0 ? 1 : 0;
}

function fileLine(result: FileResult, s: Styles): string {
  switch (result.status) {
    case "failed":
      return s.red(`failed      ${result.path}: ${result.error}`);
    case "up-to-date":
      return `up to date  ${result.path}`;
    case "dry-run":
      return `would run   ${result.path}: ${
        result.executed.map((m) => withVersion(m.name, m.version, s)).join(", ")
      }`;
    default:
      return s.green(
        `migrated    ${result.path}: ${
          plural(result.executed.length, "migration")
        }, backup ${result.backup}`,
      );
  }
}
