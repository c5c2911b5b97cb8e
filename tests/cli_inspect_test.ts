// `inspect` end to end through cli.ts.
import assert from "node:assert/strict";
import { cli, fixture, scripts } from "./_migrate_cli.ts";

Deno.test("cli inspect: registered and missing migrations, and the command to run", async () => {
  const path = fixture("migration_after_foo.ckpt");
  const { code, stdout } = await cli(["inspect", path, "--migrations", scripts("first_group")]);
  assert.equal(code, 0);
  assert.equal(
    stdout,
    `1 registered migration:
  These migrations are already executed and part of the checkpoint
  * 1750840837_add_foo [vx.x.x]
3 missing migrations:
  + 1750841219_add_bar [v0.8.1]
  + 1750859824_add_baz [v0.9.0]
  + 1750859905_rename_baz [v0.9.0]

To update your checkpoint, run:
  deno run -A cli.ts migrate ${path} --migrations ${scripts("first_group")}
`,
  );
});

Deno.test("cli inspect: extra migrations, too old, and up to date", async () => {
  const extra = await cli([
    "inspect",
    fixture("migration_extra.ckpt"),
    "--migrations",
    scripts("first_group"),
  ]);
  assert.equal(extra.code, 0);
  assert.equal(
    extra.stdout,
    `2 registered migrations:
  These migrations are already executed and part of the checkpoint
  * 1750840837_add_foo [vx.x.x]
  * dummy [vx.x.x]
3 missing migrations:
  + 1750841219_add_bar [v0.8.1]
  + 1750859824_add_baz [v0.9.0]
  + 1750859905_rename_baz [v0.9.0]
1 extra migration in the checkpoint.
  + dummy

Your checkpoint cannot be migrated because it contains extra migrations.
`,
  );
  const old = await cli([
    "inspect",
    fixture("migration_too_old.ckpt"),
    "--migrations",
    scripts("two_groups"),
  ]);
  assert.equal(
    old.stdout,
    "No compatible migration available: the checkpoint is too old. Use a version of anemoi-models < 0.9.0.\n",
  );
  const recent = await cli([
    "inspect",
    fixture("migration_recent.ckpt"),
    "--migrations",
    scripts("first_group"),
  ]);
  // A checkpoint of the second group, under the first group's scripts alone.
  assert.equal(
    recent.stdout,
    "the checkpoint is not compatible, its first registered migration 1751895180_final starts " +
      "no compatibility group of these scripts\n",
  );
  const noKey = await cli([
    "inspect",
    fixture("migration_no_key.ckpt"),
    "--migrations",
    scripts("two_groups"),
  ]);
  assert.match(noKey.stdout, /^the checkpoint is not compatible, it has no 'migrations' key/);
});

Deno.test("cli inspect: --json is one document; a non-training checkpoint is an error", async () => {
  const path = fixture("migration_recent.ckpt");
  const { code, stdout } = await cli([
    "inspect",
    path,
    "--migrations",
    scripts("two_groups"),
    "--json",
  ]);
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.equal(report.status, "pending");
  assert.deepEqual(report.registered, [{ name: "1751895180_final", version: "0.9.0" }]);
  assert.deepEqual(report.missing, [{ name: "1751895203_recent", version: "0.9.0" }]);
  assert.deepEqual(report.extra, []);
  assert.equal(report.firstIncompatibleVersion, null);
  assert.equal(
    report.command,
    `deno run -A cli.ts migrate ${path} --migrations ${scripts("two_groups")}`,
  );

  const inference = await cli([
    "inspect",
    fixture("state_dict.ckpt"),
    "--migrations",
    scripts("two_groups"),
  ]);
  assert.equal(inference.code, 1);
  assert.match(
    inference.stderr,
    /^ckptkit: .*state_dict\.ckpt: Cannot migrate: only training checkpoints/,
  );
  const help = await cli(["inspect", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno run -A cli\.ts inspect CKPT/);
});

Deno.test("cli inspect: the shipped registry is used without --migrations", async () => {
  const { code, stdout, stderr } = await cli([
    "inspect",
    fixture("migration_empty.ckpt"),
    "--json",
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.deepEqual(report.registered, []);
  assert.ok(["up-to-date", "pending", "too-old"].includes(report.status));
});
