import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { PyObject } from "../lib/pickle/py_object.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

Deno.test("show prints the tree with tensors and classes", async () => {
  const { code, stdout, stderr } = await runCli(["show", fixture("training.ckpt"), "--depth", "2"]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^dict \(10 items\)/);
  assert.match(stdout, /'state_dict': collections\.OrderedDict \(4 items\)/);
  assert.match(stdout, /'encoder\.weight': Tensor float32 \[3, 4\] storage 0 \(48 bytes, cpu\)/);
  assert.match(stdout, /'hyper_parameters': pytorch_lightning\.utilities\.parsing\.AttributeDict/);
});

Deno.test("show --json prints one typed document", async () => {
  const { code, stdout } = await runCli(["show", fixture("tensors.ckpt"), "--json"]);
  assert.equal(code, 0);
  const doc = JSON.parse(stdout);
  assert.equal(doc.root.type, "dict");
  const tensors = doc.root.items.filter(([, v]: [unknown, { type: string }]) =>
    v.type === "tensor" || v.type === "parameter"
  );
  assert.ok(tensors.length > 10);
  assert.ok(tensors.every(([, v]: [unknown, { dtype: string }]) => typeof v.dtype === "string"));
});

Deno.test("dis lists the pickle of a checkpoint", async () => {
  const { code, stdout } = await runCli(["dis", fixture("state_dict.ckpt")]);
  assert.equal(code, 0);
  const lines = stdout.trimEnd().split("\n");
  assert.equal(lines[0], "    0: \\x80 PROTO      2");
  assert.match(lines[1], /GLOBAL +'collections OrderedDict'/);
  assert.equal(lines.at(-1), "highest protocol among opcodes = 2");
});

Deno.test("rewrite writes a checkpoint that decodes to the same tree", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/copy.ckpt`;
    const { code, stdout } = await runCli(["rewrite", fixture("training.ckpt"), "--out", out]);
    assert.equal(code, 0);
    assert.match(stdout, /wrote .*copy\.ckpt: \d+ bytes, 20 storages/);
    const a = await Checkpoint.open(fixture("training.ckpt"));
    const b = await Checkpoint.open(out);
    assert.deepEqual(b.encode().pickle, a.encode().pickle);
    assert.deepEqual([...(b.root as PyObject).keys()], [...(a.root as PyObject).keys()]);
    a.close();
    b.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rewrite in place replaces the file atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/x.ckpt`;
    await Deno.copyFile(fixture("state_dict.ckpt"), path);
    const { code } = await runCli(["rewrite", path, "--out", path]);
    assert.equal(code, 0);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x.ckpt"]);
    (await Checkpoint.open(path)).close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const failures: Array<[string, string[], RegExp, number]> = [
  ["legacy format", ["show", fixture("legacy.ckpt")], /legacy torch format \(before 1\.6\)/, 1],
  ["TorchScript archive", ["show", fixture("torchscript.pt")], /TorchScript model/, 1],
  ["missing file", ["show", "/nonexistent/x.ckpt"], /x\.ckpt: Cannot open: no such file/, 1],
  ["not a checkpoint", ["dis", new URL(import.meta.url).pathname], /not a zip archive/, 1],
  ["unknown command", ["frobnicate"], /unknown command 'frobnicate'/, 2],
  ["missing --out", ["rewrite", fixture("values.ckpt")], /rewrite needs --out PATH/, 2],
  ["bad --depth", ["show", fixture("values.ckpt"), "--depth", "x"], /--depth needs/, 2],
  ["negative --depth", ["show", fixture("values.ckpt"), "--depth", "-1"], /--depth/, 2],
  ["unknown option", ["show", fixture("values.ckpt"), "--bogus"], /Unknown option '--bogus'/, 2],
];

for (const [name, args, pattern, exit] of failures) {
  Deno.test(`cli fails clearly: ${name}`, async () => {
    const { code, stdout, stderr } = await runCli(args);
    assert.equal(code, exit);
    assert.equal(stdout, "");
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], /^ckptkit: /);
    assert.match(lines[0], pattern);
  });
}

Deno.test("--debug adds the stack trace", async () => {
  const { code, stderr } = await runCli(["show", fixture("legacy.ckpt"), "--debug"]);
  assert.equal(code, 1);
  assert.ok(stderr.trimEnd().split("\n").length > 1);
  assert.match(stderr, /UnsupportedFormatError/);
});

Deno.test("--help lists every command and each command has help", async () => {
  const { code, stdout } = await runCli(["--help"]);
  assert.equal(code, 0);
  const names = [...stdout.matchAll(/^ {2}(\S+)\s{2,}/gm)].map((m) => m[1]);
  assert.ok(names.includes("show") && names.includes("dis") && names.includes("rewrite"));
  for (const name of names) {
    const help = await runCli([name, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`^Usage: deno run -A cli\\.ts ${name}`));
  }
});
