// The single-file bundle runs on its own: no repository, no deno.json, no
// network; only the bundle and a checkpoint in an otherwise empty folder.
// CI runs this test: it is how the bundle is proven.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;

Deno.test("the bundle built by `deno task bundle` runs from an empty folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bundle = `${dir}/ckptkit.js`;
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "-o", bundle, `${root}cli.ts`],
      cwd: root,
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    await Deno.copyFile(`${root}tests/fixtures/example_training.ckpt`, `${dir}/last.ckpt`);
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-config", "ckptkit.js", ...args],
        cwd: dir,
        env: { NO_COLOR: "1" },
      }).output();
    // Every registered migration is inside the bundle.
    const migrate = await run(["migrate", "last.ckpt"]);
    assert.equal(migrate.code, 0, new TextDecoder().decode(migrate.stderr));
    assert.match(new TextDecoder().decode(migrate.stdout), /Executed 9 operations/);
    const check = await run(["check", "last.ckpt"]);
    assert.equal(check.code, 0, new TextDecoder().decode(check.stdout));
    const show = await run(["show", "last.ckpt", "--depth", "1"]);
    assert.match(new TextDecoder().decode(show.stdout), /'state_dict': collections\.OrderedDict/);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["ckptkit.js", "last-v0.9.4-1.ckpt", "last.ckpt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
