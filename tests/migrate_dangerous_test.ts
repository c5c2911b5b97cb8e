// Commands that write checkpoints refuse to write one whose pickle would run
// code when Python loads it, unless told to; with --strict-globals they
// also refuse globals nobody vetted. check and inspect warn, whatever the
// migration state.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { runCli } from "./_cli.ts";

const fixture = new URL("./fixtures/migration_empty.ckpt", import.meta.url).pathname;
const scripts = new URL("./migrations/first_group", import.meta.url).pathname;

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes `from` with `value` under the key "payload" to `path`. */
async function withPayload(from: string, path: string, value: unknown): Promise<void> {
  const ckpt = await Checkpoint.open(from);
  (ckpt.root as PyDict).set("payload", value);
  await ckpt.save(path);
  ckpt.close();
}

const osSystem = () => new PyObject(PyGlobal.of("os", "system"), Tuple.of("echo pwned"));
const ownClass = () => new PyObject(PyGlobal.of("myproject.config", "TrainConfig"), Tuple.of());

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("migrate refuses dangerous globals unless --allow-dangerous-globals", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/evil.ckpt`;
    await withPayload(fixture, path, osSystem());
    const before = await sha256(path);

    const refused = await runCli(["migrate", path, "--migrations", scripts]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr.trim(),
      /^ckptkit: \S+evil\.ckpt: Cannot migrate: data\.pkl references dangerous globals \(os\.system\) that run code when Python loads it; pass --allow-dangerous-globals to migrate it anyway$/,
    );
    assert.equal(await sha256(path), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["evil.ckpt"]);
    // A user allowlist cannot let a denylisted global through.
    const notAllowed = await runCli([
      "migrate",
      path,
      "--migrations",
      scripts,
      "--allow-global",
      "os.system",
    ]);
    assert.equal(notAllowed.code, 1);

    const allowed = await runCli([
      "migrate",
      path,
      "--migrations",
      scripts,
      "--allow-dangerous-globals",
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /Executed 4 operations/);
  });
});

Deno.test("migrate --strict-globals refuses unknown globals; --allow-global and --policy vouch for them", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/mine.ckpt`;
    await withPayload(fixture, path, ownClass());
    const lenient = await runCli([
      "migrate",
      path,
      "--migrations",
      scripts,
      "--out",
      `${dir}/a.ckpt`,
    ]);
    assert.equal(lenient.code, 0, lenient.stderr);
    const strict = await runCli([
      "migrate",
      path,
      "--migrations",
      scripts,
      "--out",
      `${dir}/b.ckpt`,
      "--strict-globals",
    ]);
    assert.equal(strict.code, 1);
    assert.equal(
      strict.stderr,
      `ckptkit: ${path}: Cannot migrate: data.pkl references globals not on the allowlist (myproject.config.TrainConfig) and --strict-globals is set; allow them with --allow-global or a --policy file\n`,
    );
    const flag = await runCli([
      "migrate",
      path,
      "--migrations",
      scripts,
      "--out",
      `${dir}/c.ckpt`,
      "--strict-globals",
      "--allow-global",
      "myproject.config.TrainConfig",
    ]);
    assert.equal(flag.code, 0, flag.stderr);
    await Deno.writeTextFile(
      `${dir}/policy.json`,
      JSON.stringify({ allow: ["myproject.config.*"] }),
    );
    const file = await runCli([
      "migrate",
      path,
      "--migrations",
      scripts,
      "--out",
      `${dir}/d.ckpt`,
      "--strict-globals",
      "--policy",
      `${dir}/policy.json`,
    ]);
    assert.equal(file.code, 0, file.stderr);
    // Many files: the refusal is that file's failure.
    const batch = await runCli([
      "migrate",
      path,
      `${dir}/a.ckpt`,
      "--migrations",
      scripts,
      "--strict-globals",
    ]);
    assert.equal(batch.code, 1);
    assert.match(
      batch.stdout,
      /failed {6}\S+mine\.ckpt: Cannot migrate: data\.pkl references globals not on the allowlist/,
    );
  });
});

Deno.test("rewrite refuses what migrate refuses", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/evil.ckpt`;
    await withPayload(fixture, path, osSystem());
    const refused = await runCli(["rewrite", path, "--out", `${dir}/out.ckpt`]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^ckptkit: \S+evil\.ckpt: Cannot rewrite: data\.pkl references dangerous globals \(os\.system\)/,
    );
    assert.equal(await Deno.stat(`${dir}/out.ckpt`).catch(() => undefined), undefined);
    const allowed = await runCli([
      "rewrite",
      path,
      "--out",
      `${dir}/out.ckpt`,
      "--allow-dangerous-globals",
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
    await withPayload(fixture, `${dir}/mine.ckpt`, ownClass());
    const strict = await runCli([
      "rewrite",
      `${dir}/mine.ckpt`,
      "--out",
      `${dir}/m.ckpt`,
      "--strict-globals",
    ]);
    assert.equal(strict.code, 1);
    assert.match(
      strict.stderr,
      /Cannot rewrite: data\.pkl references globals not on the allowlist \(myproject\.config\.TrainConfig\)/,
    );
  });
});

Deno.test("check and inspect warn about dangerous globals even when nothing is pending", async () => {
  await withDir(async (dir) => {
    // Up to date, then the payload.
    const migrated = `${dir}/migrated.ckpt`;
    const run = await runCli(["migrate", fixture, "--migrations", scripts, "--out", migrated]);
    assert.equal(run.code, 0, run.stderr);
    const path = `${dir}/evil.ckpt`;
    await withPayload(migrated, path, osSystem());
    const warning =
      `ckptkit: ${path}: warning: it references dangerous globals (os.system): loading data.pkl in Python (torch.load with weights_only=False) runs code; see 'scan'\n`;

    const check = await runCli(["check", path, "--migrations", scripts]);
    assert.equal(check.code, 4);
    assert.equal(check.stdout, `${path}: up to date\n`);
    assert.equal(check.stderr, warning);
    const quiet = await runCli(["check", path, "--migrations", scripts, "-q"]);
    assert.equal(quiet.code, 4);
    assert.equal(quiet.stderr, warning);
    const clean = await runCli(["check", migrated, "--migrations", scripts]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stderr, "");

    const inspect = await runCli(["inspect", path, "--migrations", scripts]);
    assert.equal(inspect.code, 0);
    assert.equal(inspect.stderr, warning);
    assert.match(inspect.stdout, /already compatible/);
    const json = await runCli(["inspect", path, "--migrations", scripts, "--json"]);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.globals.verdict, "dangerous");
    assert.deepEqual(doc.globals.dangerous, ["os.system"]);

    // Unknown globals: a warning and exit 4 only with --strict-globals.
    const mine = `${dir}/mine.ckpt`;
    await withPayload(migrated, mine, ownClass());
    assert.equal((await runCli(["check", mine, "--migrations", scripts])).code, 0);
    const strict = await runCli(["check", mine, "--migrations", scripts, "--strict-globals"]);
    assert.equal(strict.code, 4);
    assert.match(
      strict.stderr,
      /warning: it references globals not on the allowlist \(myproject\.config\.TrainConfig\)/,
    );
  });
});
