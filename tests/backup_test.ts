// Backups before an in-place migrate: a hard link where the filesystem
// allows one, else a synced copy renamed into place.
import assert from "node:assert/strict";
import { createBackup } from "../lib/migrate/migrate_checkpoint.ts";
import { writeZeroCheckpoint } from "./_big_checkpoint.ts";
import { fileHash, withTempDir as withDir } from "./_migrate_cli.ts";

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

Deno.test("a backup is a second name of the checkpoint where hard links work", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/last.ckpt`;
    await writeZeroCheckpoint(path, { tensors: 2, tensorBytes: 1 << 12 });
    const backup = await createBackup(path, `${dir}/last-v0.ckpt`);
    assert.equal(backup, `${dir}/last-v0.ckpt`);
    const [a, b] = [await Deno.stat(path), await Deno.stat(backup)];
    assert.equal(a.ino, b.ino);
    // Taken names are never overwritten.
    assert.equal(await createBackup(path, `${dir}/last-v0.ckpt`), `${dir}/last-v0_1.ckpt`);
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
      const backup = await createBackup(path, `${dir}/last-v0.ckpt`);
      assert.equal(backup, `${dir}/last-v0.ckpt`);
      const [a, b] = [await Deno.stat(path), await Deno.stat(backup)];
      assert.notEqual(a.ino, b.ino);
      assert.equal(b.nlink, 1);
      assert.equal(await fileHash(backup), before);
      assert.equal(await fileHash(path), before);
      // Only the original, its links' folder and the backup: no temporary file is left.
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "last-v0.ckpt",
        "last.ckpt",
        "links",
      ]);
    });
  },
});
