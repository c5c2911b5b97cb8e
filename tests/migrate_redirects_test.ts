// Setup redirects end to end: `migrate` rewrites the globals of
// migration_redirects.ckpt (see tests/migrations/redirects/), and real torch
// decodes the output with classes that exist only at the new paths.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import type { PyObject } from "../lib/pickle/py_object.ts";
import { runPython, skipTorch } from "./_python.ts";
import { cli, fixture, root, scripts } from "./_migrate_cli.ts";

type Decoded = { class: string; args?: unknown[]; state: Record<string, unknown> };

const dir = await Deno.makeTempDir({ prefix: "ckptkit-redirects-" });
const output = `${dir}/redirected.ckpt`;
let migration: Promise<{ code: number; stderr: string }> | undefined;
let decoded: Promise<Record<string, Decoded>> | undefined;

/** Runs `migrate` once for all the tests below. */
function migrated() {
  migration ??= cli([
    "migrate",
    fixture("migration_redirects.ckpt"),
    "--migrations",
    scripts("redirects"),
    "--out",
    output,
    "--log-level",
    "debug",
  ]);
  return migration;
}

// New-path stand-ins; the old modules do not exist, so any old reference fails to load.
const DECODE = `import sys, json, types, torch
sys.path.insert(0, sys.argv[1])

def module(path, **members):
    mod = types.ModuleType(path)
    for name, cls in members.items():
        cls.__module__, cls.__qualname__, cls.__name__ = path, name, name
        setattr(mod, name, cls)
    sys.modules[path] = mod

class Plain: pass
class Widget:
    def __init__(self, first, second):
        self.first, self.second = first, second
def helper(): pass

module("ckptkit_new")
module("ckptkit_new.things", RenamedThing=type("RenamedThing", (Plain,), {}))
module("ckptkit_new.mod", Widget=Widget, helper=helper)
module("ckptkit_new.special", Special=type("Special", (Plain,), {}))
module("ckptkit_new.chain", Link=type("Link", (Plain,), {}))
module("ckptkit_new.chainmod", Piece=type("Piece", (Plain,), {}))
module("ckptkit_old")
module("ckptkit_old.partial", Kept=type("Kept", (Plain,), {}))

def describe(o):
    if callable(o) and not isinstance(o, type) and not hasattr(o, "__dict__") or isinstance(o, types.FunctionType):
        return {"class": f"{o.__module__}.{o.__qualname__}", "state": {}}
    state = {k: v for k, v in vars(o).items() if k not in ("args", "kwargs")}
    out = {"class": f"{type(o).__module__}.{type(o).__qualname__}", "state": state}
    if hasattr(o, "args"):
        out["args"] = list(o.args)
    return out

ckpt = torch.load(sys.argv[2])
report = {k: describe(v) for k, v in ckpt.items() if k not in ("wildcard", "weights", "migrations", "hyper_parameters", "pytorch-lightning_version", "moved")}
report["wildcard.0"], report["wildcard.1"] = (describe(o) for o in ckpt["wildcard"])
assert ckpt["same_widget"] is ckpt["moved_module"]
assert ckpt["weights"].tolist() == [0.0, 1.0, 2.0, 3.0]
print(json.dumps(report))`;

function torchView(): Promise<Record<string, Decoded>> {
  decoded ??= migrated().then(async ({ code }) => {
    assert.equal(code, 0);
    const out = await runPython(["-c", DECODE, `${root}tests/fixtures/stubs`, output]);
    return JSON.parse(out);
  });
  return decoded;
}

const MISSING = "anemoi.models.migrations.migrator.MissingAttribute";

Deno.test({
  name: "redirects: migrate reports every redirected global at debug level",
  async fn() {
    const { code, stderr } = await migrated();
    assert.equal(code, 0, stderr);
    for (
      const line of [
        "redirect ckptkit_old.attrs.Thing -> ckptkit_new.things.RenamedThing",
        "redirect ckptkit_old.mod.Widget -> ckptkit_new.mod.Widget",
        "redirect ckptkit_old.chain.Link -> ckptkit_new.chain.Link",
        `redirect ckptkit_old.gone.Thing -> ${MISSING}`,
      ]
    ) {
      assert.ok(stderr.includes(`ckptkit: debug: ${line}\n`), `${line} in\n${stderr}`);
    }
    assert.ok(!stderr.includes("ckptkit_old.partial.Kept"), "unchanged globals are not reported");
    const ckpt = await Checkpoint.open(output);
    const text = new TextDecoder("latin1").decode(ckpt.pickleBytes);
    ckpt.close();
    for (const old of ["ckptkit_old.attrs", "ckptkit_old.mod", "ckptkit_mid", "ckptkit_old.gone"]) {
      assert.ok(!text.includes(`${old}\n`), `${old} is still referenced`);
    }
    assert.ok(text.includes("ckptkit_old.partial\nKept\n"));
  },
});

Deno.test({
  name: "redirects: a moved attribute loads from its new module under its new name",
  ignore: skipTorch,
  async fn() {
    const view = await torchView();
    assert.deepEqual(view.moved_attribute, {
      class: "ckptkit_new.things.RenamedThing",
      state: { size: 3 },
    });
  },
});

Deno.test({
  name: "redirects: a moved module moves its classes and functions, reduce args kept",
  ignore: skipTorch,
  async fn() {
    const view = await torchView();
    assert.deepEqual(view.moved_module, {
      class: "ckptkit_new.mod.Widget",
      state: { first: 1, second: "two", extra: [3] },
    });
    assert.equal(view.moved_module_function.class, "ckptkit_new.mod.helper");
  },
});

Deno.test({
  name: "redirects: an exact attribute move wins over its module's move",
  ignore: skipTorch,
  async fn() {
    const view = await torchView();
    assert.deepEqual(view.precedence, {
      class: "ckptkit_new.special.Special",
      state: { kind: "special" },
    });
  },
});

Deno.test({
  name: "redirects: moves across two migrations compose (A to B, then B to C)",
  ignore: skipTorch,
  async fn() {
    const view = await torchView();
    assert.equal(view.chain.class, "ckptkit_new.chain.Link");
    assert.equal(view.chain_module.class, "ckptkit_new.chainmod.Piece");
  },
});

Deno.test({
  name: "redirects: module.* turns every class of the module into MissingAttribute, state kept",
  ignore: skipTorch,
  async fn() {
    const view = await torchView();
    assert.deepEqual(view["wildcard.0"], {
      class: MISSING,
      state: { first: 5, second: 6, note: "foo" },
    });
    assert.deepEqual(view["wildcard.1"], { class: MISSING, state: { note: "bar" } });
    // NEWOBJ arguments are not passed to __init__ in Python: check them in the pickle.
    await migrated();
    const ckpt = await Checkpoint.open(output);
    const [foo] = (ckpt.root as PyDict).get("wildcard") as PyObject[];
    ckpt.close();
    assert.equal(foo.className, MISSING);
    assert.equal(foo.how, "newobj");
    assert.deepEqual([...foo.args], [5, 6]);
  },
});

Deno.test({
  name: "redirects: a deleted module or attribute becomes MissingAttribute with args and state",
  ignore: skipTorch,
  async fn() {
    const view = await torchView();
    assert.deepEqual(view.deleted_module, {
      class: MISSING,
      args: ["a", "b"],
      state: { extra: null },
    });
    assert.deepEqual(view.deleted_attribute, { class: MISSING, state: { note: "removed" } });
    assert.deepEqual(view.kept, { class: "ckptkit_old.partial.Kept", state: { note: "kept" } });
  },
});

Deno.test({
  name: "redirects: clean up",
  async fn() {
    await migration;
    await decoded?.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  },
});
