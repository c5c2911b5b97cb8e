import assert from "node:assert/strict";
import { dis, instructions } from "../lib/pickle/dis.ts";
import { PickleError } from "../lib/errors.ts";

const corpus = new URL("./fixtures/pickles/", import.meta.url);

for (const protocol of [0, 1, 2, 3, 4, 5]) {
  Deno.test(`dis matches pickletools.dis for protocol ${protocol}`, async () => {
    const data = await Deno.readFile(new URL(`listed_protocol${protocol}.pkl`, corpus));
    const expected = await Deno.readTextFile(new URL(`listed_protocol${protocol}.dis.txt`, corpus));
    assert.equal(dis(data), expected.trimEnd());
  });
}

Deno.test("instructions stop at STOP and report offsets", () => {
  const ops = [...instructions(new Uint8Array([0x80, 2, 0x4b, 7, 0x2e]))];
  assert.deepEqual(ops.map((op) => [op.offset, op.name, op.arg]), [
    [0, "PROTO", "2"],
    [2, "BININT1", "7"],
    [4, "STOP", undefined],
  ]);
});

Deno.test("dis names the offset of an unknown opcode", () => {
  assert.throws(
    () => dis(new Uint8Array([0x80, 2, 0xff])),
    (error: unknown) => error instanceof PickleError && /0xff at offset 2/.test(error.message),
  );
});
