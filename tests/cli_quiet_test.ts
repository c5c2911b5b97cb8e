// --quiet (-q) on every command: no progress and no informational lines;
// results (--json, show's tree, scan's listing) still print and errors
// still go to stderr.
import assert from "node:assert/strict";
import { cli, fixture, scripts, withTempDir } from "./_migrate_cli.ts";

Deno.test("--quiet: migrate, rewrite, verify, create and fix-order print nothing on success", async () => {
  await withTempDir(async (dir) => {
    const migrate = await cli([
      "migrate",
      fixture("migration_after_foo.ckpt"),
      "--migrations",
      scripts("first_group"),
      "--out",
      `${dir}/out.ckpt`,
      "--quiet",
    ]);
    assert.deepEqual(migrate, { code: 0, stdout: "", stderr: "" });
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), `${dir}/in.ckpt`);
    const inPlace = await cli([
      "migrate",
      `${dir}/in.ckpt`,
      "--migrations",
      scripts("first_group"),
      "-q",
    ]);
    assert.deepEqual(inPlace, { code: 0, stdout: "", stderr: "" });
    const rewrite = await cli(["rewrite", `${dir}/out.ckpt`, "--out", `${dir}/copy.ckpt`, "-q"]);
    assert.deepEqual(rewrite, { code: 0, stdout: "", stderr: "" });
    const verify = await cli(["verify", `${dir}/copy.ckpt`, "--quiet"]);
    assert.deepEqual(verify, { code: 0, stdout: "", stderr: "" });
    await Deno.mkdir(`${dir}/scripts`);
    const create = await cli([
      "create",
      "rename-x",
      "--migrations",
      `${dir}/scripts`,
      "--anemoi-models",
      "1.0.0",
      "-q",
    ]);
    assert.deepEqual(create, { code: 0, stdout: "", stderr: "" });
    assert.equal([...Deno.readDirSync(`${dir}/scripts`)].length, 1);
  });
});

Deno.test("--quiet: check answers with its exit code alone; errors still print", async () => {
  const pending = await cli([
    "check",
    fixture("migration_after_foo.ckpt"),
    "--migrations",
    scripts("first_group"),
    "--quiet",
  ]);
  assert.deepEqual(pending, { code: 1, stdout: "", stderr: "" });
  const extra = await cli([
    "check",
    fixture("migration_extra.ckpt"),
    "--migrations",
    scripts("first_group"),
    "-q",
  ]);
  assert.equal(extra.code, 3);
  assert.equal(extra.stdout, "");
  assert.match(extra.stderr, /^ckptkit: .*: Cannot migrate: the checkpoint registers extra/);
  const missing = await cli(["check", "/nonexistent/x.ckpt", "-q"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Cannot open: no such file/);
});

Deno.test("--quiet: results still print (--json, show, scan, inspect, dis)", async () => {
  const path = fixture("migration_after_foo.ckpt");
  for (const args of [["show", path], ["scan", path], ["dis", path], ["show", path, "--json"]]) {
    const loud = await cli(args);
    const quiet = await cli([...args, "--quiet"]);
    assert.equal(quiet.code, loud.code);
    assert.equal(quiet.stdout, loud.stdout, args.join(" "));
    assert.notEqual(quiet.stdout, "");
  }
  const inspect = await cli(["inspect", path, "--migrations", scripts("first_group"), "-q"]);
  assert.match(inspect.stdout, /3 missing migrations/);
  const json = await cli([
    "migrate",
    path,
    "--migrations",
    scripts("first_group"),
    "--dry-run",
    "--json",
    "-q",
  ]);
  assert.equal(JSON.parse(json.stdout).status, "dry-run");
});

Deno.test("--quiet: a batch migrate reports only its failures, on stderr", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), `${dir}/a.ckpt`);
    await Deno.copyFile(fixture("migration_extra.ckpt"), `${dir}/b.ckpt`);
    const { code, stdout, stderr } = await cli([
      "migrate",
      dir,
      "--migrations",
      scripts("first_group"),
      "--quiet",
    ]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.deepEqual(stderr.trimEnd().split("\n"), [
      `ckptkit: ${dir}/b.ckpt: Cannot migrate: the checkpoint registers extra migrations: dummy`,
    ]);
  });
});
