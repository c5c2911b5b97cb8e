// SIGKILL `migrate` at seeded random moments: afterwards the original is
// byte-identical (and no backup is visible), or the migration completed and
// the original is kept, as the backup or as a hidden pending backup when the
// kill came between the replace and the backup's naming. Only hidden files
// may remain (`.last.ckpt.*.ckptkit-tmp`, `.last.ckpt.*.ckptkit-backup`;
// nothing can run on SIGKILL): the next migrate removes the temporary file
// and removes or names the pending backup, so it ends with exactly the
// migrated checkpoint and one backup, never a second one (`_1`).
//
// KILL_SEED and KILL_RUNS (per checkpoint size) widen the search locally.
import assert from "node:assert/strict";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { verifyCheckpoint } from "../lib/torch/verify.ts";
import { writeBigTraining } from "./_big_checkpoint.ts";
import { fileHash } from "./_migrate_cli.ts";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;
const scripts = new URL("./migrations/first_group", import.meta.url).pathname;
const cli = new URL("../cli.ts", import.meta.url).pathname;
const seed = Number(Deno.env.get("KILL_SEED") ?? 20250629);
const runs = Number(Deno.env.get("KILL_RUNS") ?? 0);
const HIDDEN_TEMP = /^\.last\.ckpt\.[0-9a-f]{12}\.ckptkit-tmp$/;
const PENDING_BACKUP = /^\.last\.ckpt\.[0-9a-f]{12}\.ckptkit-backup$/;

/** mulberry32: a small seeded generator, so a failing kill point can be replayed. */
function random(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function migrate(path: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", cli, "migrate", path, "--migrations", scripts],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Checks the folder after a kill; returns what happened. */
async function checkAfterKill(
  dir: string,
  original: string,
  where: string,
): Promise<"untouched" | "migrated"> {
  const path = `${dir}/last.ckpt`;
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  const pending = names.filter((n) => PENDING_BACKUP.test(n));
  const visible = names.filter((n) => !HIDDEN_TEMP.test(n) && !PENDING_BACKUP.test(n)).sort();
  assert.ok(
    visible.every((n) => n === "last.ckpt" || n === "last-v0.ckpt"),
    `${where}: unexpected files ${visible}`,
  );
  assert.ok(visible.includes("last.ckpt"), `${where}: the checkpoint is gone`);
  assert.ok(pending.length <= 1, `${where}: several pending backups ${pending}`);
  const hasBackup = visible.includes("last-v0.ckpt");
  if (hasBackup) {
    assert.equal(await fileHash(`${dir}/last-v0.ckpt`), original, `${where}: backup differs`);
  }
  if (await fileHash(path) === original) {
    assert.ok(!hasBackup, `${where}: a backup of a checkpoint that was not migrated`);
    return "untouched";
  }
  const kept = hasBackup || (pending.length === 1 &&
    await fileHash(`${dir}/${pending[0]}`) === original);
  assert.ok(kept, `${where}: migrated without keeping the original`);
  const report = await verifyCheckpoint(path);
  assert.deepEqual(report.problems, [], where);
  const ckpt = await Checkpoint.open(path);
  const migrations = (ckpt.root as PyDict).get("migrations") as unknown[];
  ckpt.close();
  assert.equal(migrations.length, 4, `${where}: partly migrated`);
  return "migrated";
}

/** The next migrate completes: the migrated checkpoint, one backup of the original, nothing else. */
async function checkRecovery(dir: string, original: string, where: string): Promise<void> {
  const { code, stderr } = await migrate(`${dir}/last.ckpt`).output();
  assert.equal(code, 0, `${where}: ${new TextDecoder().decode(stderr)}`);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(names, ["last-v0.ckpt", "last.ckpt"], `${where}: after the next migrate`);
  assert.equal(await fileHash(`${dir}/last-v0.ckpt`), original, `${where}: backup differs`);
}

async function killRuns(options: {
  name: string;
  count: number;
  make: (path: string) => Promise<void>;
  /** Waits until the moment to kill, given the generator and the folder. */
  killAt: (next: () => number, dir: string) => Promise<void>;
}): Promise<Record<string, number>> {
  const next = random(seed);
  const outcomes: Record<string, number> = {
    untouched: 0,
    migrated: 0,
    "temp left": 0,
    "backup pending": 0,
  };
  const template = await Deno.makeTempFile({ suffix: ".ckpt" });
  await options.make(template);
  const original = await fileHash(template);
  try {
    for (let i = 0; i < options.count; i++) {
      const dir = await Deno.makeTempDir({ prefix: "ckptkit-kill-" });
      const where = `${options.name} run ${i} (KILL_SEED=${seed})`;
      try {
        await Deno.copyFile(template, `${dir}/last.ckpt`);
        const child = migrate(`${dir}/last.ckpt`);
        await options.killAt(next, dir);
        try {
          child.kill("SIGKILL");
        } catch {
          // It finished first: the completed case.
        }
        await child.output();
        outcomes[await checkAfterKill(dir, original, where)]++;
        const left = Array.from(Deno.readDirSync(dir)).map((e) => e.name);
        if (left.some((n) => HIDDEN_TEMP.test(n))) outcomes["temp left"]++;
        if (left.some((n) => PENDING_BACKUP.test(n))) outcomes["backup pending"]++;
        await checkRecovery(dir, original, where);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  } finally {
    await Deno.remove(template);
  }
  return outcomes;
}

Deno.test("SIGKILL at random moments of a small migrate never loses the checkpoint", async () => {
  // How long an uninterrupted run takes, to spread the kill points over it.
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(`${fixtures}migration_empty.ckpt`, `${dir}/last.ckpt`);
  const started = performance.now();
  assert.equal((await migrate(`${dir}/last.ckpt`).output()).code, 0);
  const duration = performance.now() - started;
  await Deno.remove(dir, { recursive: true });
  const outcomes = await killRuns({
    name: "small",
    count: runs || 10,
    make: (path) => Deno.copyFile(`${fixtures}migration_empty.ckpt`, path),
    killAt: (next) => sleep(next() * duration * 1.1),
  });
  console.log(`small: ${JSON.stringify(outcomes)} (a run takes ${Math.round(duration)} ms)`);
});

Deno.test("SIGKILL while a large checkpoint is written never loses it", async () => {
  const outcomes = await killRuns({
    name: "large",
    count: runs || 4,
    make: (path) => writeBigTraining(path, 64 << 20),
    // Once the temporary file appears, anywhere in the write, sync and rename.
    killAt: async (next, dir) => {
      const deadline = Date.now() + 30_000;
      while (
        !Array.from(Deno.readDirSync(dir)).some((e) => HIDDEN_TEMP.test(e.name)) &&
        Date.now() < deadline
      ) {
        await sleep(2);
      }
      await sleep(next() * 250);
    },
  });
  console.log(`large: ${JSON.stringify(outcomes)}`);
});
