// The progress bar of long copies: drawn on a terminal's stderr only, never
// with --quiet or on a pipe, and its line says bytes, MB/s and ETA.
import assert from "node:assert/strict";
import { script } from "./_tools.ts";
import {
  formatBytes,
  formatDuration,
  formatProgress,
  ProgressBar,
  stderrProgress,
} from "../lib/cli/_progress.ts";
import { writeZeroCheckpoint } from "./_big_checkpoint.ts";
import { runCli } from "./_cli.ts";

Deno.test("formatBytes and formatDuration use short decimal units", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1500), "1.50 kB");
  assert.equal(formatBytes(52_400_000), "52.4 MB");
  assert.equal(formatBytes(2_147_483_648), "2.15 GB");
  assert.equal(formatDuration(4.4), "4s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(7380), "2h03m");
});

Deno.test("formatProgress shows a bar, the percentage, bytes, rate and ETA", () => {
  const line = formatProgress("rewrite", { done: 1e9, total: 2e9 }, 4000, 100);
  assert.match(line, /^rewrite \[#+-+\] {2}50% 1\.00 GB \/ 2\.00 GB 250 MB\/s ETA 4s$/);
  assert.ok(line.length <= 100, line);
  const bar = /\[(#*)(-*)\]/.exec(line)!;
  assert.equal(bar[1].length, bar[2].length);
  // Finished: full bar, no ETA.
  assert.match(formatProgress("x", { done: 5, total: 5 }, 1000, 80), /\[#+\] 100% .* 5 B\/s$/);
  // Narrow terminals drop the bar, never exceed the width.
  const narrow = formatProgress("rewrite", { done: 1e9, total: 2e9 }, 4000, 40);
  assert.ok(!narrow.includes("["), narrow);
  assert.ok(narrow.length < 40, narrow);
});

Deno.test("ProgressBar redraws in place at most once per interval, and always at the end", () => {
  let now = 0;
  const writes: string[] = [];
  const bar = new ProgressBar("copy", {
    write: (text) => writes.push(text),
    columns: 80,
    now: () => now,
    interval: 100,
  });
  bar.update({ done: 10, total: 100 });
  now = 50;
  bar.update({ done: 20, total: 100 });
  now = 150;
  bar.update({ done: 30, total: 100 });
  now = 160;
  bar.update({ done: 100, total: 100 });
  bar.done();
  assert.equal(writes.length, 4);
  assert.ok(writes.slice(0, 3).every((w) => w.startsWith("\r\x1b[2Kcopy [")), writes.join("|"));
  assert.match(writes[0], / 10% /);
  assert.match(writes[1], / 30% /);
  assert.match(writes[2], / 100% /);
  assert.equal(writes[3], "\r\x1b[2K");
  // Nothing drawn: nothing to clear.
  const quiet: string[] = [];
  new ProgressBar("copy", { write: (t) => quiet.push(t) }).done();
  assert.deepEqual(quiet, []);
});

Deno.test("stderrProgress draws only on a terminal, never with --quiet or --json", () => {
  assert.equal(stderrProgress("x", { isTerminal: false }), undefined);
  assert.equal(stderrProgress("x", { isTerminal: true, quiet: true }), undefined);
  assert.equal(stderrProgress("x", { isTerminal: true, json: true }), undefined);
  assert.ok(stderrProgress("x", { isTerminal: true, bar: { write: () => {} } }));
});

Deno.test("rewrite prints no progress on a pipe, and nothing at all with --quiet", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = `${dir}/in.ckpt`;
    await writeZeroCheckpoint(input, { tensors: 4, tensorBytes: 10 << 20 });
    const piped = await runCli(["rewrite", input, "--out", `${dir}/a.ckpt`]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stderr, "");
    assert.match(
      piped.stdout,
      /wrote .*a\.ckpt: \d+ bytes, 4 storages, data\.pkl \d+ bytes \((clone|stream)\)/,
    );
    const quiet = await runCli([
      "rewrite",
      input,
      "--out",
      `${dir}/b.ckpt`,
      "--quiet",
      "--strategy",
      "stream",
    ]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout + quiet.stderr, "");
    const bad = await runCli(["rewrite", input, "--out", `${dir}/c.ckpt`, "--strategy", "fast"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--strategy must be stream or clone, got 'fast'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// `script` runs the command on a pseudo-terminal, as an interactive shell would.

Deno.test({
  name: "rewrite draws the progress bar when stderr is a terminal",
  ignore: script.ignore,
  async fn() {
    script.check();
    const dir = await Deno.makeTempDir();
    try {
      const input = `${dir}/in.ckpt`;
      await writeZeroCheckpoint(input, { tensors: 4, tensorBytes: 10 << 20 });
      const cli = new URL("../cli.ts", import.meta.url).pathname;
      const command = [Deno.execPath(), "run", "-A", "--quiet", cli, "rewrite", input, "--out"];
      const run = async (extra: string[]) => {
        const line = [...command, `${dir}/out.ckpt`, ...extra].map((a) => `'${a}'`).join(" ");
        const { success, stdout } = await new Deno.Command("script", {
          args: ["-qec", line, "/dev/null"],
          env: { NO_COLOR: "1" },
          stdin: "null",
        }).output();
        assert.ok(success);
        return new TextDecoder().decode(stdout);
      };
      const shown = await run(["--strategy", "stream"]);
      assert.ok(shown.includes("\r\x1b[2Krewrite ["), JSON.stringify(shown));
      assert.match(shown, /rewrite \[[#-]+\] +\d+% .* [kMG]?B\/s/);
      assert.match(shown, /100%/);
      assert.match(shown, /wrote .*out\.ckpt/);
      const hidden = await run(["--strategy", "stream", "--quiet"]);
      assert.doesNotMatch(hidden, /rewrite \[/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
