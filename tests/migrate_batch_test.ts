import assert from "node:assert/strict";
import {
  findCheckpoints,
  parseShard,
  runPool,
  slurmShard,
  takeShard,
} from "../lib/migrate/batch.ts";
import { runCli } from "./_cli.ts";
import { Migrator } from "../lib/migrate/migrator.ts";
import { loadMigrationsFromDir } from "../lib/migrate/registry.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const scripts = new URL("./migrations/first_group", import.meta.url).pathname;
const firstGroup = await loadMigrationsFromDir(scripts);

Deno.test("shards of a file list are disjoint and cover it", () => {
  const files = Array.from({ length: 500 }, (_, i) => `/exp/run${i % 17}/epoch_${i}.ckpt`);
  for (const count of [1, 2, 3, 4, 7, 64]) {
    const shards = Array.from({ length: count }, (_, index) => takeShard(files, { index, count }));
    const all = shards.flat();
    assert.equal(all.length, files.length, `count ${count}`);
    assert.deepEqual([...all].sort(), [...files].sort());
    if (count > 1 && count < 10) assert.ok(shards.every((s) => s.length > 0));
  }
});

Deno.test("a file's shard does not depend on the other files, and backups join it", () => {
  const files = ["/a/last.ckpt", "/a/epoch=1.ckpt", "/b/last.ckpt"];
  const shard = { index: 1, count: 3 };
  const alone = files.map((f) => takeShard([f], shard).length);
  assert.deepEqual(alone, files.map((f) => (takeShard(files, shard).includes(f) ? 1 : 0)));
  for (let index = 0; index < 3; index++) {
    const with_backups = takeShard(
      ["/a/last.ckpt", "/a/last-v0.ckpt", "/a/last-v0.9.4-1.ckpt"],
      { index, count: 3 },
    );
    assert.ok(with_backups.length === 0 || with_backups.length === 3);
  }
});

Deno.test("shards come from --shard or a Slurm job array", () => {
  assert.deepEqual(parseShard("2/5"), { index: 2, count: 5 });
  assert.throws(() => parseShard("5/5"), /0 <= i < n/);
  assert.throws(() => parseShard("x"), /expected i\/n/);
  const env = (vars: Record<string, string>) => ({ get: (name: string) => vars[name] });
  assert.equal(slurmShard(env({})), undefined);
  assert.deepEqual(
    slurmShard(env({ SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "4" })),
    { index: 3, count: 4 },
  );
  assert.deepEqual(
    slurmShard(env({
      SLURM_ARRAY_TASK_ID: "11",
      SLURM_ARRAY_TASK_MIN: "10",
      SLURM_ARRAY_TASK_COUNT: "2",
    })),
    { index: 1, count: 2 },
  );
});

Deno.test("runPool runs at most N at a time and keeps the order", async () => {
  let running = 0;
  let peak = 0;
  const results = await runPool([5, 1, 4, 2, 3], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, n * 3));
    running--;
    return n * 10;
  });
  assert.deepEqual(results, [50, 10, 40, 20, 30]);
  assert.equal(peak, 2);
});

async function tree(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/run1/sub`, { recursive: true });
  await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/run1/last.ckpt`);
  await Deno.copyFile(fixture("migration_after_foo.ckpt"), `${dir}/run1/sub/epoch_2.ckpt`);
  await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/run1/last-v1.ckpt`);
  // A backup, as migrate writes it: registering 3 migrations, the last of 0.9.0.
  const run = await new Migrator(firstGroup.slice(0, 3)).run(fixture("migration_empty.ckpt"));
  await run.checkpoint.save(`${dir}/run1/last-v0.9.0-3.ckpt`);
  run.checkpoint.close();
  // Names that only look like backups: checkpoints to migrate.
  await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/run1/resnet-v1-50.ckpt`);
  await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/run1/resnet.ckpt`);
  await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/run1/.hidden.ckpt`);
  await Deno.writeTextFile(`${dir}/run1/notes.txt`, "not a checkpoint");
  return dir;
}

Deno.test("findCheckpoints walks folders, skipping hidden files and migrate's backups", async () => {
  const dir = await tree();
  try {
    assert.deepEqual(await findCheckpoints([dir]), []);
    const skipped: [string, string][] = [];
    assert.deepEqual(
      await findCheckpoints([`${dir}/run1`], { onSkip: (path, why) => skipped.push([path, why]) }),
      [
        `${dir}/run1/last-v1.ckpt`,
        `${dir}/run1/last.ckpt`,
        `${dir}/run1/resnet-v1-50.ckpt`,
        `${dir}/run1/resnet.ckpt`,
      ],
    );
    assert.deepEqual(skipped, [[
      `${dir}/run1/last-v0.9.0-3.ckpt`,
      "a backup of last.ckpt (3 migrations, the last of v0.9.0 registered)",
    ]]);
    assert.deepEqual(await findCheckpoints([dir], { recursive: true }), [
      `${dir}/run1/last-v1.ckpt`,
      `${dir}/run1/last.ckpt`,
      `${dir}/run1/resnet-v1-50.ckpt`,
      `${dir}/run1/resnet.ckpt`,
      `${dir}/run1/sub/epoch_2.ckpt`,
    ]);
    const withBackups = await findCheckpoints([dir], { recursive: true, includeBackups: true });
    assert.ok(withBackups.includes(`${dir}/run1/last-v0.9.0-3.ckpt`));
    assert.deepEqual(
      await findCheckpoints([`${dir}/run1/notes.txt`, `${dir}/run1`], { ext: ".txt" }),
      [
        `${dir}/run1/notes.txt`,
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("migrate of a folder reports each file and continues past failures", async () => {
  const dir = await tree();
  try {
    await Deno.copyFile(fixture("migration_extra.ckpt"), `${dir}/run1/sub/bad.ckpt`);
    const { code, stdout } = await runCli([
      "migrate",
      dir,
      "--recursive",
      "--migrations",
      scripts,
      "--jobs",
      "2",
    ]);
    assert.equal(code, 1);
    const lines = stdout.trimEnd().split("\n");
    assert.equal(lines.length, 8);
    assert.match(stdout, /^failed +\S+bad\.ckpt: Cannot migrate: .*dummy$/m);
    assert.match(stdout, /^migrated +\S+run1\/last\.ckpt: 4 migrations, backup \S+last-v0\.ckpt$/m);
    assert.match(
      stdout,
      /^migrated +\S+resnet-v1-50\.ckpt: 4 migrations, backup \S+resnet-v1-50-v0\.ckpt$/m,
    );
    assert.match(stdout, /^migrated +\S+epoch_2\.ckpt: 3 migrations, backup /m);
    assert.match(
      stdout,
      /^skipped +\S+last-v0\.9\.0-3\.ckpt: a backup of last\.ckpt \(3 migrations/m,
    );
    assert.equal(lines.at(-1), "6 files: 5 migrated, 0 up to date, 1 failed, 1 skipped (backups)");
    const again = await runCli(["migrate", dir, "--recursive", "--migrations", scripts, "--json"]);
    const report = JSON.parse(again.stdout);
    assert.equal(report.summary.up_to_date, 5);
    assert.equal(report.summary.failed, 1);
    assert.equal(report.files.length, 6);
    // The backups of the first run, and the one there before.
    assert.deepEqual(report.skipped.map((s: { path: string }) => s.path.slice(dir.length)), [
      "/run1/last-v0.9.0-3.ckpt",
      "/run1/last-v0.ckpt",
      "/run1/last-v1-v0.ckpt",
      "/run1/resnet-v0.ckpt",
      "/run1/resnet-v1-50-v0.ckpt",
      "/run1/sub/epoch_2-vx.x.x-1.ckpt",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the shards of a Slurm array migrate every file exactly once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (let i = 0; i < 9; i++) {
      await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/ckpt_${i}.ckpt`);
    }
    const counts: number[] = [];
    for (let task = 0; task < 4; task++) {
      const { code, stdout } = await runCli(["migrate", dir, "--migrations", scripts], {
        env: { SLURM_ARRAY_TASK_ID: String(task), SLURM_ARRAY_TASK_COUNT: "4" },
      });
      assert.equal(code, 0);
      counts.push(Number(/^(\d+) files? \(shard /m.exec(stdout)![1]));
    }
    assert.equal(counts.reduce((a, b) => a + b), 9);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    const backups = names.filter((n) => n.endsWith("-v0.ckpt"));
    assert.equal(backups.length, 9);
    assert.ok(!names.some((n) => /-v0_\d+\.ckpt$/.test(n)), names.join());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--out with several checkpoints is a usage error", async () => {
  const { code, stderr } = await runCli([
    "migrate",
    fixture("migration_empty.ckpt"),
    fixture("migration_after_foo.ckpt"),
    "--out",
    "/tmp/x.ckpt",
  ]);
  assert.equal(code, 2);
  assert.match(stderr, /--out takes one checkpoint/);
});
