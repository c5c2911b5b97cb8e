// Backups before an in-place migrate: a hidden pending backup (a hard link
// where the filesystem allows one, else a synced copy) that gets its final
// name only once the migrated file has replaced the original; what a crash
// leaves is sorted out by the next migrate; and what counts as a backup.
import assert from "node:assert/strict";
import { backupOf, pendingBackup, recoverBackups } from "../lib/migrate/backup.ts";
import { writeZeroCheckpoint } from "./_big_checkpoint.ts";
import { fileHash, fixture, withTempDir as withDir } from "./_migrate_cli.ts";

/** Links `path` until the filesystem refuses; how many links it took, or undefined (no limit). */
function fillLinks(path: string, folder: string, most = 70_000): number | undefined {
  Deno.mkdirSync(folder);
  for (let n = 0; n < most; n++) {
    try {
      Deno.linkSync(path, `${folder}/${n}`);
    } catch {
      return n;
    }
  }
  return undefined;
}

// ext4 allows 65,000 names per file: a checkpoint that has them all cannot
// be linked again, which is how the copy is reached here.
const linkLimited = await (async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-links-" });
  try {
    Deno.writeTextFileSync(`${dir}/file`, "");
    return fillLinks(`${dir}/file`, `${dir}/links`) !== undefined;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
})();

/** Puts a new file at `path`, as a save renames its temporary file over it. */
async function replace(path: string): Promise<void> {
  await Deno.writeTextFile(`${path}.new`, "migrated");
  await Deno.rename(`${path}.new`, path);
}

const hiddenNames = (dir: string) =>
  [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith(".")).sort();

Deno.test("a pending backup is a hidden second name, named only once the original is replaced", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/last.ckpt`;
    await writeZeroCheckpoint(path, { tensors: 2, tensorBytes: 1 << 12 });
    const original = await fileHash(path);
    // The original stays in place (a failed save): the pending backup goes.
    const kept = await pendingBackup(path, `${dir}/last-v0.ckpt`);
    assert.equal((await Deno.stat(kept.path)).ino, (await Deno.stat(path)).ino);
    assert.match(kept.path, /\/\.last\.ckpt\.[0-9a-f]{12}\.ckptkit-backup$/);
    assert.equal(await kept.finish(), undefined);
    assert.deepEqual(hiddenNames(dir), []);
    // The original is replaced: the backup takes its name; taken names are never overwritten.
    await Deno.writeTextFile(`${dir}/last-v0.ckpt`, "taken");
    const backup = await pendingBackup(path, `${dir}/last-v0.ckpt`);
    await replace(path);
    assert.equal(await backup.finish(), `${dir}/last-v0_1.ckpt`);
    assert.equal(await fileHash(`${dir}/last-v0_1.ckpt`), original);
    assert.equal(await Deno.readTextFile(`${dir}/last-v0.ckpt`), "taken");
    assert.deepEqual(hiddenNames(dir), []);
  });
});

Deno.test({
  name: "a checkpoint that cannot be linked again is backed up as a copy",
  ignore: !linkLimited,
  fn: async () => {
    await withDir(async (dir) => {
      const path = `${dir}/last.ckpt`;
      await writeZeroCheckpoint(path, { tensors: 3, tensorBytes: 1 << 20 });
      const before = await fileHash(path);
      assert.notEqual(fillLinks(path, `${dir}/links`), undefined);
      const pending = await pendingBackup(path, `${dir}/last-v0.ckpt`);
      const [a, b] = [await Deno.stat(path), await Deno.stat(pending.path)];
      assert.notEqual(a.ino, b.ino);
      assert.equal(b.nlink, 1);
      assert.equal(await fileHash(pending.path), before);
      await Deno.remove(`${dir}/links`, { recursive: true });
      await replace(path);
      assert.equal(await pending.finish(), `${dir}/last-v0.ckpt`);
      assert.equal(await fileHash(`${dir}/last-v0.ckpt`), before);
      // Only the checkpoint and the backup: no temporary file is left.
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "last-v0.ckpt",
        "last.ckpt",
      ]);
    });
  },
});

Deno.test("after a crash, the next migrate removes or names each pending backup by what happened", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/last.ckpt`;
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), path);
    const original = await fileHash(path);
    // Crashed before the replace: a link of the untouched original.
    await Deno.link(path, `${dir}/.last.ckpt.0123456789ab.ckptkit-backup`);
    // A copy cut short by the crash.
    await Deno.writeTextFile(`${dir}/.last.ckpt.0123456789ac.ckptkit-backup`, "PK\x03\x04 cut");
    // A complete copy of the untouched original.
    await Deno.copyFile(path, `${dir}/.last.ckpt.0123456789ad.ckptkit-backup`);
    assert.deepEqual(await recoverBackups(path), []);
    assert.deepEqual(hiddenNames(dir), []);
    // Crashed after the replace: the pending backup is the only copy of the original.
    await Deno.link(path, `${dir}/.last.ckpt.0123456789ae.ckptkit-backup`);
    await replace(path);
    assert.deepEqual(await recoverBackups(path), [`${dir}/last-vx.x.x-1.ckpt`]);
    assert.equal(await fileHash(`${dir}/last-vx.x.x-1.ckpt`), original);
    assert.deepEqual(hiddenNames(dir), []);
    // A live migrate's copy (locked) is left alone.
    const live = `${dir}/.last.ckpt.0123456789af.ckptkit-backup`;
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), live);
    const held = await Deno.open(live, { read: true });
    await held.lock(true);
    try {
      assert.deepEqual(await recoverBackups(path), []);
      assert.deepEqual(hiddenNames(dir), [".last.ckpt.0123456789af.ckptkit-backup"]);
    } finally {
      held.close();
    }
  });
});

Deno.test("a backup is recognised by what it is, not by a name that looks like one", async () => {
  await withDir(async (dir) => {
    const copy = (from: string, to: string) => Deno.copyFile(fixture(from), `${dir}/${to}`);
    await copy("migration_after_foo.ckpt", "last.ckpt");
    await copy("migration_after_foo.ckpt", "last-vx.x.x-1.ckpt");
    await copy("migration_after_foo.ckpt", "last-v9.9.9-1.ckpt"); // registered at vx.x.x
    await copy("migration_empty.ckpt", "last-v0.ckpt");
    await copy("migration_after_foo.ckpt", "last-v0_2.ckpt"); // registers one, not zero
    await copy("example_training.ckpt", "run.ckpt");
    await copy("example_training.ckpt", "run-v0.9.4-1.ckpt");
    await copy("example_training.ckpt", "run-v0.9.4-1_3.ckpt");
    await copy("example_training.ckpt", "run-v0.9.4-2.ckpt"); // registers one, not two
    await copy("migration_empty.ckpt", "orphan-v0.ckpt"); // no orphan.ckpt beside it
    for (const name of ["resnet-v1-50", "model-vae-3", "unet-val-2", "resnet", "model", "unet"]) {
      await copy("migration_empty.ckpt", `${name}.ckpt`);
    }
    const verdicts: Record<string, string | undefined> = {};
    for (const name of [...Deno.readDirSync(dir)].map((e) => e.name).sort()) {
      verdicts[name] = await backupOf(`${dir}/${name}`);
    }
    const backups = Object.keys(verdicts).filter((n) => verdicts[n] !== undefined);
    assert.deepEqual(backups, [
      "last-v0.ckpt",
      "last-vx.x.x-1.ckpt",
      "run-v0.9.4-1.ckpt",
      "run-v0.9.4-1_3.ckpt",
    ]);
    assert.equal(
      verdicts["run-v0.9.4-1.ckpt"],
      "a backup of run.ckpt (1 migration, the last of v0.9.4 registered)",
    );
  });
});
