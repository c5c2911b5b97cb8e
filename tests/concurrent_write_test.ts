// Other processes writing while ckptkit writes: a rewrite through a link
// never undoes a migrate of the file it names; a checkpoint replaced while
// it is migrated in place is kept (and so is what was read, as the
// backup); an input written to during a save fails the save. In every case
// no write is lost and nothing half-written takes a checkpoint's place.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { registeredMigrations } from "../lib/migrate/registration.ts";
import { verifyCheckpoint } from "../lib/torch/verify.ts";
import { writeBigTraining } from "./_big_checkpoint.ts";
import { cli, fileHash, fixture, scripts, withTempDir } from "./_migrate_cli.ts";

const FIRST = scripts("first_group");
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function spawnCli(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

async function finished(child: Deno.ChildProcess): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await child.output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/** Waits until a hidden temporary file appears in `dir`: a save is writing. */
async function whileWriting(dir: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ([...Deno.readDirSync(dir)].some((e) => e.name.endsWith(".ckptkit-tmp"))) return;
    await sleep(2);
  }
  throw new Error("no save started");
}

async function registeredCount(path: string): Promise<number> {
  const ckpt = await Checkpoint.open(path);
  try {
    return registeredMigrations(ckpt.root)?.length ?? 0;
  } finally {
    ckpt.close();
  }
}

Deno.test("a rewrite through a symlink never undoes a concurrent migrate of the file", async () => {
  await withTempDir(async (dir) => {
    for (let run = 0; run < 8; run++) {
      const path = `${dir}/a.ckpt`;
      await Deno.remove(path).catch(() => {});
      for (const e of Deno.readDirSync(dir)) await Deno.remove(`${dir}/${e.name}`);
      await writeBigTraining(path, 32 << 20);
      await Deno.symlink("a.ckpt", `${dir}/link.ckpt`);
      // Started in either order, a little apart.
      const first = run % 2 === 0 ? "migrate" : "rewrite";
      const start = (which: string) =>
        spawnCli(
          which === "migrate"
            ? ["migrate", path, "--migrations", FIRST, "-q"]
            : ["rewrite", path, "--out", `${dir}/link.ckpt`, "-q"],
        );
      const a = start(first);
      await sleep(run * 15);
      const b = start(first === "migrate" ? "rewrite" : "migrate");
      const results = await Promise.all([finished(a), finished(b)]);
      const what = `run ${run}: ${JSON.stringify(results)}`;
      // Each either did its job or refused cleanly; the migration stands.
      for (const r of results) assert.ok(r.code === 0 || /^ckptkit: .*Cannot/.test(r.stderr), what);
      assert.equal(await registeredCount(path), 4, what);
      assert.ok(Deno.lstatSync(`${dir}/link.ckpt`).isSymlink, what);
      assert.deepEqual((await verifyCheckpoint(path)).problems, [], what);
    }
  });
});

Deno.test("a checkpoint replaced by another process during an in-place migrate is kept", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.ckpt`;
    await writeBigTraining(path, 256 << 20);
    const original = await fileHash(path);
    await Deno.copyFile(fixture("example_training.ckpt"), `${dir}/newer`);
    const newer = await fileHash(`${dir}/newer`);
    const migrate = spawnCli(["migrate", path, "--migrations", FIRST]);
    await whileWriting(dir);
    // cp newer .incoming && mv .incoming a.ckpt, as a training job saves.
    await Deno.copyFile(`${dir}/newer`, `${dir}/.incoming`);
    await Deno.rename(`${dir}/.incoming`, path);
    const { code, stderr } = await finished(migrate);
    assert.equal(code, 1, stderr);
    assert.equal(
      stderr,
      `ckptkit: ${path}: Cannot save: another process replaced the file while it was ` +
        "written; nothing was written; the checkpoint that was read is kept as a-v0.ckpt\n",
    );
    assert.equal(await fileHash(path), newer, "the newer checkpoint is in place");
    assert.equal(await fileHash(`${dir}/a-v0.ckpt`), original, "what was read is kept");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "a-v0.ckpt",
      "a.ckpt",
      "newer",
    ]);
  });
});

Deno.test("an input written to while it is copied fails the save; nothing half-copied is kept", async () => {
  await withTempDir(async (dir) => {
    for (const inPlace of [false, true]) {
      const path = `${dir}/a.ckpt`;
      await writeBigTraining(path, 256 << 20);
      const out = `${dir}/out.ckpt`;
      const migrate = spawnCli([
        "migrate",
        path,
        "--migrations",
        FIRST,
        ...(inPlace ? [] : ["--out", out]),
      ]);
      await whileWriting(dir);
      // Another process writes into the file in place, same size.
      const file = await Deno.open(path, { write: true });
      await file.seek(-4096, Deno.SeekMode.End);
      await file.write(new Uint8Array(16).fill(7));
      file.close();
      const modified = await fileHash(path);
      const { code, stderr } = await finished(migrate);
      const what = inPlace ? "in place" : "--out";
      assert.equal(code, 1, `${what}: ${stderr}`);
      assert.match(
        stderr,
        /Cannot save: a file it copies from changed while it was copied \(it was written to\); (the original is unchanged|nothing was written)\n$/,
      );
      assert.equal(await fileHash(path), modified, `${what}: the input is as the writer left it`);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.ckpt"], what);
      await Deno.remove(path);
    }
  });
});

Deno.test("a migrate that waited for another process's lock migrates nothing twice", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.ckpt`;
    await writeBigTraining(path, 64 << 20);
    const runs = await Promise.all(
      [0, 1, 2].map(() => finished(spawnCli(["migrate", path, "--migrations", FIRST, "-q"]))),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.equal(await registeredCount(path), 4);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["a-v0.ckpt", "a.ckpt"]);
    const check = await cli(["check", path, "--migrations", FIRST]);
    assert.equal(check.code, 0);
  });
});
