// `check` end to end through cli.ts: one exit code per state.
import assert from "node:assert/strict";
import { cli, fixture, scripts } from "./_migrate_cli.ts";

Deno.test("cli check: 0 up to date, 1 pending, 3 cannot be migrated, 2 unreadable", async () => {
  const cases = [
    [
      "migration_after_foo.ckpt",
      "first_group",
      1,
      /^.*: 3 migrations pending: 1750841219_add_bar, 1750859824_add_baz, 1750859905_rename_baz\n$/,
    ],
    ["migration_recent.ckpt", "two_groups", 1, /: 1 migration pending: 1751895203_recent\n$/],
    [
      "migration_extra.ckpt",
      "first_group",
      3,
      /Cannot migrate: the checkpoint registers extra migrations: dummy\n$/,
    ],
    ["migration_recent.ckpt", "first_group", 3, /is not compatible, its first registered/],
    ["migration_no_key.ckpt", "two_groups", 3, /is not compatible, it has no 'migrations' key/],
    [
      "migration_too_old.ckpt",
      "two_groups",
      3,
      /too old; use a version of anemoi-models < 0\.9\.0\n$/,
    ],
    ["state_dict.ckpt", "first_group", 3, /only training checkpoints can be migrated/],
    ["no_such_file.ckpt", "first_group", 2, /no_such_file\.ckpt: Cannot open: no such file\n$/],
  ] as const;
  for (const [ckpt, dir, expected, message] of cases) {
    const { code, stdout, stderr } = await cli([
      "check",
      fixture(ckpt),
      "--migrations",
      scripts(dir),
    ]);
    assert.equal(code, expected, `${ckpt}: ${stderr}`);
    assert.match(expected === 1 ? stdout : stderr, message);
    if (expected !== 1) assert.equal(stderr.split("\n").length, 2, "one line");
  }
});

Deno.test("cli check: a migrated checkpoint is up to date", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/out.ckpt`;
    const migrated = await cli([
      "migrate",
      fixture("migration_recent.ckpt"),
      "--migrations",
      scripts("two_groups"),
      "--out",
      out,
    ]);
    assert.equal(migrated.code, 0);
    const { code, stdout } = await cli(["check", out, "--migrations", scripts("two_groups")]);
    assert.equal(code, 0);
    assert.equal(stdout, `${out}: up to date\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli check: usage errors exit 2; --help", async () => {
  assert.equal((await cli(["check"])).code, 2);
  assert.equal((await cli(["check", "a", "--json"])).code, 2);
  const help = await cli(["check", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit codes: 0 up to date, 1 migrations pending, 2 usage error/);
});
