// Remote inspect against a real nginx: only range requests, a small share
// of the file, and a clear error when the server cannot serve ranges.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { HttpSource } from "../lib/zip/http_source.ts";
import { RemoteError } from "../lib/errors.ts";
import { describe } from "./_describe.ts";
import { runCli } from "./_cli.ts";
import { type Nginx, skipNginx, startNginx } from "./_nginx.ts";
import { writeZeroCheckpoint } from "./_big_checkpoint.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

async function withNginx(body: (server: Nginx) => Promise<void>): Promise<void> {
  const server = await startNginx();
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

Deno.test({
  name: "a checkpoint opened by URL decodes like the local file",
  ignore: skipNginx,
  async fn() {
    await withNginx(async (server) => {
      await Deno.copyFile(fixture("training.ckpt"), `${server.root}/training.ckpt`);
      const remote = await Checkpoint.open(`${server.url}/training.ckpt`);
      const local = await Checkpoint.open(fixture("training.ckpt"));
      assert.deepEqual(await describe(remote.root), await describe(local.root));
      assert.ok(remote.source instanceof HttpSource);
      remote.close();
      local.close();
    });
  },
});

Deno.test({
  name: "show and scan of a 1 GB remote checkpoint fetch under 1% of it, in a few requests",
  ignore: skipNginx,
  async fn() {
    await withNginx(async (server) => {
      const path = `${server.root}/big.ckpt`;
      await writeZeroCheckpoint(path, { tensors: 100, tensorBytes: 10 << 20 });
      const size = (await Deno.stat(path)).size;
      assert.ok(size > 1e9);
      const { code, stdout, stderr } = await runCli(["show", `${server.url}/big.ckpt`]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /'layers\.99\.weight': Tensor float32 \[2621440\]/);
      const served = await server.bytesServed();
      assert.ok(served < size / 100, `served ${served} of ${size}`);
      const reported = /fetched (\d+) bytes.* in (\d+) range requests/.exec(stderr);
      assert.ok(reported !== null, stderr);
      assert.equal(Number(reported[1]), served);
      // The tail, the central directory, data.pkl's header and data.pkl: no
      // request per storage record.
      assert.ok(Number(reported[2]) <= 6, stderr);
      const scan = await runCli(["scan", `${server.url}/big.ckpt`]);
      assert.equal(scan.code, 0, scan.stderr);
      const scanned = /in (\d+) range requests/.exec(scan.stderr);
      assert.ok(scanned !== null && Number(scanned[1]) <= 6, scan.stderr);
    });
  },
});

Deno.test({
  name: "a server without range support gets a clear error, not a download",
  ignore: skipNginx,
  async fn() {
    await withNginx(async (server) => {
      const path = `${server.root}/norange/big.ckpt`;
      await writeZeroCheckpoint(path, { tensors: 20, tensorBytes: 10 << 20 });
      const size = (await Deno.stat(path)).size;
      await assert.rejects(
        () => HttpSource.open(`${server.url}/norange/big.ckpt`),
        (error: unknown) => error instanceof RemoteError && /range requests/.test(error.message),
      );
      const { code, stderr } = await runCli(["show", `${server.url}/norange/big.ckpt`]);
      assert.equal(code, 1);
      assert.match(stderr.trim(), /^ckptkit: http:\S+big\.ckpt: Cannot read remote file: .*range/);
      assert.ok((await server.bytesServed()) < size / 2);
    });
  },
});

Deno.test({
  name: "a missing remote file is a one-line error",
  ignore: skipNginx,
  async fn() {
    await withNginx(async (server) => {
      const { code, stderr } = await runCli(["show", `${server.url}/missing.ckpt`]);
      assert.equal(code, 1);
      assert.match(
        stderr.trim(),
        /^ckptkit: http:\S+missing\.ckpt: Cannot read remote file: HTTP 404/,
      );
    });
  },
});

Deno.test({
  name: "inspect, check, scan and verify read URLs and say what they fetched",
  ignore: skipNginx,
  async fn() {
    await withNginx(async (server) => {
      await Deno.copyFile(fixture("example_training.ckpt"), `${server.root}/ex.ckpt`);
      const url = `${server.url}/ex.ckpt`;
      const expectations: Array<[string[], number, RegExp]> = [
        [["inspect", url], 0, /1 registered migration/],
        [["check", url], 1, /9 migrations pending/],
        [["scan", url], 0, /0 dangerous/],
        [["verify", url], 0, /OK/],
      ];
      for (const [args, exit, pattern] of expectations) {
        const { code, stdout, stderr } = await runCli(args);
        assert.equal(code, exit, `${args[0]}: ${stderr}`);
        assert.match(stdout, pattern);
        assert.match(
          stderr,
          /^ckptkit: http:\S+: fetched \d+ bytes of \d+ \([\d.]+%\) in \d+ range requests$/m,
        );
        // --quiet drops the informational line; results still print.
        const quiet = await runCli([...args, "--quiet"]);
        assert.equal(quiet.code, exit);
        assert.equal(quiet.stderr, "");
        if (args[0] !== "check" && args[0] !== "verify") assert.equal(quiet.stdout, stdout);
      }
    });
  },
});
