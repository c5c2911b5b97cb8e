// Runs the CLI on every file of the hostile corpus (tests/hostile/make_corpus.ts)
// and checks the outcome: the exact one-line errors naming the file, the exit
// code, no stack trace, no hang, and the file unchanged. "No hang" is ten
// times what the same commands take, under the same load, on a benign
// checkpoint holding as many objects as the largest hostile pickle (a fixed
// bound failed on a loaded machine).
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { type CliResult, runCli } from "./_cli.ts";
import { type Outcome, writeCorpus } from "./hostile/make_corpus.ts";

const CONCURRENCY = 2;
// The hostile pickles hold at most a million objects.
const REFERENCE_OBJECTS = 1_000_000;
let limitMs = Infinity;

interface Run extends CliResult {
  args: string[];
  ms: number;
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function timed(args: string[]): Promise<Run> {
  const start = performance.now();
  const result = await runCli(args);
  return { ...result, args, ms: performance.now() - start };
}

/** Runs `jobs` at most `limit` at a time, keeping their order. */
async function pool<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      results[index] = await jobs[index]();
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

/** rewrite refuses what scan calls dangerous; the corpus checks it writes them when told to. */
function allowIfDangerous(c: { scan: Outcome }): string[] {
  return c.scan.code === 1 ? ["--allow-dangerous-globals"] : [];
}

function check(run: Run, path: string, expected: Outcome): void {
  const what = `${run.args.join(" ")}\nstderr: ${run.stderr}`;
  assert.ok(
    run.ms < limitMs,
    `took ${Math.round(run.ms)} ms (limit ${Math.round(limitMs)} ms): ${what}`,
  );
  assert.doesNotMatch(run.stderr, /^\s+at /m, `stack trace: ${what}`);
  const lines = run.stderr === "" ? [] : run.stderr.replace(/\n$/, "").split("\n");
  assert.deepEqual(lines, expected.errors.map((e) => `ckptkit: ${path}: ${e}`), what);
  assert.equal(run.code, expected.code, what);
}

/**
 * Ten times the slowest command on a benign checkpoint of a million small
 * lists, run two at a time like the corpus, and never below 5 s.
 */
async function referenceLimit(dir: string, template: string): Promise<number> {
  const path = `${dir}/reference.ckpt`;
  const ckpt = await Checkpoint.open(template);
  ckpt.root = Array.from({ length: REFERENCE_OBJECTS }, (_, i) => [i]);
  await ckpt.save(path);
  ckpt.close();
  const commands = (k: number) => [
    ["show", path],
    ["show", path, "--json"],
    ["verify", path],
    ["scan", path],
    ["rewrite", path, "--out", `${dir}/reference${k}.out`],
  ];
  const jobs = [...commands(0), ...commands(1)].map((args) => () => timed(args));
  const runs = await pool(jobs, CONCURRENCY);
  for (const run of runs) assert.equal(run.code, 0, run.stderr);
  return Math.max(10 * Math.max(...runs.map((r) => r.ms)), 5000);
}

Deno.test("hostile corpus: every file gets its exact outcome, quickly, unchanged", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-hostile-" });
  try {
    const cases = await writeCorpus(`${dir}/corpus`);
    const hashes = await Promise.all(cases.map((c) => sha256(c.path)));
    const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
    const likes = [...new Set(cases.flatMap((c) => c.showLike ?? []))];
    const references = new Map(
      await Promise.all(likes.map(async (n) => [n, await runCli(["show", fixture(n)])] as const)),
    );
    limitMs = await referenceLimit(dir, fixture("state_dict.ckpt"));
    const jobs = cases.map((c) => async () => {
      const showArgs = c.showArgs ?? [];
      const runs = {
        show: await timed(["show", c.path, ...showArgs]),
        json: await timed(["show", c.path, "--json", ...showArgs]),
        verify: await timed(["verify", c.path]),
        scan: await timed(["scan", c.path]),
        rewrite: c.rewrite
          ? await timed([
            "rewrite",
            c.path,
            "--out",
            `${dir}/${c.name}.out`,
            ...allowIfDangerous(c),
          ])
          : undefined,
        // What scan calls dangerous, rewrite refuses to write unless told to.
        refused: c.rewrite && c.scan.code === 1
          ? await timed(["rewrite", c.path, "--out", `${dir}/${c.name}.refused`])
          : undefined,
      };
      return runs;
    });
    const results = await pool(jobs, CONCURRENCY);
    for (const [i, c] of cases.entries()) {
      await t.step(`${c.name}: ${c.about}`, async () => {
        const runs = results[i];
        check(runs.show, c.path, c.show);
        check(runs.json, c.path, c.show);
        if (c.show.code === 0) JSON.parse(runs.json.stdout);
        check(runs.verify, c.path, c.verify);
        check(runs.scan, c.path, c.scan);
        if (c.showLike !== undefined) {
          assert.equal(runs.show.stdout, references.get(c.showLike)!.stdout);
        }
        if (runs.rewrite !== undefined) {
          const expected = c.rewrite === true ? { code: 0, errors: [] } : c.rewrite!;
          check(runs.rewrite, `${dir}/${c.name}.out`, expected);
        }
        if (runs.refused !== undefined) {
          assert.equal(runs.refused.code, 1);
          assert.match(
            runs.refused.stderr,
            /^ckptkit: \S+: Cannot rewrite: data\.pkl references dangerous globals \(.+\) that run code when Python loads it; pass --allow-dangerous-globals to rewrite it anyway\n$/,
          );
          assert.equal(
            await Deno.stat(`${dir}/${c.name}.refused`).catch(() => undefined),
            undefined,
          );
        }
        assert.equal(await sha256(c.path), hashes[i], "the input file changed");
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
