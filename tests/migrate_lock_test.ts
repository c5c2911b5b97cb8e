// Two migrate runs on one checkpoint never both write it.
import assert from "node:assert/strict";
import { lockFile } from "../lib/torch/file_lock.ts";
import { runCli } from "./_cli.ts";

const fixture = new URL("./fixtures/migration_empty.ckpt", import.meta.url).pathname;
const scripts = new URL("./migrations/first_group", import.meta.url).pathname;

async function withCopy(body: (dir: string, path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(fixture, `${dir}/last.ckpt`);
    await body(dir, `${dir}/last.ckpt`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("migrate refuses a checkpoint another process keeps locked", async () => {
  await withCopy(async (dir, path) => {
    const lock = await lockFile(path);
    try {
      const { code, stderr } = await runCli([
        "migrate",
        path,
        "--migrations",
        scripts,
        "--lock-timeout",
        "0",
      ]);
      assert.equal(code, 1);
      assert.match(
        stderr.trim(),
        /^ckptkit: \S+last\.ckpt: Cannot migrate: the checkpoint is locked/,
      );
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["last.ckpt"]);
    } finally {
      lock.release();
    }
  });
});

Deno.test("a migrate that waited reads the file the other process wrote", async () => {
  await withCopy(async (dir, path) => {
    // What "the other process" will put in place: the migrated checkpoint.
    const prepared = await runCli([
      "migrate",
      path,
      "--out",
      `${dir}/new.ckpt`,
      "--migrations",
      scripts,
    ]);
    assert.equal(prepared.code, 0, prepared.stderr);
    const lock = await lockFile(path);
    const waiting = runCli(["migrate", path, "--migrations", scripts]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await Deno.rename(`${dir}/new.ckpt`, path);
    lock.release();
    const second = await waiting;
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /already compatible/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["last.ckpt"]);
  });
});

Deno.test("two concurrent migrate runs: one migrates, the other finds it done", async () => {
  await withCopy(async (dir, path) => {
    const runs = await Promise.all(
      [0, 1, 2].map(() => runCli(["migrate", path, "--migrations", scripts])),
    );
    assert.ok(runs.every((r) => r.code === 0), runs.map((r) => r.stderr).join("\n"));
    const migrated = runs.filter((r) => /Executed 4 operations/.test(r.stdout));
    const done = runs.filter((r) => /already compatible/.test(r.stdout));
    assert.equal(migrated.length, 1);
    assert.equal(done.length, 2);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["last-v0.ckpt", "last.ckpt"]);
  });
});
