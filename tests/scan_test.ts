import assert from "node:assert/strict";
import { pickle } from "../lib/pickle/pickler.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { dangerousGlobals, rateGlobal, scanPickle } from "../lib/pickle/scan.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { runCli } from "./_cli.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const bytes = (...parts: Array<number | string>) =>
  Uint8Array.from(
    parts.flatMap((p) => typeof p === "number" ? [p] : [...p].map((c) => c.charCodeAt(0))),
  );

Deno.test("rateGlobal() follows the issue's lists", () => {
  const cases: Array<[string, string, string]> = [
    ["os", "system", "dangerous"],
    ["os.path", "join", "dangerous"],
    ["posix", "system", "dangerous"],
    ["nt", "system", "dangerous"],
    ["subprocess", "Popen", "dangerous"],
    ["builtins", "eval", "dangerous"],
    ["builtins", "exec", "dangerous"],
    ["builtins", "getattr", "dangerous"],
    ["builtins", "__import__", "dangerous"],
    ["builtins", "open", "dangerous"],
    ["functools", "partial", "dangerous"],
    ["operator", "attrgetter", "dangerous"],
    ["operator", "methodcaller", "dangerous"],
    ["torch", "load", "dangerous"],
    ["torch.storage", "_load_from_bytes", "dangerous"],
    ["numpy.f2py", "compile", "dangerous"],
    ["pickle", "loads", "dangerous"],
    ["_pickle", "loads", "dangerous"],
    ["importlib", "import_module", "dangerous"],
    ["ctypes", "CDLL", "dangerous"],
    ["webbrowser", "open", "dangerous"],
    ["runpy", "run_path", "dangerous"],
    ["torch._utils", "_rebuild_tensor_v2.__globals__", "dangerous"],
    ["collections", "__builtins__", "dangerous"],
    ["torch._utils", "_rebuild_tensor_v2", "safe"],
    ["torch._utils", "_rebuild_parameter", "safe"],
    ["torch", "FloatStorage", "safe"],
    ["torch.storage", "UntypedStorage", "safe"],
    ["torch", "bfloat16", "safe"],
    ["torch", "float8_e4m3fn", "safe"],
    ["collections", "OrderedDict", "safe"],
    ["_codecs", "encode", "safe"],
    ["numpy.core.multiarray", "_reconstruct", "safe"],
    ["numpy", "dtype", "safe"],
    ["builtins", "set", "safe"],
    ["builtins", "complex", "safe"],
    ["copyreg", "_reconstructor", "safe"],
    ["copyreg", "__newobj__", "safe"],
    ["copyreg", "add_extension", "dangerous"],
    ["omegaconf.dictconfig", "DictConfig", "unknown"],
    ["anemoi.models.interface", "AnemoiModelInterface", "unknown"],
    ["torch", "nn", "unknown"],
    ["torch", "system", "unknown"],
    ["builtins", "type", "unknown"],
  ];
  for (const [module, name, rating] of cases) {
    assert.equal(rateGlobal(module, name).rating, rating, `${module}.${name}`);
  }
  assert.equal(rateGlobal("safe", "x").reason, undefined);
  assert.match(rateGlobal("os", "system").reason!, /commands/);
});

Deno.test("scanPickle() finds no dangerous global in the torch-written fixtures", async () => {
  for (const name of ["state_dict.ckpt", "tensors.ckpt", "training.ckpt", "values.ckpt"]) {
    const ckpt = await Checkpoint.open(fixture(name));
    const result = scanPickle(ckpt.pickleBytes);
    ckpt.close();
    assert.equal(result.error, undefined, name);
    assert.deepEqual(result.nested, [], name);
    assert.deepEqual(result.globals.filter((g) => g.rating === "dangerous"), [], name);
    const paths = result.globals.map((g) => g.path);
    assert.equal(new Set(paths).size, paths.length, `${name}: each global listed once`);
    if (name !== "values.ckpt") assert.ok(paths.includes("torch._utils._rebuild_tensor_v2"));
  }
  const training = await Checkpoint.open(fixture("training.ckpt"));
  const unknown = scanPickle(training.pickleBytes).globals.filter((g) => g.rating === "unknown");
  training.close();
  assert.ok(unknown.some((g) => g.path === "omegaconf.dictconfig.DictConfig"));
});

Deno.test("scanPickle() resolves STACK_GLOBAL through memoized strings", () => {
  // "os" and "system" are memoized, popped, then fetched back with BINGET.
  const data = bytes(
    0x80,
    4,
    0x8c,
    2,
    "os",
    0x94,
    0x8c,
    6,
    "system",
    0x94,
    0x30,
    0x30,
    0x68,
    0,
    0x68,
    1,
    0x93,
    0x8c,
    2,
    "id",
    0x85,
    0x52,
    0x2e,
  );
  const { globals, error } = scanPickle(data);
  assert.equal(error, undefined);
  assert.deepEqual(globals.map((g) => [g.path, g.rating, g.offsets]), [
    ["os.system", "dangerous", [22]],
  ]);
});

Deno.test("scanPickle() counts a STACK_GLOBAL of computed names as dangerous", () => {
  // builtins.str() called at load time, then used as a module name.
  const data = bytes(
    0x80,
    4,
    "cbuiltins\nstr\n",
    0x8c,
    2,
    "os",
    0x85,
    0x52,
    0x8c,
    6,
    "system",
    0x93,
    0x2e,
  );
  assert.deepEqual(dangerousGlobals(data), ["<computed>"]);
  assert.equal(scanPickle(data).globals[0].rating, "safe");
});

Deno.test("scanPickle() flags and scans nested pickles, also as protocol 2 latin-1 text", () => {
  const inner = bytes("cposix\nsystem\n(S'id'\ntR.");
  // Our encoder writes bytes as _codecs.encode(<latin-1 text>, 'latin1'), as
  // CPython's protocol 2 does.
  const outer = pickle(new PyObject(PyGlobal.of("pickle", "loads"), Tuple.of(inner)));
  const result = scanPickle(outer);
  assert.equal(result.nested.length, 1);
  const [nested] = result.nested;
  assert.equal(nested.loader, "pickle.loads");
  assert.equal(nested.kind, "pickle");
  assert.equal(nested.size, inner.length);
  assert.deepEqual(nested.scan?.globals.map((g) => g.path), ["posix.system"]);
  assert.deepEqual(dangerousGlobals(outer), ["pickle.loads", "posix.system"]);

  const zipPayload = bytes(
    "ctorch.storage\n_load_from_bytes\n",
    0x43,
    6,
    "PK",
    3,
    4,
    0,
    0,
    0x85,
    0x52,
    0x2e,
  );
  const [zip] = scanPickle(zipPayload).nested;
  assert.deepEqual([zip.loader, zip.kind, zip.size, zip.scan], [
    "torch.storage._load_from_bytes",
    "zip",
    6,
    undefined,
  ]);
});

Deno.test("scanPickle() keeps the globals found before a damaged opcode", () => {
  const data = bytes("cos\nsystem\n", 0xff);
  const result = scanPickle(data);
  assert.deepEqual(result.globals.map((g) => g.path), ["os.system"]);
  assert.equal(result.error, "Cannot scan pickle: unknown opcode 0xff at offset 11");
});

Deno.test("scan CLI: grouped listing, --json, exit 1 on a dangerous global", async () => {
  const ok = await runCli(["scan", fixture("training.ckpt")]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, "");
  const lines = ok.stdout.trimEnd().split("\n");
  assert.match(lines[0], /training\/data\.pkl references \d+ globals: 0 dangerous, \d+ unknown/);
  assert.ok(lines.indexOf("safe:") > lines.findIndex((l) => l.startsWith("unknown")));
  assert.ok(lines.some((l) => /^ {2}collections\.OrderedDict \(offset \d+\)$/.test(l)));

  const json = await runCli(["scan", fixture("state_dict.ckpt"), "--json"]);
  assert.equal(json.code, 0);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.record, "state_dict/data.pkl");
  assert.deepEqual(doc.dangerous, []);
  assert.ok(doc.globals.every((g: { rating: string }) => g.rating === "safe"));

  const dir = await Deno.makeTempDir();
  try {
    const ckpt = await Checkpoint.open(fixture("layout_small.ckpt"));
    ckpt.root = new PyObject(PyGlobal.of("os", "system"), Tuple.of("echo hi"));
    const path = `${dir}/evil.ckpt`;
    await ckpt.save(path);
    ckpt.close();
    const evil = await runCli(["scan", path]);
    assert.equal(evil.code, 1);
    assert.equal(
      evil.stderr,
      `ckptkit: ${path}: Cannot trust layout_small/data.pkl: it references os.system\n`,
    );
    assert.match(evil.stdout, /^dangerous \(.*\):\n {2}os\.system: runs commands/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
