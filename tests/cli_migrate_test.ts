// `migrate` (alias `sync`) end to end through cli.ts: anemoi-models' test
// scenarios, backups, --out, --dry-run, --json and errors.
import assert from "node:assert/strict";
import { script } from "./_tools.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { cli, fileHash, fixture, scripts, withTempDir } from "./_migrate_cli.ts";

type Dict = PyDict<string, unknown>;

const FIRST = [
  "1750840837_add_foo",
  "1750841219_add_bar",
  "1750859824_add_baz",
  "1750859905_rename_baz",
];
const VERSIONS: Record<string, string> = {
  "1750840837_add_foo": "0.8.1",
  "1750841219_add_bar": "0.8.1",
  "1750859824_add_baz": "0.9.0",
  "1750859905_rename_baz": "0.9.0",
  "1751895203_recent": "0.9.0",
};
const migrateLines = (names: string[]) =>
  names.map((name) => `  + MIGRATE ${name} [v${VERSIONS[name]}]`);

async function rootOf(path: string): Promise<Dict> {
  const ckpt = await Checkpoint.open(path);
  ckpt.close();
  return ckpt.root as Dict;
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("cli migrate: all four first-group migrations run on an empty-registered checkpoint", async () => {
  await withTempDir(async (dir) => {
    const input = fixture("migration_empty.ckpt");
    const before = await fileHash(input);
    const out = `${dir}/out.ckpt`;
    const { code, stdout, stderr } = await cli([
      "migrate",
      input,
      "--migrations",
      scripts("first_group"),
      "--out",
      out,
    ]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(stdout.trimEnd().split("\n"), [
      `Wrote the migrated checkpoint to ${out}`,
      "Executed 4 operations:",
      ...migrateLines(FIRST),
    ]);
    assert.equal(await fileHash(input), before, "--out leaves the input alone");
    const migrated = await rootOf(out);
    assert.deepEqual((migrated.get("migrations") as Dict[]).map((e) => e.get("name")), FIRST);
    assert.deepEqual([migrated.get("foo"), migrated.get("bar"), migrated.get("test")], [
      "foo",
      "bar",
      "baz",
    ]);
    assert.equal(migrated.has("baz"), false);
  });
});

Deno.test("cli migrate: from [add_foo] three run; after the final migration only 'recent' runs", async () => {
  for (
    const [ckpt, dir, expected] of [
      ["migration_after_foo.ckpt", "first_group", FIRST.slice(1)],
      ["migration_recent.ckpt", "two_groups", ["1751895203_recent"]],
    ] as const
  ) {
    const { code, stdout } = await cli([
      "sync",
      fixture(ckpt),
      "--migrations",
      scripts(dir),
      "--dry-run",
    ]);
    assert.equal(code, 0);
    assert.deepEqual(stdout.trimEnd().split("\n"), [
      `Would execute ${expected.length} operation${expected.length === 1 ? "" : "s"}:`,
      ...migrateLines([...expected]),
    ]);
  }
});

Deno.test("cli migrate: extra, too-old and incompatible checkpoints are refused in one line", async () => {
  const cases = [
    [
      "migration_extra.ckpt",
      "first_group",
      /registers extra migrations: dummy$/,
    ],
    ["migration_too_old.ckpt", "two_groups", /too old; use a version of anemoi-models < 0\.9\.0$/],
    ["migration_no_key.ckpt", "two_groups", /not compatible, it has no 'migrations' key/],
    ["migration_recent.ckpt", "first_group", /not compatible, its first registered migration/],
    ["state_dict.ckpt", "two_groups", /regenerate the inference checkpoint/],
  ] as const;
  for (const [ckpt, dir, message] of cases) {
    const before = await fileHash(fixture(ckpt));
    const { code, stdout, stderr } = await cli([
      "migrate",
      fixture(ckpt),
      "--migrations",
      scripts(dir),
    ]);
    assert.equal(code, 1, ckpt);
    assert.equal(stdout, "");
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.ok(lines[0].startsWith(`ckptkit: ${fixture(ckpt)}: Cannot migrate: `), lines[0]);
    assert.match(lines[0], message);
    assert.equal(await fileHash(fixture(ckpt)), before);
  }
});

Deno.test("cli migrate: in place, the original is kept as {stem}-v{version}-{count} first", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/last.ckpt`;
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), path);
    const original = await fileHash(path);
    const { code, stdout, stderr } = await cli([
      "migrate",
      path,
      "--migrations",
      scripts("first_group"),
    ]);
    assert.equal(code, 0, stderr);
    const backup = `${dir}/last-vx.x.x-1.ckpt`;
    assert.equal(
      stdout.split("\n")[0],
      `Saved backed-up checkpoint here: ${await Deno.realPath(backup)}`,
    );
    assert.equal(await fileHash(backup), original);
    assert.equal((await rootOf(path)).get("test"), "baz");
    assert.deepEqual(await listDir(dir), ["last-vx.x.x-1.ckpt", "last.ckpt"], "no temp files left");

    // Up to date now: nothing is written, no backup made.
    const migrated = await fileHash(path);
    const again = await cli(["migrate", path, "--migrations", scripts("first_group")]);
    assert.equal(again.code, 0);
    assert.equal(
      again.stdout,
      "Your checkpoint is already compatible! No missing migration to execute.\n",
    );
    assert.equal(await fileHash(path), migrated);
    assert.deepEqual(await listDir(dir), ["last-vx.x.x-1.ckpt", "last.ckpt"]);

    // The same backup name again: a suffix, never an overwrite.
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), path);
    const third = await cli(["migrate", path, "--migrations", scripts("first_group"), "--json"]);
    assert.equal(third.code, 0);
    assert.equal(JSON.parse(third.stdout).backup, `${dir}/last-vx.x.x-1_1.ckpt`);
    assert.equal(await fileHash(backup), original);
    assert.equal(await fileHash(`${dir}/last-vx.x.x-1_1.ckpt`), original);
  });
});

Deno.test("cli migrate: through a symlink, the file it names is backed up and migrated", async () => {
  await withTempDir(async (dir) => {
    // Lightning's save_last="link": last.ckpt names the newest epoch's file.
    const real = `${dir}/epoch=3.ckpt`;
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), real);
    await Deno.symlink("epoch=3.ckpt", `${dir}/last.ckpt`);
    const original = await fileHash(real);
    const { code, stderr } = await cli([
      "migrate",
      `${dir}/last.ckpt`,
      "--migrations",
      scripts("first_group"),
    ]);
    assert.equal(code, 0, stderr);
    assert.ok((await Deno.lstat(`${dir}/last.ckpt`)).isSymlink);
    assert.equal(await fileHash(`${dir}/epoch=3-vx.x.x-1.ckpt`), original);
    assert.equal((await rootOf(real)).get("test"), "baz");
    assert.deepEqual(await listDir(dir), ["epoch=3-vx.x.x-1.ckpt", "epoch=3.ckpt", "last.ckpt"]);
  });
});

Deno.test("cli migrate: a checkpoint with no registered migration is backed up as {stem}-v0", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/model.ckpt`);
    const { code } = await cli([
      "migrate",
      `${dir}/model.ckpt`,
      "--migrations",
      scripts("first_group"),
    ]);
    assert.equal(code, 0);
    assert.deepEqual(await listDir(dir), ["model-v0.ckpt", "model.ckpt"]);
    // --out naming the input itself still keeps a backup first.
    await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/other.ckpt`);
    const same = await cli([
      "migrate",
      `${dir}/other.ckpt`,
      "--migrations",
      scripts("first_group"),
      "--out",
      `${dir}/./other.ckpt`,
    ]);
    assert.equal(same.code, 0);
    assert.deepEqual(await listDir(dir), [
      "model-v0.ckpt",
      "model.ckpt",
      "other-v0.ckpt",
      "other.ckpt",
    ]);
  });
});

Deno.test("cli migrate: --dry-run writes nothing; --json prints one document", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/last.ckpt`;
    await Deno.copyFile(fixture("migration_empty.ckpt"), path);
    const before = await fileHash(path);
    const { code, stdout } = await cli([
      "migrate",
      path,
      "--migrations",
      scripts("first_group"),
      "--dry-run",
      "--json",
    ]);
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.equal(report.status, "dry-run");
    assert.deepEqual(report.executed.map((m: { name: string }) => m.name), FIRST);
    assert.deepEqual([report.backup, report.output], [null, null]);
    assert.equal(await fileHash(path), before);
    assert.deepEqual(await listDir(dir), ["last.ckpt"]);
  });
});

Deno.test("cli migrate: a script changed since it ran is a warning on stderr", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out.ckpt`;
    await cli([
      "migrate",
      fixture("migration_empty.ckpt"),
      "--migrations",
      scripts("first_group"),
      "--out",
      out,
    ]);
    const ckpt = await Checkpoint.open(out);
    const hp = (ckpt.root as Dict).get("hyper_parameters") as Dict;
    const history = ((hp.get("metadata") as Dict).get("migrations") as Dict).get(
      "history",
    ) as Dict[];
    history[1].set("signature", "0".repeat(64));
    await ckpt.save(`${dir}/edited.ckpt`);
    ckpt.close();
    const { code, stdout, stderr } = await cli([
      "migrate",
      `${dir}/edited.ckpt`,
      "--migrations",
      scripts("first_group"),
    ]);
    assert.equal(code, 0);
    assert.match(stdout, /already compatible/);
    assert.equal(
      stderr,
      "ckptkit: warning: Your checkpoint has executed migration 1750841219_add_bar, but the " +
        "script has changed. Re-run the migrations if possible to use the new updated script.\n",
    );
    const quiet = await cli([
      "migrate",
      `${dir}/edited.ckpt`,
      "--migrations",
      scripts("first_group"),
      "--log-level",
      "error",
    ]);
    assert.equal(quiet.stderr, "");
  });
});

Deno.test("cli migrate: no colour codes off a terminal, --help, usage errors", async () => {
  const plain = await cli([
    "migrate",
    fixture("migration_after_foo.ckpt"),
    "--migrations",
    scripts("first_group"),
    "--dry-run",
  ]);
  assert.ok(!plain.stdout.includes("\x1b["));
  const noColor = await cli(
    [
      "migrate",
      fixture("migration_after_foo.ckpt"),
      "--migrations",
      scripts("first_group"),
      "--dry-run",
      "--no-color",
    ],
    { env: { NO_COLOR: "1" } },
  );
  assert.equal(noColor.stdout, plain.stdout);
  const help = await cli(["migrate", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno run -A cli\.ts migrate CKPT/);
  for (
    const args of [
      ["migrate"],
      ["migrate", "a", "b", "--out", "c"],
      ["migrate", "x.ckpt", "--log-level", "loud"],
      ["migrate", "x", "--bogus"],
    ]
  ) {
    const { code, stderr } = await cli(args);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, /^ckptkit: .*\(see --help\)\n$/);
  }
  const missing = await cli([
    "migrate",
    "/nonexistent/x.ckpt",
    "--migrations",
    scripts("first_group"),
  ]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, "ckptkit: /nonexistent/x.ckpt: Cannot open: no such file\n");
  const badDir = await cli(["migrate", "x.ckpt", "--migrations", "/nonexistent/dir"]);
  assert.equal(badDir.code, 1);
  assert.match(badDir.stderr, /^ckptkit: \/nonexistent\/dir: Cannot read migrations folder/);
});

Deno.test({
  name: "cli migrate: colours on a terminal, unless NO_COLOR or --no-color",
  ignore: script.ignore,
  async fn() {
    script.check();
    // util-linux `script` runs the command on a pseudo-terminal.
    const run = async (extra: string, env: Record<string, string>) => {
      const command = `"${Deno.execPath()}" run -A cli.ts migrate ${
        fixture("migration_after_foo.ckpt")
      } --migrations ${scripts("first_group")} --dry-run ${extra}`;
      const { stdout } = await new Deno.Command("script", {
        args: ["-qec", command, "/dev/null"],
        cwd: new URL("../", import.meta.url).pathname,
        env: { NO_COLOR: "", ...env },
      }).output();
      return new TextDecoder().decode(stdout);
    };
    const coloured = await run("", {});
    assert.ok(coloured.includes("\x1b[32m  + MIGRATE \x1b[1m1750841219_add_bar\x1b[22m"), coloured);
    assert.ok(!(await run("", { NO_COLOR: "1" })).includes("\x1b["));
    assert.ok(!(await run("--no-color", {})).includes("\x1b["));
  },
});
