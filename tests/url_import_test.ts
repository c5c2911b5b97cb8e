// mod.ts must work when imported by URL from a project that is not this
// one: no import map, no deno.json, no bare specifiers in the library.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

Deno.test("mod.ts imported by file:// URL from another folder migrates a checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fixture = new URL("tests/fixtures/migration_empty.ckpt", root).pathname;
    const scripts = new URL("tests/migrations/first_group", root).pathname;
    await Deno.writeTextFile(
      `${dir}/user.ts`,
      `import { Checkpoint, loadMigrationsFromDir, migrateCheckpoint } from "${
        new URL("mod.ts", root).href
      }";
const out = "${dir}/out.ckpt";
const report = await migrateCheckpoint(${JSON.stringify(fixture)}, {
  migrations: await loadMigrationsFromDir(${JSON.stringify(scripts)}),
  out,
});
const ckpt = await Checkpoint.open(out);
console.log(report.status, report.executed.length, ckpt.archiveName);
ckpt.close();
`,
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--no-lock", "user.ts"],
      cwd: dir,
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(new TextDecoder().decode(stdout), /^migrated 4 migration_empty$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the library has no bare import specifiers", async () => {
  const files = ["mod.ts"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) await walk(`${path}/`);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  await walk("lib/");
  await walk("migrations/");
  const bare: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, root));
    const specifiers = [
      ...text.matchAll(/^(?:import|export|\}).*\bfrom\s+["']([^"']+)["']/gm),
      ...text.matchAll(/^import\s+["']([^"']+)["']/gm),
      ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ].map((match) => match[1]);
    for (const specifier of specifiers) {
      if (!/^(\.{1,2}\/|node:|npm:|jsr:|https?:|file:)/.test(specifier)) {
        bare.push(`${file}: ${specifier}`);
      }
    }
  }
  assert.ok(files.length > 30);
  assert.deepEqual(bare, []);
});
