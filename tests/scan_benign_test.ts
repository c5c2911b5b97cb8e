// No false alarm on what training runs write: real torch.save, pickle and
// numpy.save output of Lightning-, omegaconf-, anemoi- and numpy-shaped
// values (tests/fixtures/make_benign_checkpoints.py), at protocols 2, 4 and
// 5, in every container, is clean; a project's own classes are clean once
// its policy lists them, and unknown (never dangerous) before. The
// committed fixtures are clean too.
import assert from "node:assert/strict";
import { scanFile } from "../lib/scan/scan_file.ts";
import { ScanPolicy } from "../lib/scan/policy.ts";
import { runCli } from "./_cli.ts";
import { runPython, skipTorch } from "./_python.ts";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;

Deno.test({
  name: "benign: what torch, pickle and numpy write for training runs is clean",
  ignore: skipTorch,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ckptkit-benign-" });
    try {
      await runPython([`${fixtures}make_benign_checkpoints.py`, dir]);
      const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)) as Record<
        string,
        { own: string[] }
      >;
      const names = Object.keys(manifest);
      assert.ok(names.length >= 19, names.join(", "));
      const policy = await ScanPolicy.fromFile(`${dir}/policy.json`);
      for (const name of names) {
        const withPolicy = await scanFile(`${dir}/${name}`, { policy });
        const problems = withPolicy.records.flatMap((r) => [
          ...r.result.globals.filter((g) => g.rating !== "allowed").map((g) =>
            `${g.path}: ${g.reason}`
          ),
          ...r.result.findings.map((f) => f.message),
        ]);
        assert.equal(
          withPolicy.verdict,
          "clean",
          `${name}: ${[...problems, ...withPolicy.findings.map((f) => f.message)].join("; ")}`,
        );
        const without = await scanFile(`${dir}/${name}`);
        assert.equal(without.verdict, manifest[name].own.length > 0 ? "unknown" : "clean", name);
      }
      // The CLI says the same, with exit codes.
      const clean = await runCli(["scan", `${dir}/lightning_2x_p2.ckpt`]);
      assert.equal(clean.code, 0, clean.stderr);
      const own = await runCli(["scan", `${dir}/structured_p4.ckpt`]);
      assert.equal(own.code, 3);
      assert.match(
        own.stderr,
        /Cannot vouch for structured_p4\/data\.pkl: it references globals not on the allowlist: ckptkit_config\./,
      );
      const allowed = await runCli([
        "scan",
        `${dir}/structured_p4.ckpt`,
        "--policy",
        `${dir}/policy.json`,
      ]);
      assert.equal(allowed.code, 0, allowed.stderr);
      const flags = await runCli([
        "scan",
        `${dir}/structured_p2.ckpt`,
        "--allow-global",
        "ckptkit_config.*",
        "--allow-global",
        "ckptkit_shapes.*",
      ]);
      assert.equal(flags.code, 0, flags.stderr);
      // migrate and rewrite write them even with --strict-globals, given the policy.
      const out = `${dir}/rewritten.ckpt`;
      const strict = await runCli([
        "rewrite",
        `${dir}/structured_p2.ckpt`,
        "--out",
        out,
        "--strict-globals",
        "--policy",
        `${dir}/policy.json`,
      ]);
      assert.equal(strict.code, 0, strict.stderr);
      assert.equal((await runCli(["scan", out, "--policy", `${dir}/policy.json`])).code, 0);
      const refused = await runCli([
        "rewrite",
        `${dir}/structured_p2.ckpt`,
        "--out",
        out,
        "--strict-globals",
      ]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /Cannot rewrite: data\.pkl references globals not on the allowlist \(ckptkit_config\./,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("benign: the committed checkpoint fixtures are clean (the redirect fixture's old classes are unknown)", async () => {
  for (
    const name of [
      "state_dict.ckpt",
      "tensors.ckpt",
      "training.ckpt",
      "values.ckpt",
      "layout_small.ckpt",
      "torch2.ckpt",
      "example_training.ckpt",
      "anemoi_dictconfig.ckpt",
      "anemoi_schema.ckpt",
      "migration_empty.ckpt",
      "legacy.ckpt",
    ]
  ) {
    const scan = await scanFile(`${fixtures}${name}`);
    assert.equal(
      scan.verdict,
      "clean",
      `${name}: ${JSON.stringify(scan.records.map((r) => r.result.findings))}`,
    );
  }
  const redirects = await scanFile(`${fixtures}migration_redirects.ckpt`);
  assert.equal(redirects.verdict, "unknown");
  assert.ok(
    redirects.records[0].result.globals.every((g) =>
      g.rating !== "dangerous" && (g.rating === "allowed" || g.module.startsWith("ckptkit_old"))
    ),
  );
});
