// consumePrefix: a wrapper's prefix stripped from state_dict keys and from
// its _metadata, so the result is the wrapped module's own state_dict.
import assert from "node:assert/strict";
import { DuplicateKeyError, PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { consumePrefix } from "../lib/torch/state_dict_prefix.ts";
import { runPython, skipTorch } from "./_python.ts";

function ordered<V>(entries: [string, V][]): PyObject<string, V> {
  const d = new PyObject<string, V>(PyGlobal.of("collections", "OrderedDict"));
  d.update(entries);
  return d;
}

const version = (v: number) => new PyDict([["version", v]]);

/** A state_dict as torch writes one: items, and `_metadata` in the BUILD state. */
function stateDict(keys: string[], metadata: [string, number][]) {
  const sd = ordered(keys.map((key, i) => [key, i] as [string, unknown]));
  const meta = ordered(metadata.map(([key, v]) => [key, version(v)] as [string, unknown]));
  sd.state = new PyDict([["_metadata", meta]]);
  return { sd, meta: () => (sd.state as PyDict).get("_metadata") as PyObject };
}

const versions = (meta: PyObject) =>
  [...meta.entries()].map(([key, v]) => [key, (v as PyDict).get("version")]);

Deno.test("consumePrefix strips a DDP prefix from keys and metadata, keeping their order", () => {
  const { sd, meta } = stateDict(
    ["module.0.weight", "module.0.bias", "module.1.weight", "module.1.running_mean"],
    [["", 9], ["module", 1], ["module.0", 1], ["module.1", 2]],
  );
  const renamed = consumePrefix(sd, "module.");
  assert.deepEqual(renamed, [
    ["module.0.weight", "0.weight"],
    ["module.0.bias", "0.bias"],
    ["module.1.weight", "1.weight"],
    ["module.1.running_mean", "1.running_mean"],
  ]);
  assert.deepEqual([...sd.entries()], [
    ["0.weight", 0],
    ["0.bias", 1],
    ["1.weight", 2],
    ["1.running_mean", 3],
  ]);
  // The wrapped module's root entry replaces the wrapper's, where it stood.
  assert.deepEqual(versions(meta()), [["", 1], ["0", 1], ["1", 2]]);
});

Deno.test("consumePrefix keeps unprefixed keys in place and takes a multi-part prefix", () => {
  const { sd, meta } = stateDict(
    ["extra", "model.module.w", "model.other", "model.module.b", "aaa"],
    [["", 1], ["model", 3], ["model.module", 4], ["model.module.sub", 5], ["modelx", 6]],
  );
  consumePrefix(sd, "model.module.");
  assert.deepEqual([...sd.keys()], ["extra", "w", "model.other", "b", "aaa"]);
  assert.deepEqual(versions(meta()), [["", 4], ["model", 3], ["sub", 5], ["modelx", 6]]);
});

Deno.test("consumePrefix uses raw string prefixes, as torch does", () => {
  const sd = new PyDict<string, number>([["module.w", 1], ["modulex", 2], ["v", 3]]);
  assert.deepEqual(consumePrefix(sd, "mod"), [["module.w", "ule.w"], ["modulex", "ulex"]]);
  assert.deepEqual([...sd.keys()], ["ule.w", "ulex", "v"]);
  // An empty prefix renames nothing.
  assert.deepEqual(consumePrefix(sd, ""), []);
  assert.deepEqual([...sd.keys()], ["ule.w", "ulex", "v"]);
  // A dict without metadata, or with non-string keys, is fine.
  const mixed = new PyDict<unknown, number>([[1, 1], ["p.a", 2]]);
  consumePrefix(mixed, "p.");
  assert.deepEqual([...mixed.keys()], [1, "a"]);
});

Deno.test("consumePrefix refuses a rename onto an existing key and changes nothing", () => {
  const { sd, meta } = stateDict(["w", "module.w", "module.b"], [["", 1], ["module", 1]]);
  assert.throws(
    () => consumePrefix(sd, "module."),
    (error) => error instanceof DuplicateKeyError && error.key === "w",
  );
  assert.deepEqual([...sd.keys()], ["w", "module.w", "module.b"]);
  assert.deepEqual(versions(meta()), [["", 1], ["module", 1]]);
  const clash = stateDict(["module.a"], [["", 1], ["0", 1], ["module.0", 2]]);
  assert.throws(() => consumePrefix(clash.sd, "module."), DuplicateKeyError);
  assert.deepEqual([...clash.sd.keys()], ["module.a"]);
  assert.deepEqual(versions(clash.meta()), [["", 1], ["0", 1], ["module.0", 2]]);
});

Deno.test({
  name: "consumePrefix of a wrapper's state_dict gives the wrapped module's state_dict (torch)",
  ignore: skipTorch,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // A DataParallel-style wrapper (`module` attribute) and a two-level one.
      await runPython([
        "-c",
        `import sys, torch
from torch import nn
torch.manual_seed(0)
inner = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Sequential(nn.Linear(4, 2)))
class Wrap(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.module = m
class Outer(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.model = Wrap(m)
        self.head = nn.Linear(2, 2)
torch.save(Wrap(inner).state_dict(), sys.argv[1] + "/wrapped.ckpt")
torch.save(Outer(inner).state_dict(), sys.argv[1] + "/outer.ckpt")
torch.save(inner.state_dict(), sys.argv[1] + "/inner.ckpt")`,
        dir,
      ]);
      for (const [name, prefix] of [["wrapped", "module."], ["outer", "model.module."]]) {
        const ckpt = await Checkpoint.open(`${dir}/${name}.ckpt`);
        consumePrefix(ckpt.root as PyDict, prefix);
        await ckpt.save(`${dir}/${name}.stripped.ckpt`);
        ckpt.close();
      }
      const out = await runPython([
        "-c",
        `import sys, torch
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present
d = sys.argv[1]
inner = torch.load(d + "/inner.ckpt")
ours = torch.load(d + "/wrapped.stripped.ckpt")
# Exactly the wrapped module's own state_dict: keys in order, tensors, metadata.
assert list(ours) == list(inner), (list(ours), list(inner))
assert all(torch.equal(ours[k], inner[k]) for k in inner)
assert ours._metadata == inner._metadata, (ours._metadata, inner._metadata)
# torch's own function gives the same items (1.13 sorts them, and leaves _metadata).
ref = torch.load(d + "/wrapped.ckpt")
consume_prefix_in_state_dict_if_present(ref, "module.")
assert sorted(ref) == sorted(ours) and all(torch.equal(ref[k], ours[k]) for k in ref)
# The stripped file loads into the bare module, strictly.
model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Sequential(nn.Linear(4, 2)))
model.load_state_dict(ours, strict=True)
outer = torch.load(d + "/outer.stripped.ckpt")
assert [k for k in outer if not k.startswith("head.")] == list(inner)
assert {k: v for k, v in outer._metadata.items() if k not in ("model", "head")} == inner._metadata
print("ok")`,
        dir,
      ]);
      assert.match(out, /ok/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
