// `create` end to end through cli.ts, in a scratch migrations folder.
import assert from "node:assert/strict";
import { loadMigrationsFromDir } from "../lib/migrate/registry.ts";
import { cli, withTempDir } from "./_migrate_cli.ts";

Deno.test("cli create: writes <timestamp>_<snake_name>.ts and registers it", async () => {
  await withTempDir(async (dir) => {
    const registry = new URL("../lib/migrate/registry.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/mod.ts`,
      `import type { RegistryEntry } from "${registry}";
export const MIGRATIONS: readonly RegistryEntry[] = [
  // ckptkit-registry-start
  // ckptkit-registry-end
];
`,
    );
    const before = Math.floor(Date.now() / 1000);
    const { code, stdout, stderr } = await cli([
      "create",
      "Rename SWA",
      "--migrations",
      dir,
      "--anemoi-models",
      "0.15.0",
      "--with-setup",
    ]);
    assert.equal(code, 0, stderr);
    const match = /^Created migration (.*\/(\d+)_rename_swa\.ts)\nRegistered it in .*mod\.ts\n$/
      .exec(stdout);
    assert.ok(match, stdout);
    assert.ok(Number(match[2]) >= before && Number(match[2]) <= Math.floor(Date.now() / 1000) + 1);
    const text = await Deno.readTextFile(match[1]);
    assert.match(text, /"anemoi-models": "0\.15\.0"/);
    assert.match(text, /export function migrateSetup\(context: MigrationContext\)/);
    assert.match(
      await Deno.readTextFile(`${dir}/mod.ts`),
      new RegExp(`name: "${match[2]}_rename_swa"`),
    );

    const final = await cli(["create", "cut", "--final", "--migrations", dir]);
    assert.equal(final.code, 0, final.stderr);
    const migrations = await loadMigrationsFromDir(dir);
    assert.deepEqual(migrations.map((m) => [m.name.replace(/^\d+_/, ""), m.final, m.version]), [
      ["rename_swa", false, "0.15.0"],
      ["cut", true, "0.15.0"],
    ]);
  });
});

Deno.test("cli create: --final with --with-setup, no name, or no version are refused", async () => {
  await withTempDir(async (dir) => {
    const both = await cli(["create", "x", "--final", "--with-setup", "--migrations", dir]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /final migration cannot have setup callbacks/);
    assert.equal((await cli(["create", "--migrations", dir])).code, 2);
    const noVersion = await cli(["create", "x", "--migrations", dir]);
    assert.equal(noVersion.code, 1);
    assert.match(noVersion.stderr, /no script to take the anemoi-models version from/);
    const entries = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
    assert.deepEqual(entries, []);
    assert.equal((await cli(["create", "--help"])).code, 0);
  });
});
