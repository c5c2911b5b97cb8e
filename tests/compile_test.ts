// `deno compile` needs Deno's `denort` runtime, which it downloads unless
// DENORT_BIN points at a local copy; the test runs only when that is set.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;
const denort = Deno.env.get("DENORT_BIN");

Deno.test({
  name: "deno task compile builds a ckptkit binary that runs on its own",
  ignore: denort === undefined,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const binary = `${dir}/ckptkit`;
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["compile", "-A", "--quiet", "-o", binary, `${root}cli.ts`],
        cwd: root,
      }).output();
      assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
      await Deno.copyFile(`${root}tests/fixtures/training.ckpt`, `${dir}/last.ckpt`);
      const run = await new Deno.Command(binary, {
        args: ["rewrite", "last.ckpt", "--out", "copy.ckpt"],
        cwd: dir,
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.ok((await Deno.stat(`${dir}/copy.ckpt`)).size > 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
