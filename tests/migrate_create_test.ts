// New scripts from the template: names, content, registry update, and that
// a created script loads and runs.
import assert from "node:assert/strict";
import { createMigration, migrationTemplate, snakeCaseName } from "../lib/migrate/create.ts";
import { loadMigrationsFromDir, migrationsFromRegistry } from "../lib/migrate/registry.ts";
import { Migrator } from "../lib/migrate/migrator.ts";
import { fixture, withTempDir } from "./_migrate_cli.ts";

Deno.test("names are normalised to snake_case", () => {
  assert.equal(snakeCaseName("add-foo"), "add_foo");
  assert.equal(snakeCaseName("Rename SWA to weight averaging"), "rename_swa_to_weight_averaging");
  assert.equal(snakeCaseName("moveToMultipleDatasets"), "move_to_multiple_datasets");
  assert.equal(snakeCaseName("  GLU mlp 2 "), "glu_mlp_2");
  assert.throws(() => snakeCaseName("--"), /empty name/);
});

Deno.test("the template has a setup only when asked, and a final migration has no callbacks", () => {
  const options = { version: "0.9.0", importFrom: "../mod.ts" };
  const plain = migrationTemplate(options);
  assert.match(plain, /export function migrate\(ckpt: CkptType\): CkptType/);
  assert.doesNotMatch(plain, /migrateSetup|MigrationContext|final/);
  assert.match(plain, /import type \{ CkptType, MigrationMetadata \} from "\.\.\/mod\.ts";/);
  const setup = migrationTemplate({ ...options, withSetup: true });
  assert.match(setup, /export function migrateSetup\(context: MigrationContext\): void/);
  const final = migrationTemplate({ ...options, final: true });
  assert.match(final, /final: true,/);
  assert.doesNotMatch(final, /function|CkptType/);
  assert.throws(() => migrationTemplate({ ...options, final: true, withSetup: true }), /final/);
});

const REGISTRY = `import { migrationsFromRegistry, type RegistryEntry } from "MIGRATE";

export const MIGRATIONS: readonly RegistryEntry[] = [
  // ckptkit-registry-start: generated
  // ckptkit-registry-end
];

export const loadMigrations = () => migrationsFromRegistry(MIGRATIONS, import.meta.url);
`;

Deno.test("create writes a timestamped script that loads, runs, lints and joins the registry", async () => {
  await withTempDir(async (dir) => {
    const registry = new URL("../lib/migrate/registry.ts", import.meta.url).href;
    await Deno.writeTextFile(`${dir}/mod.ts`, REGISTRY.replace("MIGRATE", registry));
    const now = Date.UTC(2025, 0, 2) + 0.5;
    const first = await createMigration(dir, "Add Foo", { version: "0.9.0", now });
    assert.equal(first.name, `${Date.UTC(2025, 0, 2) / 1000}_add_foo`);
    assert.equal(first.registry, true);
    // Same second: the timestamp moves past the last script; the version is taken from it.
    const second = await createMigration(dir, "move things", { withSetup: true, now });
    assert.equal(second.name, `${Date.UTC(2025, 0, 2) / 1000 + 1}_move_things`);
    assert.match(await Deno.readTextFile(second.path), /"anemoi-models": "0\.9\.0"/);
    await assert.rejects(() => createMigration(`${dir}/missing`, "x", { now }), Error);

    const loaded = await loadMigrationsFromDir(dir);
    assert.deepEqual(loaded.map((m) => m.name), [first.name, second.name]);
    const registered = await (await import(`${dir}/mod.ts`)).loadMigrations();
    assert.deepEqual(
      registered.map((m: { name: string; digest: string }) => [m.name, m.digest]),
      loaded.map((m) => [m.name, m.digest]),
    );
    const text = await Deno.readTextFile(`${dir}/mod.ts`);
    assert.match(text, new RegExp(`script: await import\\("\\./${second.name}\\.ts"\\)`));
    // An entry without a digest has it read from the source next to the registry.
    const [fromSource] = await migrationsFromRegistry(
      [{ name: first.name, script: await import(first.path) }],
      `file://${dir}/mod.ts`,
    );
    assert.equal(fromSource.digest, loaded[0].digest);

    const run = await new Migrator(loaded).run(fixture("migration_empty.ckpt"));
    run.checkpoint.close();
    assert.equal(run.executed.length, 2);

    for (const args of [["lint", dir], ["fmt", "--check", first.path, second.path]]) {
      const { success, stderr } = await new Deno.Command(Deno.execPath(), { args, cwd: dir })
        .output();
      assert.ok(success, `deno ${args[0]}: ${new TextDecoder().decode(stderr)}`);
    }
  });
});

Deno.test("create without a version refuses an empty folder", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(() => createMigration(dir, "first"), /anemoi-models version/);
    const final = await createMigration(dir, "first", { version: "1.0.0", final: true });
    assert.equal(final.registry, false);
    const [migration] = await loadMigrationsFromDir(dir);
    assert.equal(migration.final, true);
    assert.equal(migration.migrate, undefined);
  });
});
