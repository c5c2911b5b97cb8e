import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import type { Tensor } from "../lib/torch/tensor.ts";

const root = new URL("../", import.meta.url).pathname;

async function run(script: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}examples/${script}`, ...args],
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test("examples/rename_keys.ts renames keys in place, in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/renamed.ckpt`;
    const printed = await run("rename_keys.ts", [`${root}tests/fixtures/state_dict.ckpt`, out]);
    assert.match(printed, /^fc\.weight -> classifier\.weight$/m);
    assert.match(printed, /^head\.0\.proj\.bias -> head\.0\.linear\.bias$/m);
    const before = await Checkpoint.open(`${root}tests/fixtures/state_dict.ckpt`);
    const after = await Checkpoint.open(out);
    const oldKeys = [...(before.root as PyDict<string, Tensor>).keys()];
    const newKeys = [...(after.root as PyDict<string, Tensor>).keys()];
    assert.equal(newKeys.length, oldKeys.length);
    assert.equal(newKeys[oldKeys.indexOf("fc.weight")], "classifier.weight");
    assert.ok(!newKeys.some((k) => k.startsWith("fc.")));
    const a = (before.root as PyDict<string, Tensor>).getItem("fc.weight");
    const b = (after.root as PyDict<string, Tensor>).getItem("classifier.weight");
    assert.deepEqual(await b.bytes(), await a.bytes());
    before.close();
    after.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/drop_optimizer_state.ts removes optimizer storages", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = `${root}tests/fixtures/training.ckpt`;
    const out = `${dir}/small.ckpt`;
    const printed = await run("drop_optimizer_state.ts", [input, out]);
    assert.match(printed, /dropped optimizer_states, lr_schedulers/);
    const ckpt = await Checkpoint.open(out);
    const keys = [...(ckpt.root as PyDict<string, unknown>).keys()];
    assert.ok(!keys.includes("optimizer_states") && keys.includes("state_dict"));
    const storages = ckpt.recordNames.filter((n) => n.startsWith("data/")).length;
    const original = await Checkpoint.open(input);
    const originalStorages = original.recordNames.filter((n) => n.startsWith("data/")).length;
    assert.ok(storages < originalStorages, `${storages} < ${originalStorages}`);
    assert.ok((await Deno.stat(out)).size < (await Deno.stat(input)).size);
    ckpt.close();
    original.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
