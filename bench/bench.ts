/**
 * Times ckptkit's commands on an anemoi-shaped training checkpoint against
 * `cp` of the same file, and against torch when it is installed.
 *
 * Usage: deno run -A bench/bench.ts [--size 2G] [--runs N] [--params N]
 *   [--generator torch|ckptkit] [--dir DIR]... [--drop-caches] [--keep]
 *   [--pairs N]
 *
 * It writes two checkpoints of the same structure into a temporary folder:
 * one of `--size` (default 200M) and one of 20 MB, with `--params` (default
 * 506) parameters plus Adam state, 4 tensors each, and the config, metadata
 * and empty migration list of tests/fixtures/example_training.ckpt, so every
 * shipped migration is pending. torch.save writes them when /usr/bin/python3
 * (or `CKPTKIT_PYTHON`) has torch, else ckptkit's own writer.
 *
 * Table mode (the default): each operation runs `--runs` times (default 3)
 * in a child process after a `sync`, interleaved and rotated; the table
 * gives the median wall time, its range, MB/s of the input size, the
 * highest peak RSS of the child, and the time relative to `cp` and to
 * `cp + fsync` (ckptkit syncs what it writes). Where GNU cp clones (btrfs,
 * XFS), `cp --reflink=never` shows what a byte copy costs.
 *
 * Pairs mode (`--pairs N`): N rounds of `cp + fsync`, `cp`, `migrate --out`
 * and `rewrite --out` of the large file, the order rotated each round; it
 * prints each one's median and the ratios of medians the performance goals
 * are stated in, plus the median of the per-round ratios.
 *
 * `--dir` picks the filesystem (repeat it to run on several, e.g. a disk
 * folder and /dev/shm). Temporary folders are removed at the end.
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
const deno = Deno.execPath();
const log = (text: string) => console.error(`bench: ${text}`);

interface Sample {
  seconds: number;
  rssBytes: number | undefined;
}

interface Operation {
  label: string;
  argv: string[];
  /** Bytes of input, for MB/s. */
  input: number;
  /** "copy" rows write a file of the input's size and get × cp ratios. */
  kind: "copy" | "read";
}

interface Row extends Operation {
  samples: Sample[];
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

/**
 * Runs `argv` once; wall time around the child, peak RSS from /usr/bin/time
 * or /proc. Exit status 1 is a result for commands like diff, not a failure.
 */
async function measure(
  argv: string[],
  useTime: boolean,
  dir: string,
  okStatus = [0],
): Promise<Sample> {
  const rssFile = `${dir}/rss.txt`;
  const [command, ...args] = useTime ? ["/usr/bin/time", "-f", "%M", "-o", rssFile, ...argv] : argv;
  const start = performance.now();
  const child = new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).spawn();
  const output = child.output();
  const polled = useTime ? Promise.resolve(undefined) : pollPeakRss(child.pid, output);
  const { code, stderr } = await output;
  const seconds = (performance.now() - start) / 1000;
  if (!okStatus.includes(code)) throw runFailed(argv, stderr);
  const rssBytes = useTime
    ? Number(
      (await Deno.readTextFile(rssFile)).trim().split("\n").filter((l) => /^\d+$/.test(l)).pop(),
    ) * 1024
    : await polled;
  return { seconds, rssBytes };
}

function formatSize(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

const medianTime = (row: Row) => median(row.samples.map((s) => s.seconds));

function table(rows: Row[]): string {
  const cp = rows.find((r) => r.label === "cp");
  const cpSync = rows.find((r) => r.label === "cp + fsync");
  const lines = [
    "| operation | time (s) | min–max (s) | MB/s | peak RSS (MiB) | × cp | × cp + fsync |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of rows) {
    const seconds = medianTime(row);
    const peak = Math.max(...row.samples.map((s) => s.rssBytes ?? NaN));
    const ratio = (base: Row | undefined) =>
      row.kind === "copy" && base !== undefined
        ? `${(seconds / medianTime(base)).toFixed(2)}`
        : "—";
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

/** The filesystem type of the mount holding `path`, from /proc/self/mountinfo. */
async function filesystemOf(path: string): Promise<string> {
  try {
    const { dev } = await Deno.stat(path);
    const major = Math.floor(dev / 256) & 0xfff;
    const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
    for (const line of (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")) {
      const fields = line.split(" ");
      if (fields[2] !== `${major}:${minor}`) continue;
      return fields[fields.indexOf("-", 6) + 1];
    }
  } catch {
    // Not Linux, or /proc is not mounted.
  }
  return "unknown filesystem";
}

/** Runs `operations` `runs` times each, interleaved and rotated. */
async function runRotated(
  operations: Operation[],
  runs: number,
  options: { useTime: boolean; dir: string; out: string; dropCaches: boolean; pauseMs: number },
): Promise<Row[]> {
  const rows: Row[] = operations.map((operation) => ({ ...operation, samples: [] }));
  for (let run = 0; run < runs; run++) {
    // Rotated, so slow phases of a shared machine and the after-effects of
    // one operation on the next hit every operation alike.
    for (let k = 0; k < operations.length; k++) {
      const i = (k + run) % operations.length;
      for (const path of [options.out, `${options.out}.safetensors`]) {
        await Deno.remove(path).catch(() => {});
      }
      await settle(options.dropCaches);
      // Big files leave the disk busy for a moment after a sync (freed
      // blocks are discarded): let it settle before timing the next one.
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      const sample = await measure(operations[i].argv, options.useTime, options.dir, [0, 1]);
      rows[i].samples.push(sample);
      log(`${operations[i].label}: ${sample.seconds.toFixed(2)} s`);
    }
  }
  return rows;
}

interface Files {
  dir: string;
  large: string;
  small: string;
  out: string;
  inputSize: number;
  smallSize: number;
}

async function writeCheckpoints(
  dir: string,
  generator: string,
  params: number,
  size: number,
): Promise<Files> {
  const large = `${dir}/large.ckpt`;
  const small = `${dir}/small.ckpt`;
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
  return {
    dir,
    large,
    small,
    out: `${dir}/out.ckpt`,
    inputSize: (await Deno.stat(large)).size,
    smallSize: (await Deno.stat(small)).size,
  };
}

const cli = (...args: string[]) => [deno, "run", "-A", `${root}cli.ts`, ...args];

function copyOperations(files: Files): Operation[] {
  const { large, out, inputSize } = files;
  return [
    { label: "cp", argv: ["cp", large, out], input: inputSize, kind: "copy" },
    {
      label: "cp + fsync",
      argv: ["sh", "-c", 'cp "$0" "$1" && sync "$1"', large, out],
      input: inputSize,
      kind: "copy",
    },
    {
      label: "migrate --out",
      argv: cli("migrate", large, "--out", out, "-q"),
      input: inputSize,
      kind: "copy",
    },
    {
      label: "rewrite --out",
      argv: cli("rewrite", large, "--out", out, "-q"),
      input: inputSize,
      kind: "copy",
    },
  ];
}

async function tableMode(files: Files, runs: number, hasTorch: boolean, common: {
  useTime: boolean;
  dropCaches: boolean;
  pauseMs: number;
}): Promise<void> {
  const { dir, large, small, out, inputSize, smallSize } = files;
  // A migrated copy, for diff and transfer (its tensors renamed).
  const migrated = `${dir}/migrated.ckpt`;
  await measure(cli("migrate", large, "--out", migrated, "-q"), common.useTime, dir);
  const rewrite = (from: string, strategy: string) => [
    deno,
    "run",
    "-A",
    `${here}_rewrite.ts`,
    from,
    out,
    strategy,
  ];
  const operations = copyOperations(files);
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
    { label: "save, stream", argv: rewrite(large, "stream"), input: inputSize, kind: "copy" },
    { label: "save, clone", argv: rewrite(large, "clone"), input: inputSize, kind: "copy" },
    {
      label: `save, stream, ${formatSize(smallSize)} file`,
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
        "import sys; sys.path.insert(0, sys.argv[3]); import torch; " +
        "torch.save(torch.load(sys.argv[1]), sys.argv[2])",
        large,
        out,
        `${root}tests/fixtures/stubs`,
      ],
      input: inputSize,
      kind: "copy",
    });
  }
  operations.push(
    {
      label: "transfer --out",
      argv: cli("transfer", migrated, large, "--out", out, "-q"),
      input: inputSize,
      kind: "copy",
    },
    {
      label: "extract --out .safetensors",
      argv: cli("extract", large, "--out", `${out}.safetensors`, "-q"),
      input: inputSize / 3,
      kind: "read",
    },
    { label: "diff", argv: cli("diff", large, migrated), input: inputSize, kind: "read" },
    {
      label: "diff --exact",
      argv: cli("diff", large, migrated, "--exact"),
      input: 2 * inputSize,
      kind: "read",
    },
    { label: "verify", argv: cli("verify", large, "-q"), input: inputSize, kind: "read" },
    {
      label: `show --json, ${formatSize(smallSize)} file`,
      argv: cli("show", small, "--json"),
      input: smallSize,
      kind: "read",
    },
    {
      label: `show --json, ${formatSize(inputSize)} file`,
      argv: cli("show", large, "--json"),
      input: inputSize,
      kind: "read",
    },
  );

  const rows = await runRotated(operations, runs, { ...common, dir, out });
  const auto = JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command(deno, { args: rewrite(large, "auto").slice(1) }).output()).stdout,
    ),
  );
  const showSmall = medianTime(rows.at(-2)!);
  const showLarge = medianTime(rows.at(-1)!);
  const info = await Checkpoint.open(large);
  const pickleSize = info.pickleBytes.length;
  info.close();
  console.log(table(rows));
  console.log(
    `\nshow of the ${formatSize(inputSize)} file takes ${(showLarge / showSmall).toFixed(2)}x ` +
      `the time of the ${formatSize(smallSize)} one. \`--strategy auto\` picks ${auto.strategy}. ` +
      `RSS budget (64 MiB + 2 x data.pkl): ${
        ((64 * 2 ** 20 + 2 * pickleSize) / 2 ** 20).toFixed(0)
      } MiB. extract's MB/s counts the weights (a third of the file).`,
  );
}

async function pairsMode(files: Files, pairs: number, common: {
  useTime: boolean;
  dropCaches: boolean;
  pauseMs: number;
}): Promise<void> {
  const rows = await runRotated(copyOperations(files), pairs, {
    ...common,
    dir: files.dir,
    out: files.out,
  });
  const [cp, cpSync, migrate, rewrite] = rows;
  const lines = [
    "| operation | median (s) | min–max (s) | peak RSS (MiB) |",
    "|---|---:|---:|---:|",
  ];
  for (const row of rows) {
    const times = row.samples.map((s) => s.seconds);
    const peak = Math.max(...row.samples.map((s) => s.rssBytes ?? NaN));
    lines.push(
      `| ${row.label} | ${medianTime(row).toFixed(2)} | ${Math.min(...times).toFixed(2)}–${
        Math.max(...times).toFixed(2)
      } | ${Number.isFinite(peak) ? (peak / 2 ** 20).toFixed(0) : "?"} |`,
    );
  }
  lines.push(
    "",
    "| ratio | of medians | median of rounds | min–max of rounds |",
    "|---|---:|---:|---:|",
  );
  const ratio = (label: string, a: Row, b: Row) => {
    const rounds = a.samples.map((s, i) => s.seconds / b.samples[i].seconds);
    lines.push(
      `| ${label} | ${(medianTime(a) / medianTime(b)).toFixed(2)} | ${
        median(rounds).toFixed(2)
      } | ${Math.min(...rounds).toFixed(2)}–${Math.max(...rounds).toFixed(2)} |`,
    );
  };
  ratio("migrate / (cp + fsync)", migrate, cpSync);
  ratio("migrate / cp", migrate, cp);
  ratio("migrate / rewrite", migrate, rewrite);
  ratio("rewrite / (cp + fsync)", rewrite, cpSync);
  console.log(lines.join("\n"));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string", default: "200M" },
      runs: { type: "string", default: "3" },
      params: { type: "string", default: "506" },
      generator: { type: "string" },
      dir: { type: "string", multiple: true },
      pairs: { type: "string" },
      "drop-caches": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
    },
  });
  const size = parseSize(values.size!);
  const runs = Math.max(1, Number(values.runs));
  const params = Math.max(1, Number(values.params));
  const hasTorch = await succeeds(PYTHON, ["-c", "import torch"]);
  const generator = values.generator ?? (hasTorch ? "torch" : "ckptkit");
  if (generator === "torch" && !hasTorch) {
    throw new Error(`Cannot generate with torch: ${PYTHON} has no torch`);
  }
  const common = {
    useTime: await exists("/usr/bin/time"),
    dropCaches: values["drop-caches"]!,
    pauseMs: size >= 1 << 30 ? 1000 : 0,
  };
  const cpus = navigator.hardwareConcurrency;
  const memory = Deno.systemMemoryInfo().total;
  for (const parent of values.dir ?? [undefined]) {
    const dir = await Deno.makeTempDir({ dir: parent, prefix: "ckptkit-bench-" });
    try {
      const files = await writeCheckpoints(dir, generator, params, size);
      const info = await Checkpoint.open(files.large);
      const storages = info.recordNames.filter((name) => name.startsWith("data/")).length;
      const pickleSize = info.pickleBytes.length;
      info.close();
      // The first copy of a freshly written file is slow (seconds for 2 GB
      // on ext4): do it untimed, so every timed run starts from the same state.
      log("warming up");
      await measure(["cp", files.large, files.out], common.useTime, dir);
      await measure(["cp", files.small, files.out], common.useTime, dir);
      console.log(
        `\n${new Date().toISOString().slice(0, 10)}, ${await filesystemOf(dir)} (${dir}): ${
          formatSize(files.inputSize)
        } checkpoint written by ${generator}, ${storages} storages, data.pkl ${
          formatSize(pickleSize)
        }; ${values.pairs ?? runs} run(s) each; ${cpus} CPUs, ${
          (memory / 2 ** 30).toFixed(0)
        } GiB, ${Deno.build.os} ${Deno.osRelease()}.\n`,
      );
      if (values.pairs !== undefined) {
        await pairsMode(files, Math.max(1, Number(values.pairs)), common);
      } else {
        await tableMode(files, runs, hasTorch, common);
      }
    } finally {
      if (values.keep) log(`kept ${dir}`);
      else await Deno.remove(dir, { recursive: true });
    }
  }
}

if (import.meta.main) await main();
