/**
 * Times ckptkit's pickle codec against CPython's on the same data.pkl files,
 * in one run: one dominated by many small objects (a state_dict of `--keys`
 * parameters with Adam state, 4 tensors per key) and one by large numpy
 * byte strings (8 arrays of 8 MiB). Each side runs in its own process, one
 * warm-up then `--runs` timed runs; the table gives the median and MB/s of
 * the pickle's size. CPython's row needs /usr/bin/python3 (or
 * `CKPTKIT_PYTHON`) with torch (for the rebuild function's name) and numpy;
 * see bench/_codec_peer.py for what it builds. A row after the small shape's
 * times building its value graph directly, without a pickle: the allocations
 * a decode cannot avoid, so the fastest a decode could be.
 *
 * Usage: deno run -A bench/codec.ts [--keys 100000] [--runs 5]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { largeBytesCheckpoint, smallObjectsCheckpoint, torchPickle } from "./_pickles.ts";
import { median, PYTHON, runFailed, succeeds } from "./_runs.ts";

const here = new URL(".", import.meta.url).pathname;

interface Times {
  decode: number[];
  encode: number[];
  build?: number[];
}

async function run(command: string, args: string[]): Promise<Times> {
  const { success, stdout, stderr } = await new Deno.Command(command, { args }).output();
  if (!success) throw runFailed([command, ...args], stderr);
  return JSON.parse(new TextDecoder().decode(stdout));
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    keys: { type: "string", default: "100000" },
    runs: { type: "string", default: "5" },
  },
});
const keys = Number(values.keys);
const runs = Number(values.runs);
if (!Number.isInteger(keys) || keys < 1 || !Number.isInteger(runs) || runs < 1) {
  throw new Error("Cannot run bench: --keys and --runs take positive integers");
}
const peer = await succeeds(PYTHON, ["-c", "import torch, numpy"]);

const dir = await Deno.makeTempDir({ prefix: "ckptkit-codec-" });
try {
  const shapes = [
    {
      label: `${keys * 4} small tensors`,
      file: `${dir}/small.pkl`,
      value: () => smallObjectsCheckpoint(keys),
      keys,
    },
    {
      label: "8 numpy arrays of 8 MiB",
      file: `${dir}/large.pkl`,
      value: () => largeBytesCheckpoint(8, 8 << 20),
      keys: undefined,
    },
  ];
  const rows: string[][] = [];
  for (const shape of shapes) {
    await Deno.writeFile(shape.file, torchPickle(shape.value()));
    const size = (await Deno.stat(shape.file)).size;
    const ours = await run(Deno.execPath(), [
      "run",
      "-A",
      `${here}_codec_child.ts`,
      shape.file,
      String(runs),
      ...(shape.keys === undefined ? [] : [String(shape.keys)]),
    ]);
    const theirs = peer
      ? await run(PYTHON, [`${here}_codec_peer.py`, shape.file, String(runs)])
      : undefined;
    for (const op of ["decode", "encode"] as const) {
      const mine = median(ours[op]);
      const other = theirs === undefined ? undefined : median(theirs[op]);
      const rate = (seconds: number) => (size / seconds / 1e6).toFixed(0);
      rows.push([
        `${op} ${shape.label} (${(size / 1e6).toFixed(1)} MB)`,
        mine.toFixed(3),
        rate(mine),
        other === undefined ? "—" : other.toFixed(3),
        other === undefined ? "—" : rate(other),
        other === undefined ? "—" : `${(other / mine).toFixed(1)}x`,
      ]);
    }
    if (ours.build !== undefined) {
      // The rate a decode would reach if reading the pickle cost nothing.
      const seconds = median(ours.build);
      rows.push([
        `build the decoded value directly, no pickle (${shape.label})`,
        seconds.toFixed(3),
        (size / seconds / 1e6).toFixed(0),
        "—",
        "—",
        "—",
      ]);
    }
  }
  console.log(
    `Pickle codec, median of ${runs} run(s) after a warm-up; ${navigator.hardwareConcurrency} CPUs, ${Deno.build.os}.\n`,
  );
  console.log("| data.pkl | ckptkit (s) | MB/s | CPython (s) | MB/s | ckptkit faster by |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  if (!peer) console.log(`\nNo CPython row: ${PYTHON} lacks torch or numpy.`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
