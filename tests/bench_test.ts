// The benchmark scripts run end to end at a tiny size: their tables have
// every row, with numbers, and they leave nothing behind. With REQUIRE_TORCH=1
// (as in CI) the torch and CPython peer rows must be there too.
import assert from "node:assert/strict";
import { requireTorch } from "./_python.ts";

const root = new URL("..", import.meta.url).pathname;

async function runBench(script: string, args: string[]): Promise<string[]> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}bench/${script}`, ...args],
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout).split("\n").filter((line) => line.startsWith("| "));
}

/** The cells of the table row whose first cell starts with `label`. */
function row(rows: string[], label: string): string[] {
  const found = rows.find((r) => r.slice(2).startsWith(label));
  assert.ok(found !== undefined, `no row ${label} in:\n${rows.join("\n")}`);
  return found.split("|").slice(1, -1).map((cell) => cell.trim());
}

/** A number in a cell; times may round to 0 at these sizes, rates may not. */
function number(cell: string, { positive = false } = {}): number {
  const value = Number(cell.replace(/x$/, ""));
  assert.ok(Number.isFinite(value) && (positive ? value > 0 : value >= 0), `bad cell ${cell}`);
  return value;
}

Deno.test("bench/bench.ts times ckptkit against cp (and torch) and removes its files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-bench-test-" });
  try {
    const args = ["--size", "4M", "--params", "40", "--runs", "1", "--dir", dir];
    const rows = await runBench("bench.ts", args);
    for (
      const label of [
        "cp ",
        "cp + fsync",
        "migrate --out",
        "rewrite --out",
        "save, stream ",
        "save, clone",
        "transfer --out",
        "extract --out",
        "diff ",
        "diff --exact",
        "verify",
        "show --json",
      ]
    ) {
      const cells = row(rows, label);
      number(cells[1]); // time
      number(cells[3], { positive: true }); // MB/s
    }
    assert.ok(number(row(rows, "migrate --out")[4]) > 20, "peak RSS is measured in MiB");
    number(row(rows, "migrate --out")[6], { positive: true }); // x cp + fsync
    if (requireTorch) number(row(rows, "torch.save(torch.load(x))")[3], { positive: true });
    assert.deepEqual([...Deno.readDirSync(dir)], [], "the bench left files behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench/bench.ts --pairs alternates migrate, rewrite and cp and gives the ratios", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-bench-test-" });
  try {
    const args = ["--size", "4M", "--params", "40", "--pairs", "2", "--dir", dir];
    const rows = await runBench("bench.ts", args);
    for (const label of ["cp ", "cp + fsync", "migrate --out", "rewrite --out"]) {
      number(row(rows, label)[1], { positive: true });
    }
    for (const ratio of ["migrate / (cp + fsync)", "migrate / cp", "migrate / rewrite"]) {
      const cells = row(rows, ratio);
      number(cells[1], { positive: true }); // of medians
      number(cells[2], { positive: true }); // median of rounds
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "the bench left files behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench/codec.ts times both codec directions on both data.pkl shapes", async () => {
  const rows = await runBench("codec.ts", ["--keys", "10", "--runs", "1"]);
  for (const op of ["decode", "encode"]) {
    for (const shape of ["40 small tensors", "8 numpy arrays of 8 MiB"]) {
      const cells = row(rows, `${op} ${shape}`);
      // 40 tensors take milliseconds, so their rates and ratio may round to 0.
      const positive = shape.startsWith("8 numpy");
      number(cells[1]);
      number(cells[2], { positive });
      if (requireTorch) {
        number(cells[4], { positive });
        number(cells[5], { positive });
      }
    }
  }
  const build = row(rows, "build the decoded value directly, no pickle (40 small tensors)");
  number(build[1]);
  number(build[2]);
  assert.equal(build[3], "—", "CPython has no build row");
});
