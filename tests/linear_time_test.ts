// Every command costs about the size of data.pkl, however often a large
// value is referenced: a 1 MiB str, bytes value or tuple shared by 20,000
// references (as list items and as dict keys) decodes, shows, scans,
// verifies, re-encodes and migrates in about the time of the same commands
// on a checkpoint holding that value once. "No hang" is ten times that.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyStr } from "../lib/pickle/py_str.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { cli, fixture, scripts, withTempDir } from "./_migrate_cli.ts";
import { runPython, skipTorch } from "./_python.ts";

const REFERENCES = 20_000;
const BIG = 1 << 20;

type Dict = PyDict<string, unknown>;

/** A training checkpoint whose root also holds `extra`. */
async function write(path: string, extra: Record<string, unknown>): Promise<void> {
  const ckpt = await Checkpoint.open(fixture("migration_empty.ckpt"));
  const root = ckpt.root as Dict;
  for (const [key, value] of Object.entries(extra)) root.set(key, value);
  await ckpt.save(path);
  ckpt.close();
}

const COMMANDS = (path: string, dir: string) => [
  ["show", path],
  ["show", path, "--json"],
  ["scan", path],
  ["verify", path],
  ["rewrite", path, "--out", `${dir}/rewritten.ckpt`],
  ["migrate", path, "--migrations", scripts("first_group"), "--out", `${dir}/migrated.ckpt`],
];

/** The slowest of `commands`, in ms; each must succeed. */
async function slowest(commands: string[][]): Promise<number> {
  let most = 0;
  for (const args of commands) {
    const start = performance.now();
    const { code, stderr } = await cli(args);
    most = Math.max(most, performance.now() - start);
    assert.ok(code === 0 || (args[0] === "scan" && code === 3), `${args.join(" ")}: ${stderr}`);
  }
  return most;
}

Deno.test("a large value shared by 20,000 references costs its size once, in every command", async () => {
  await withTempDir(async (dir) => {
    const text = PyStr.of("x".repeat(BIG - 1) + "y");
    const bytes = new Uint8Array(BIG).fill(7);
    const tuple = Tuple.fromArray(Array.from({ length: 100_000 }, (_, i) => i));
    // The benign baseline: each value once.
    await write(`${dir}/once.ckpt`, { s: text, b: bytes, t: tuple });
    const limit = Math.max(10 * await slowest(COMMANDS(`${dir}/once.ckpt`, dir)), 5_000);
    const cases: Record<string, Record<string, unknown>> = {
      "str items": { s: Array(REFERENCES).fill(text) },
      "str keys": { s: Array.from({ length: REFERENCES }, (_, i) => new PyDict([[text, i]])) },
      "bytes items": { b: Array(REFERENCES).fill(bytes) },
      "bytes keys": { b: Array.from({ length: REFERENCES }, (_, i) => new PyDict([[bytes, i]])) },
      "tuple keys": { t: Array.from({ length: REFERENCES }, (_, i) => new PyDict([[tuple, i]])) },
    };
    for (const [name, extra] of Object.entries(cases)) {
      const path = `${dir}/${name.replace(" ", "_")}.ckpt`;
      await write(path, extra);
      assert.ok((await Deno.stat(path)).size < 3 * BIG, `${name}: written once, referenced after`);
      for (const args of COMMANDS(path, dir)) {
        const took = await slowest([args]);
        assert.ok(took < limit, `${name}: ${args[0]} took ${Math.round(took)} ms (limit ${limit})`);
      }
      // What a rewrite writes is what it read: the value once, then references.
      const rewritten = await Checkpoint.open(`${dir}/rewritten.ckpt`);
      const original = await Checkpoint.open(path);
      assert.equal(rewritten.pickleBytes.length, original.pickleBytes.length, name);
      rewritten.close();
      original.close();
    }
  });
});

Deno.test({
  name: "a str shared 20,000 times in a torch.save checkpoint rewrites byte for byte",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      await runPython([
        "-c",
        `import sys, torch
big = "x" * (1 << 20)
torch.save({"pytorch-lightning_version": "", "migrations": [], "hyper_parameters": {"metadata": {}},
            "s": [big] * 20000, "k": [{big: i} for i in range(2000)]}, sys.argv[1])`,
        `${dir}/in.ckpt`,
      ]);
      const { code, stderr } = await cli(["rewrite", `${dir}/in.ckpt`, "--out", `${dir}/out.ckpt`]);
      assert.equal(code, 0, stderr);
      const read = (p: string) => Deno.readFile(p);
      assert.deepEqual(await read(`${dir}/out.ckpt`), await read(`${dir}/in.ckpt`));
    });
  },
});
