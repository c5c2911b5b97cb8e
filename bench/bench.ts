/**
 * Times a checkpoint migration against `cp` of the same file, and against
 * torch when it is installed.
 *
 * Usage: deno run -A bench/bench.ts [--size 2G] [--runs N] [--params N]
 *   [--generator torch|ckptkit] [--dir DIR] [--drop-caches] [--keep]
 *
 * It writes two checkpoints of the same structure into a temporary folder:
 * one of `--size` (default 200M) and one of 20 MB, with `--params` (default
 * 506) parameters plus Adam state, 4 tensors each. torch.save writes them
 * when /usr/bin/python3 (or `CKPTKIT_PYTHON`) has torch, else ckptkit's own
 * writer. Each operation runs `--runs` times (default 3) in a child process
 * after a `sync`; the table gives the median wall time, MB/s of the input
 * size, the highest peak RSS of the child, and the time relative to `cp`.
 * ckptkit rows rename every state_dict key and save with fsync, so they are
 * compared with `cp + fsync` too; where GNU cp clones (btrfs, XFS),
 * `cp --reflink=never` shows what a byte copy costs. Use `--dir` to run on
 * another filesystem. The temporary folder is removed at the end.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { generateCheckpoint } from "./_generate.ts";
import { median, PYTHON, runFailed, succeeds } from "./_runs.ts";

const SMALL_BYTES = 20e6;
const here = new URL(".", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;

interface Sample {
  seconds: number;
  rssBytes: number | undefined;
}

interface Row {
  label: string;
  input: number;
  samples: Sample[];
  kind: "copy" | "read";
}

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)i?[bB]?$/.exec(text.trim());
  if (match === null) {
    throw new Error(
      `Cannot run bench: --size ${JSON.stringify(text)} is not a size (e.g. 200M, 2G)`,
    );
  }
  const scale = { "": 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[match[2].toLowerCase()]!;
  return Math.round(Number(match[1]) * scale);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Flushes dirty pages so one run's writeback does not slow the next. */
async function settle(dropCaches: boolean): Promise<void> {
  await succeeds("sync", []);
  if (dropCaches) {
    await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3\n").catch(() => {
      throw new Error("Cannot drop caches: /proc/sys/vm/drop_caches is not writable");
    });
  }
}

/** Peak RSS of a running process from /proc, polled until it exits. */
async function pollPeakRss(pid: number, done: Promise<unknown>): Promise<number | undefined> {
  let peak: number | undefined;
  let running = true;
  done.finally(() => running = false);
  while (running) {
    try {
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
      if (Number.isFinite(kb)) peak = Math.max(peak ?? 0, kb * 1024);
    } catch {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return peak;
}

/** Runs `argv` once; wall time around the child, peak RSS from /usr/bin/time or /proc. */
async function measure(argv: string[], useTime: boolean, dir: string): Promise<Sample> {
  const rssFile = `${dir}/rss.txt`;
  const [command, ...args] = useTime ? ["/usr/bin/time", "-f", "%M", "-o", rssFile, ...argv] : argv;
  const start = performance.now();
  const child = new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).spawn();
  const output = child.output();
  const polled = useTime ? Promise.resolve(undefined) : pollPeakRss(child.pid, output);
  const { success, stderr } = await output;
  const seconds = (performance.now() - start) / 1000;
  if (!success) {
    throw runFailed(argv, stderr);
  }
  const rssBytes = useTime
    ? Number((await Deno.readTextFile(rssFile)).trim().split("\n").pop()) * 1024
    : await polled;
  return { seconds, rssBytes };
}

function formatSize(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function table(rows: Row[]): string {
  const time = (row: Row) => median(row.samples.map((s) => s.seconds));
  const cp = rows.find((r) => r.label === "cp");
  const cpSync = rows.find((r) => r.label === "cp + fsync");
  const lines = [
    "| operation | time (s) | min–max (s) | MB/s | peak RSS (MiB) | × cp | × cp + fsync |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of rows) {
    const seconds = time(row);
    const rss = row.samples.map((s) => s.rssBytes ?? NaN);
    const peak = Math.max(...rss);
    const ratio = (base: Row | undefined) =>
      row.kind === "copy" && base !== undefined ? `${(seconds / time(base)).toFixed(2)}` : "—";
    const times = row.samples.map((s) => s.seconds);
    const range = `${Math.min(...times).toFixed(2)}–${Math.max(...times).toFixed(2)}`;
    lines.push(
      `| ${row.label} | ${seconds.toFixed(2)} | ${range} | ${
        (row.input / 1e6 / seconds).toFixed(0)
      } | ${Number.isFinite(peak) ? (peak / 2 ** 20).toFixed(0) : "?"} | ${ratio(cp)} | ${
        ratio(cpSync)
      } |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string", default: "200M" },
      runs: { type: "string", default: "3" },
      params: { type: "string", default: "506" },
      generator: { type: "string" },
      dir: { type: "string" },
      "drop-caches": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
    },
  });
  const size = parseSize(values.size!);
  const runs = Math.max(1, Number(values.runs));
  const params = Math.max(1, Number(values.params));
  const dropCaches = values["drop-caches"]!;
  const hasTorch = await succeeds(PYTHON, ["-c", "import torch"]);
  const generator = values.generator ?? (hasTorch ? "torch" : "ckptkit");
  if (generator === "torch" && !hasTorch) {
    throw new Error(`Cannot generate with torch: ${PYTHON} has no torch`);
  }
  const useTime = await exists("/usr/bin/time");
  const dir = await Deno.makeTempDir({ dir: values.dir, prefix: "ckptkit-bench-" });
  const deno = Deno.execPath();
  try {
    const large = `${dir}/large.ckpt`;
    const small = `${dir}/small.ckpt`;
    const out = `${dir}/out.ckpt`;
    const log = (text: string) => console.error(`bench: ${text}`);
    for (const [path, bytes] of [[large, size], [small, Math.min(SMALL_BYTES, size)]] as const) {
      log(`writing ${formatSize(bytes)} with ${generator} -> ${path}`);
      if (generator === "torch") {
        const ok = await succeeds(PYTHON, [
          `${here}_make_checkpoint.py`,
          path,
          String(params),
          String(bytes),
        ]);
        if (!ok) throw new Error("Cannot generate checkpoint: bench/_make_checkpoint.py failed");
      } else {
        await generateCheckpoint(path, params, bytes);
      }
    }
    const inputSize = (await Deno.stat(large)).size;
    const smallSize = (await Deno.stat(small)).size;
    const info = await Checkpoint.open(large);
    const pickleSize = info.pickleBytes.length;
    const tensors = info.recordNames.filter((name) => name.startsWith("data/")).length;
    info.close();

    const rewrite = (from: string, strategy: string) => [
      deno,
      "run",
      "-A",
      `${here}_rewrite.ts`,
      from,
      out,
      strategy,
    ];
    const show = (path: string) => [deno, "run", "-A", `${root}cli.ts`, "show", path, "--json"];
    const operations: { label: string; argv: string[]; input: number; kind: Row["kind"] }[] = [
      { label: "cp", argv: ["cp", large, out], input: inputSize, kind: "copy" },
      {
        label: "cp + fsync",
        argv: ["sh", "-c", 'cp "$0" "$1" && sync "$1"', large, out],
        input: inputSize,
        kind: "copy",
      },
    ];
    // GNU cp clones where the filesystem can (coreutils 9): time a byte copy too.
    if (await succeeds("cp", ["--reflink=never", small, out])) {
      operations.push({
        label: "cp --reflink=never + fsync",
        argv: ["sh", "-c", 'cp --reflink=never "$0" "$1" && sync "$1"', large, out],
        input: inputSize,
        kind: "copy",
      });
    }
    operations.push(
      {
        label: "ckptkit stream",
        argv: rewrite(large, "stream"),
        input: inputSize,
        kind: "copy",
      },
      { label: "ckptkit clone", argv: rewrite(large, "clone"), input: inputSize, kind: "copy" },
      {
        label: `ckptkit stream, ${formatSize(smallSize)} file`,
        argv: rewrite(small, "stream"),
        input: smallSize,
        kind: "read",
      },
    );
    if (hasTorch) {
      operations.push({
        label: "torch.save(torch.load(x))",
        argv: [
          PYTHON,
          "-c",
          "import sys, torch; torch.save(torch.load(sys.argv[1]), sys.argv[2])",
          large,
          out,
        ],
        input: inputSize,
        kind: "copy",
      });
    }
    operations.push(
      {
        label: `show --json, ${formatSize(smallSize)} file`,
        argv: show(small),
        input: smallSize,
        kind: "read",
      },
      {
        label: `show --json, ${formatSize(inputSize)} file`,
        argv: show(large),
        input: inputSize,
        kind: "read",
      },
    );

    // The first copy of a freshly written file is slow (seconds for 2 GB on
    // ext4): do it untimed, so every timed run starts from the same state.
    log("warming up");
    await measure(["cp", large, out], useTime, dir);
    await measure(["cp", small, out], useTime, dir);

    const rows: Row[] = operations.map(({ label, input, kind }) => ({
      label,
      input,
      kind,
      samples: [],
    }));
    // Big files leave the disk busy for a moment after a sync (freed blocks
    // are discarded): let it settle before timing the next operation.
    const pause = size >= 1 << 30 ? 1000 : 0;
    for (let run = 0; run < runs; run++) {
      // Interleaved and rotated, so slow phases of a shared machine and the
      // after-effects of one operation on the next hit every operation alike.
      for (let k = 0; k < operations.length; k++) {
        const i = (k + run) % operations.length;
        await Deno.remove(out).catch(() => {});
        await settle(dropCaches);
        await new Promise((resolve) => setTimeout(resolve, pause));
        const sample = await measure(operations[i].argv, useTime, dir);
        rows[i].samples.push(sample);
        log(`${operations[i].label}: ${sample.seconds.toFixed(2)} s`);
      }
    }
    const auto = JSON.parse(
      new TextDecoder().decode(
        (await new Deno.Command(deno, { args: rewrite(large, "auto").slice(1) }).output()).stdout,
      ),
    );
    const showSmall = median(rows.at(-2)!.samples.map((s) => s.seconds));
    const showLarge = median(rows.at(-1)!.samples.map((s) => s.seconds));

    const cpus = navigator.hardwareConcurrency;
    console.log(
      `${formatSize(inputSize)} checkpoint written by ${generator}: ${tensors} tensors, data.pkl ${
        formatSize(pickleSize)
      }; ${runs} run(s) each, median time; ${cpus} CPUs, ${Deno.build.os}.\n`,
    );
    console.log(table(rows));
    console.log(
      `\nshow of the ${formatSize(inputSize)} file takes ${(showLarge / showSmall).toFixed(2)}x ` +
        `the time of the ${
          formatSize(smallSize)
        } one. \`--strategy auto\` picks ${auto.strategy}. ` +
        `RSS budget (64 MiB + 2 x data.pkl): ${
          ((64 * 2 ** 20 + 2 * pickleSize) / 2 ** 20).toFixed(0)
        } MiB.`,
    );
  } finally {
    if (values.keep) console.error(`bench: kept ${dir}`);
    else await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
