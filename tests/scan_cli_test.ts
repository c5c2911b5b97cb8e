// `scan` on every container torch and numpy load: exit codes, one-line
// reasons, --json (also when the file cannot be read), the policy options.
import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";
import { legacyFile, npyObjectArray, npz, tarFile, torchZip, zipOf } from "./_scan_containers.ts";
import { asm, CALL, GLOBAL, NONE, PROTO, STOP, SU } from "./_pickle_asm.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const EVIL = asm(PROTO(2), CALL(GLOBAL("posix", "system"), SU("id")), STOP);
const BENIGN = asm(PROTO(2), NONE, STOP);

async function withFiles(
  files: Record<string, Uint8Array | Promise<Uint8Array>>,
  fn: (path: (name: string) => string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-scan-" });
  try {
    for (const [name, data] of Object.entries(files)) {
      await Deno.writeFile(`${dir}/${name}`, await data);
    }
    await fn((name) => `${dir}/${name}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("scan CLI: exit 0 clean, 1 dangerous, 3 unknown, with one line saying why", async () => {
  const clean = await runCli(["scan", fixture("training.ckpt")]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(clean.stderr, "");
  assert.match(clean.stdout, /^\S+training\.ckpt: torch zip checkpoint: clean$/m);
  assert.match(
    clean.stdout,
    /^training\/data\.pkl: 14 globals: 0 dangerous, 0 unknown, 14 allowed; clean$/m,
  );
  assert.match(clean.stdout, /^ {4}builtins\.dict \(written __builtin__\.dict\) \(offset \d+\)$/m);

  await withFiles({
    "evil.ckpt": torchZip(EVIL),
    "mine.ckpt": torchZip(asm(GLOBAL("myproject", "Cfg"), STOP)),
  }, async (path) => {
    const evil = await runCli(["scan", path("evil.ckpt")]);
    assert.equal(evil.code, 1);
    assert.equal(
      evil.stderr,
      `ckptkit: ${path("evil.ckpt")}: Cannot trust archive/data.pkl: it references posix.system\n`,
    );
    assert.match(
      evil.stdout,
      /^ {4}posix\.system: posix: runs processes .* \[fickling, modelscan, picklescan\] \(offset 2\)$/m,
    );
    const mine = await runCli(["scan", path("mine.ckpt")]);
    assert.equal(mine.code, 3);
    assert.equal(
      mine.stderr,
      `ckptkit: ${
        path("mine.ckpt")
      }: Cannot vouch for archive/data.pkl: it references globals not on the allowlist: myproject.Cfg\n`,
    );
    const allowed = await runCli(["scan", path("mine.ckpt"), "--allow-global", "myproject.Cfg"]);
    assert.equal(allowed.code, 0, allowed.stderr);
    // A user entry cannot allow what the denylist names.
    const notAllowed = await runCli(["scan", path("evil.ckpt"), "--allow-global", "posix.system"]);
    assert.equal(notAllowed.code, 1);
  });
});

Deno.test("scan CLI: --json is one document, also when the file cannot be read", async () => {
  await withFiles({ "evil.ckpt": torchZip(EVIL) }, async (path) => {
    const json = await runCli(["scan", path("evil.ckpt"), "--json"]);
    assert.equal(json.code, 1);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.verdict, "dangerous");
    assert.equal(doc.format, "torch-zip");
    assert.deepEqual(doc.dangerous, ["posix.system"]);
    assert.equal(doc.records[0].record, "archive/data.pkl");
    assert.deepEqual(doc.records[0].globals.map((g: { path: string }) => g.path), ["posix.system"]);
    assert.equal(doc.error, null);
    const missing = await runCli(["scan", path("missing.ckpt"), "--json"]);
    assert.equal(missing.code, 1);
    assert.deepEqual(JSON.parse(missing.stdout), {
      file: path("missing.ckpt"),
      format: null,
      verdict: null,
      error: "Cannot open: no such file",
    });
    assert.equal(missing.stderr, `ckptkit: ${path("missing.ckpt")}: Cannot open: no such file\n`);
  });
  const usage = await runCli(["scan", fixture("training.ckpt"), "--allow-global", "nodot"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^ckptkit: --allow-global: .*nodot.*\(see --help\)\n$/);
  const badPolicy = await runCli([
    "scan",
    fixture("training.ckpt"),
    "--policy",
    "/nonexistent.json",
  ]);
  assert.equal(badPolicy.code, 1);
  assert.match(
    badPolicy.stderr,
    /^ckptkit: Cannot read policy file \/nonexistent\.json: no such file\n$/,
  );
});

Deno.test("scan CLI: every container torch and numpy load is read, every pickle scanned", async () => {
  const files = {
    "legacy_first.pt": asm(EVIL, legacyFile({ main: BENIGN }).subarray(15)),
    "legacy_main.pt": legacyFile({ main: EVIL }),
    "legacy_keys.pt": legacyFile({ main: BENIGN, keys: EVIL }),
    "legacy_clean.pt": legacyFile({ main: BENIGN }),
    "objects.npy": npyObjectArray(EVIL),
    "structured.npy": npyObjectArray(EVIL, "[('a', '<f4'), ('b', '|O')]"),
    "floats.npy": npyObjectArray(new Uint8Array(8), "'<f4'"),
    "arrays.npz": npz({ "a.npy": npyObjectArray(BENIGN), "b.npy": npyObjectArray(EVIL) }),
    "second.pkl": asm(BENIGN, EVIL),
    "clean.pkl": asm(BENIGN, BENIGN),
    "old.tar": tarFile({ sys_info: BENIGN, pickle: EVIL }),
    "deflated.ckpt": torchZip(EVIL, { method: 8 }),
    "duplicate.ckpt": zipOf([
      { name: "archive/data.pkl", data: BENIGN },
      { name: "archive/data.pkl", data: EVIL },
      { name: "archive/version", data: new TextEncoder().encode("3\n") },
    ]),
    "torchscript.pt": torchZip(BENIGN, { extra: [{ name: "archive/constants.pkl", data: EVIL }] }),
    "other_pkl.ckpt": torchZip(BENIGN, { extra: [{ name: "archive/extra.pkl", data: EVIL }] }),
  };
  const expected: Record<string, [number, RegExp]> = {
    // torch.load runs the first pickle before it checks the magic number:
    // without the magic, the file is pickles back to back.
    "legacy_first.pt": [1, /the file: it references posix\.system/],
    "legacy_main.pt": [1, /pickle 4 of 5 \(the checkpoint\): it references posix\.system/],
    "legacy_keys.pt": [1, /pickle 5 of 5 \(storage keys\): it references posix\.system/],
    "legacy_clean.pt": [0, /^$/],
    "objects.npy": [1, /the array's data: it references posix\.system/],
    "structured.npy": [1, /posix\.system/],
    "floats.npy": [0, /^$/],
    "arrays.npz": [1, /b\.npy: it references posix\.system/],
    "second.pkl": [1, /the file: it references posix\.system/],
    "clean.pkl": [0, /^$/],
    "old.tar": [1, /Cannot trust pickle: it references posix\.system/],
    "deflated.ckpt": [1, /archive\/data\.pkl: it references posix\.system/],
    "duplicate.ckpt": [1, /archive\/data\.pkl \(copy 2 of 2\): it references posix\.system/],
    "torchscript.pt": [3, /TorchScript|posix\.system/],
    "other_pkl.ckpt": [1, /archive\/extra\.pkl: it references posix\.system/],
  };
  await withFiles(files, async (path) => {
    for (const [name, [code, message]] of Object.entries(expected)) {
      const run = await runCli(["scan", path(name)]);
      assert.equal(run.code, code, `${name}: ${run.stderr}`);
      assert.match(run.stderr, message, name);
      assert.doesNotMatch(run.stderr, /re-save|\n.+\n/, name);
    }
    const legacy = await runCli(["scan", path("legacy_main.pt")]);
    assert.match(legacy.stdout, /legacy torch file \(before 1\.6\): dangerous/);
  });
});
