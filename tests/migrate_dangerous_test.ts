// migrate refuses to write a checkpoint whose pickle would run code when
// Python loads it, unless told to.
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

Deno.test("migrate refuses dangerous globals unless --allow-dangerous-globals", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/evil.ckpt`;
    const ckpt = await Checkpoint.open(fixture);
    (ckpt.root as PyDict).set(
      "payload",
      new PyObject(PyGlobal.of("os", "system"), Tuple.of("echo pwned")),
    );
    await ckpt.save(path);
    ckpt.close();
    const before = await sha256(path);

    const refused = await runCli(["migrate", path, "--migrations", scripts]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr.trim(),
      /^ckptkit: \S+evil\.ckpt: Cannot migrate: data\.pkl references dangerous globals \(os\.system\)/,
    );
    assert.equal(await sha256(path), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["evil.ckpt"]);

    const allowed = await runCli([
      "migrate",
      path,
      "--migrations",
      scripts,
      "--allow-dangerous-globals",
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /Executed 4 operations/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
