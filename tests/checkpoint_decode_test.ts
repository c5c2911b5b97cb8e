import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { describe } from "./_describe.ts";

const fixtures = new URL("./fixtures/", import.meta.url);
const NAMES = ["state_dict", "tensors", "training", "values", "torch2"];

for (const name of NAMES) {
  Deno.test(`${name}.ckpt decodes to what torch.load sees`, async () => {
    const expected = JSON.parse(await Deno.readTextFile(new URL(`${name}.json`, fixtures)));
    const ckpt = await Checkpoint.open(new URL(`${name}.ckpt`, fixtures).pathname);
    try {
      assert.deepEqual(await describe(ckpt.root), expected);
    } finally {
      ckpt.close();
    }
  });
}
