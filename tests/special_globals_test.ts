// Globals that pickle in special ways: a nested class (dotted name), which
// protocol 4 names directly and protocol 2 only through getattr, and enum
// members, which Python 3.11 pickles as getattr(EnumClass, "NAME"). What
// ckptkit writes must load in torch, and the harmless getattr forms must
// not make migrate refuse a checkpoint.
import assert from "node:assert/strict";
import { pickle } from "../lib/pickle/pickler.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";
import { cli, fixture, root, scripts, withTempDir } from "./_migrate_cli.ts";
import { runPython, skipTorch } from "./_python.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("a dotted global is written as CPython's protocol 2 pickler writes it: getattr(parent, last)", () => {
  const inner = PyGlobal.of("mymod", "Outer.Inner");
  const deep = PyGlobal.of("mymod", "Outer.Inner.Deep");
  const bytes = pickle([inner, deep, inner, PyGlobal.of("builtins", "getattr")]);
  // pickle.dumps([Outer.Inner, Outer.Inner.Deep, Outer.Inner, getattr], protocol=2), CPython 3.11.
  assert.equal(
    hex(bytes),
    "80025d710028635f5f6275696c74696e5f5f0a676574617474720a7101636d796d6f640a4f757465720a7102" +
      "5805000000496e6e6572710386710452710568016805580400000044656570710686710752710868056801652e",
  );
  const back = unpickle(bytes) as unknown[];
  assert.equal(back.length, 4);
});

const SAVE = `
import sys, torch
sys.path.insert(0, sys.argv[1])
from ckptkit_shapes import Outer, Color
ckpt = {
    "pytorch-lightning_version": "2.5.0",
    "state_dict": {"w": torch.arange(4.0)},
    "hyper_parameters": {"metadata": {}, "color": Color.GREEN, "inner": Outer.Inner(7)},
    "loops": {"kind": Outer.Inner, "colors": [Color.RED, Color.GREEN]},
    "migrations": [],
}
torch.save(ckpt, sys.argv[2], pickle_protocol=int(sys.argv[3]))
`;

const LOAD = `
import sys, torch
sys.path.insert(0, sys.argv[1])
from ckptkit_shapes import Outer, Color
ckpt = torch.load(sys.argv[2])
hp = ckpt["hyper_parameters"]
assert hp["color"] is Color.GREEN, hp
assert hp["inner"] == Outer.Inner(7), hp
assert ckpt["loops"] == {"kind": Outer.Inner, "colors": [Color.RED, Color.GREEN]}, ckpt["loops"]
assert torch.equal(ckpt["state_dict"]["w"], torch.arange(4.0))
print("ok", len(ckpt["migrations"]))
`;

for (const protocol of [2, 4]) {
  Deno.test({
    name:
      `torch loads what rewrite and migrate write of a protocol ${protocol} checkpoint with nested classes and enums`,
    ignore: skipTorch,
    async fn() {
      await withTempDir(async (dir) => {
        const stubs = `${root}tests/fixtures/stubs`;
        const input = `${dir}/in.ckpt`;
        await runPython(["-c", SAVE, stubs, input, String(protocol)]);
        const rewritten = await cli(["rewrite", input, "--out", `${dir}/rewritten.ckpt`]);
        assert.equal(rewritten.code, 0, rewritten.stderr);
        assert.match(await runPython(["-c", LOAD, stubs, `${dir}/rewritten.ckpt`]), /^ok 0/m);
        // The enum members' and nested classes' getattr forms are not dangerous.
        const migrated = await cli(["migrate", input, "--migrations", scripts("first_group")]);
        assert.equal(migrated.code, 0, migrated.stderr);
        assert.match(await runPython(["-c", LOAD, stubs, input]), /^ok 4/m);
        const verify = await cli(["verify", input]);
        assert.equal(verify.code, 0, verify.stderr);
      });
    },
  });
}

Deno.test("getattr on anything but a class and a plain attribute name stays dangerous", async () => {
  await withTempDir(async (dir) => {
    // getattr(builtins.__import__("os"), "system")-like shapes: the attribute
    // reaches code, or the object is not a plain class reference.
    const cases = [
      [PyGlobal.of("os", "path"), "join"],
      [PyGlobal.of("ckptkit_shapes", "Color"), "__init__"],
      [PyGlobal.of("ckptkit_shapes", "Color"), "_missing_"],
    ] as const;
    for (const [object, attribute] of cases) {
      const path = `${dir}/case.ckpt`;
      const { Checkpoint } = await import("../lib/torch/checkpoint.ts");
      const { PyObject } = await import("../lib/pickle/py_object.ts");
      const { Tuple } = await import("../lib/pickle/tuple.ts");
      const ckpt = await Checkpoint.open(fixture("migration_empty.ckpt"));
      const root = ckpt.root as InstanceType<typeof PyObject>;
      root.set("x", new PyObject(PyGlobal.of("builtins", "getattr"), Tuple.of(object, attribute)));
      await ckpt.save(path);
      ckpt.close();
      const scan = await cli(["scan", path]);
      assert.equal(scan.code, 1, `${object.path}.${attribute}: ${scan.stdout}`);
      const migrate = await cli(["migrate", path, "--migrations", scripts("first_group")]);
      assert.equal(migrate.code, 1);
      assert.match(migrate.stderr, /dangerous globals/);
    }
  });
});

Deno.test({
  name:
    "__newobj_ex__ as protocol 2 writes it, partial(cls.__new__, cls, **kwargs)(), is not dangerous",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      const stubs = `${root}tests/fixtures/stubs`;
      const input = `${dir}/keyed.ckpt`;
      const save = `
import sys, torch
sys.path.insert(0, sys.argv[1])
from ckptkit_shapes import Keyed
torch.save({"keyed": Keyed(size=3), "migrations": []}, sys.argv[2], pickle_protocol=2)
`;
      await runPython(["-c", save, stubs, input]);
      const scan = await cli(["scan", input]);
      assert.equal(scan.code, 3, scan.stderr);
      assert.match(scan.stderr, /not on the allowlist: ckptkit_shapes\.Keyed/);
      const allowed = await cli(["scan", input, "--allow-global", "ckptkit_shapes.Keyed"]);
      assert.equal(allowed.code, 0, allowed.stderr);
      const rewritten = await cli([
        "rewrite",
        input,
        "--out",
        `${dir}/out.ckpt`,
        "--strict-globals",
        "--allow-global",
        "ckptkit_shapes.Keyed",
      ]);
      assert.equal(rewritten.code, 0, rewritten.stderr);
      const load = `
import sys, torch
sys.path.insert(0, sys.argv[1])
from ckptkit_shapes import Keyed
assert torch.load(sys.argv[2])["keyed"] == Keyed(size=3)
print("ok")
`;
      assert.match(await runPython(["-c", load, stubs, `${dir}/out.ckpt`]), /^ok/m);
    });
  },
});

Deno.test("functools.partial of anything but a class's __new__ stays dangerous", async () => {
  const { scanPickle } = await import("../lib/scan/scan_pickle.ts");
  const cases = [
    // partial(os.system, 'id')()
    "\x80\x02cfunctools\npartial\ncos\nsystem\n\x85R(cos\nsystem\nX\x02\x00\x00\x00id\x85}Ntb)R.",
    // partial(getattr(Keyed, '__new__')) set to call another class's __new__.
    "\x80\x02cfunctools\npartial\nc__builtin__\ngetattr\ncm\nKeyed\nX\x07\x00\x00\x00__new__\x86R\x85R" +
    "(c__builtin__\ngetattr\ncm\nKeyed\nX\x07\x00\x00\x00__new__\x86Rcsubprocess\nPopen\n\x85}Ntb)R.",
    // getattr(Keyed, '__new__') called directly.
    "\x80\x02c__builtin__\ngetattr\ncm\nKeyed\nX\x07\x00\x00\x00__new__\x86R)R.",
  ];
  for (const pickled of cases) {
    const bytes = Uint8Array.from(pickled, (c) => c.charCodeAt(0));
    assert.equal(scanPickle(bytes).verdict, "dangerous", JSON.stringify(pickled));
  }
});
