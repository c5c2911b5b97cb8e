// Failures while writing (exceptions, a full disk, a read-only folder,
// SIGINT/SIGTERM, a written file that fails its check) never touch the
// original and leave no temporary file.
import assert from "node:assert/strict";
import { CheckpointError } from "../lib/errors.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { verifyCheckpoint } from "../lib/torch/verify.ts";
import { checkWritten } from "../lib/torch/_check_written.ts";
import { createHidden, removeStaleTemps, TEMP_SUFFIX } from "../lib/torch/_atomic_write.ts";
import { writeBigTraining, writeZeroCheckpoint } from "./_big_checkpoint.ts";
import { fileHash } from "./_migrate_cli.ts";
import { runCli } from "./_cli.ts";
import { lockFile } from "../lib/torch/file_lock.ts";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;
const scripts = new URL("./migrations/first_group", import.meta.url).pathname;
const cli = new URL("../cli.ts", import.meta.url).pathname;

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-write-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function run(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

// Mounting needs root (tests run as root here); elsewhere those tests are skipped.
const canMount = await (async () => {
  if (Deno.build.os !== "linux") return false;
  const dir = await Deno.makeTempDir();
  const ok = run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
  if (ok) run("umount", [dir]);
  await Deno.remove(dir);
  return ok;
})();

for (const strategy of ["stream", "clone"] as const) {
  Deno.test(`an exception mid-save (${strategy}) leaves the original and no temp file`, async () => {
    await withDir(async (dir) => {
      const path = `${dir}/big.ckpt`;
      await writeZeroCheckpoint(path, { tensors: 3, tensorBytes: 1 << 20 });
      const before = await fileHash(path);
      const ckpt = await Checkpoint.open(path);
      try {
        await assert.rejects(
          () =>
            ckpt.save(path, {
              strategy,
              onProgress: ({ done }) => {
                if (done > 0) throw new Error("disk on fire");
              },
            }),
          (error: Error) => {
            assert.ok(error instanceof CheckpointError);
            assert.equal(error.message, "Cannot save: disk on fire; the original is unchanged");
            return true;
          },
        );
      } finally {
        ckpt.close();
      }
      assert.equal(await fileHash(path), before);
      assert.deepEqual(names(dir), ["big.ckpt"]);
    });
  });
}

Deno.test("a written file that fails its check does not replace the original", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/state.ckpt`;
    await Deno.copyFile(`${fixtures}state_dict.ckpt`, path);
    const before = await fileHash(path);
    const ckpt = await Checkpoint.open(path);
    try {
      // A storage claiming more elements than its record holds: the writer
      // copies the record as is, and the check finds it too small.
      const root = ckpt.root as PyDict;
      const [key, tensor] = [...root.entries()][0] as [string, Tensor];
      const s = tensor.storage;
      const bigger = new Storage({
        dtype: s.dtype,
        storageClass: s.storageClass,
        location: s.location,
        numel: s.numel + 1000,
        record: s.record,
      });
      root.set(key, new Tensor({ storage: bigger, shape: tensor.shape }));
      await assert.rejects(
        () => ckpt.save(path, { strategy: "stream" }),
        /^CheckpointError: Cannot save: the written file fails its check: storage record data\/0 has \d+ bytes, \d+ needed; the original is unchanged$/,
      );
      assert.equal(await fileHash(path), before);
      assert.deepEqual(names(dir), ["state.ckpt"]);
      // verify: false skips the check: the same save now goes through.
      const out = `${dir}/unchecked.ckpt`;
      await ckpt.save(out, { strategy: "stream", verify: false });
      await assert.rejects(() => Checkpoint.open(out), /storage record data\/0 has/);
    } finally {
      ckpt.close();
    }
  });
});

Deno.test("the post-write check catches a wrong CRC and misplaced copied bytes", async () => {
  await withDir(async (dir) => {
    const source = `${dir}/src.ckpt`;
    await writeZeroCheckpoint(source, { tensors: 2, tensorBytes: 8192 });
    const ckpt = await Checkpoint.open(source);
    const out = `${dir}/out.ckpt`;
    await ckpt.save(out, { strategy: "stream" });
    const written = await Checkpoint.open(out);
    const entries = new Map(
      written.directory.entries.map((e) => [e.name.slice(written.archiveName.length + 1), e]),
    );
    written.close();
    const records = [...entries].map(([name, e]) => ({
      name,
      offset: e.localHeaderOffset,
      dataOffset: e.dataOffset,
      size: e.size,
      crc32: e.crc32,
    }));
    const sourceEntries = new Map(
      ckpt.directory.entries.map((e) => [e.name.slice(ckpt.archiveName.length + 1), e]),
    );
    const copied = (name: string) =>
      name.startsWith("data/")
        ? { source: ckpt.source, entry: sourceEntries.get(name)! }
        : undefined;
    const expected = { archiveName: ckpt.archiveName, records, copiedFrom: copied };
    await checkWritten(out, expected); // as written: passes
    const flip = async (offset: number) => {
      const file = await Deno.open(out, { read: true, write: true });
      await file.seek(offset, Deno.SeekMode.Start);
      const byte = new Uint8Array(1);
      await file.read(byte);
      await file.seek(offset, Deno.SeekMode.Start);
      await file.write(new Uint8Array([byte[0] ^ 0xff]));
      file.close();
    };
    await flip(entries.get("data.pkl")!.dataOffset + 2);
    await assert.rejects(
      () => checkWritten(out, expected),
      /record data\.pkl has the wrong CRC-32/,
    );
    await flip(entries.get("data.pkl")!.dataOffset + 2);
    // A copied record differing from its source (zeros) at the end is caught.
    await flip(entries.get("data/1")!.dataOffset + 8191);
    await assert.rejects(
      () => checkWritten(out, expected),
      /record \S+data\/1 differs from its source at byte 4096/,
    );
    // Compared with itself, the same file passes: only differences fail.
    const itself = await Checkpoint.open(out);
    await checkWritten(out, {
      ...expected,
      copiedFrom: (name) =>
        name.startsWith("data/") ? { source: itself.source, entry: entries.get(name)! } : undefined,
    });
    itself.close();
    ckpt.close();
  });
});

Deno.test("a stale temporary file is removed by the next save unless a live save locks it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/last.ckpt`;
    await Deno.copyFile(`${fixtures}state_dict.ckpt`, path);
    const hidden = async (text: string) => {
      const { path: temp, file } = await createHidden(path, TEMP_SUFFIX);
      file.close();
      await Deno.writeTextFile(temp, text);
      return temp;
    };
    const stale = await hidden("left by a SIGKILL");
    const live = await hidden("being written");
    const held = await Deno.open(live, { read: true });
    await held.lock(true);
    const other = `${dir}/.other.ckpt.123.ckptkit-tmp`;
    await Deno.writeTextFile(other, "another checkpoint's");
    try {
      assert.deepEqual(await removeStaleTemps(path), [stale]);
      const ckpt = await Checkpoint.open(path);
      await ckpt.save(path);
      ckpt.close();
      assert.deepEqual(
        names(dir),
        [".other.ckpt.123.ckptkit-tmp", live.slice(dir.length + 1), "last.ckpt"].sort(),
      );
    } finally {
      held.close();
    }
  });
});

Deno.test({
  name: "a full disk (ENOSPC) leaves the original and says so in one line",
  ignore: !canMount,
  async fn() {
    await withDir(async (dir) => {
      // The checkpoint fits once but not twice.
      assert.ok(run("mount", ["-t", "tmpfs", "-o", "size=384k", "tmpfs", dir]));
      try {
        const path = `${dir}/last.ckpt`;
        await writeZeroCheckpoint(path, { tensors: 4, tensorBytes: 64 << 10 });
        const before = await fileHash(path);
        const { code, stdout, stderr } = await runCli([
          "rewrite",
          path,
          "--out",
          path,
          "--strategy",
          "stream",
        ]);
        assert.equal(code, 1, stdout);
        assert.equal(
          stderr,
          `ckptkit: ${path}: Cannot save: no space left on device; the original is unchanged\n`,
        );
        assert.equal(await fileHash(path), before);
        assert.deepEqual(names(dir), ["last.ckpt"]);
      } finally {
        run("umount", [dir]);
      }
    });
  },
});

Deno.test({
  name: "a read-only folder (read-only mount, immutable folder) leaves the original",
  ignore: !canMount,
  async fn() {
    await withDir(async (dir) => {
      const path = `${dir}/last.ckpt`;
      await Deno.copyFile(`${fixtures}migration_empty.ckpt`, path);
      const before = await fileHash(path);
      const cases: [string, () => boolean, () => void, string][] = [
        [
          "read-only file system",
          () => run("mount", ["--bind", dir, dir]) && run("mount", ["-o", "remount,bind,ro", dir]),
          () => run("umount", [dir]),
          "read-only file system",
        ],
        [
          "immutable folder",
          () => run("chattr", ["+i", dir]),
          () => run("chattr", ["-i", dir]),
          "operation not permitted",
        ],
      ];
      for (const [what, setUp, tearDown, reason] of cases) {
        if (!setUp()) {
          tearDown();
          console.warn(`skipped: ${what} (cannot set it up here)`);
          continue;
        }
        try {
          const migrated = await runCli(["migrate", path, "--migrations", scripts]);
          assert.equal(migrated.code, 1, what);
          assert.equal(
            migrated.stderr,
            `ckptkit: ${path}: Cannot back up the checkpoint: ${reason}; the original is unchanged\n`,
          );
          const rewritten = await runCli(["rewrite", path, "--out", path]);
          assert.equal(rewritten.code, 1, what);
          assert.equal(
            rewritten.stderr,
            `ckptkit: ${path}: Cannot save: ${reason}; the original is unchanged\n`,
          );
        } finally {
          tearDown();
        }
        assert.equal(await fileHash(path), before, what);
        assert.deepEqual(names(dir), ["last.ckpt"], what);
      }
    });
  },
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  Deno.test(`${signal} to migrate mid-write removes the temp file and the backup`, async () => {
    await withDir(async (dir) => {
      const path = `${dir}/last.ckpt`;
      await writeBigTraining(path, 256 << 20);
      const before = await fileHash(path);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", cli, "migrate", path, "--migrations", scripts],
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // The temporary file appears when writing starts.
      const deadline = Date.now() + 30_000;
      while (!names(dir).some((n) => n.endsWith(".ckptkit-tmp")) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      child.kill(signal);
      const result = await child.output();
      const stderr = new TextDecoder().decode(result.stderr);
      assert.equal(result.code, code, stderr);
      assert.equal(
        stderr,
        `ckptkit: ${path}: Cannot save: interrupted by ${signal}; the original is unchanged\n`,
      );
      assert.equal(await fileHash(path), before);
      assert.deepEqual(names(dir), ["last.ckpt"]);
    });
  });
}

Deno.test("migrate checks what it wrote; --no-verify is accepted", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/last.ckpt`;
    await writeBigTraining(path, 1 << 20);
    for (const flags of [[], ["--no-verify"]]) {
      const out = `${dir}/out${flags.length}.ckpt`;
      const { code, stderr } = await runCli([
        "migrate",
        path,
        "--out",
        out,
        "--migrations",
        scripts,
        ...flags,
      ]);
      assert.equal(code, 0, stderr);
      const report = await verifyCheckpoint(out);
      assert.deepEqual(report.problems, []);
      assert.equal(report.storages, 4);
    }
    const rewritten = await runCli(["rewrite", path, "--out", path, "--no-verify", "--quiet"]);
    assert.equal(rewritten.code, 0, rewritten.stderr);
    assert.ok((await verifyCheckpoint(path)).ok);
  });
});

Deno.test("rewrite in place waits for the lock a migrate holds", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/last.ckpt`;
    await Deno.copyFile(`${fixtures}state_dict.ckpt`, path);
    const lock = await lockFile(path);
    const rewriting = runCli(["rewrite", path, "--out", path, "--quiet"]);
    let finished = false;
    rewriting.then(() => finished = true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const finishedWhileLocked = finished;
    lock.release();
    const { code, stderr } = await rewriting;
    assert.equal(code, 0, stderr);
    assert.equal(finishedWhileLocked, false);
    assert.ok((await verifyCheckpoint(path)).ok);
  });
});
