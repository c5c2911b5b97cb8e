// Config helpers: reading and editing omegaconf DictConfigs, schema objects
// and plain dicts the way their Python classes would.
import assert from "node:assert/strict";
import { Config } from "../lib/migrate/config.ts";
import { MigrationError } from "../lib/migrate/migration_error.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { PySet } from "../lib/pickle/py_set.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { runPython, skipTorch } from "./_python.ts";
import { fixture, root, withTempDir } from "./_migrate_cli.ts";

type Dict = PyDict<string, unknown>;

async function trainingConfig() {
  const ckpt = await Checkpoint.open(fixture("training.ckpt"));
  return { ckpt, config: Config.of(ckpt.root as Dict) };
}

/** The node object stored for `key` in a DictConfig's `_content`. */
function nodeOf(config: Config, key: string): PyObject {
  const state = (config.node as PyObject).state as Dict;
  return (state.get("_content") as Dict).get(key) as PyObject;
}

function stateOf(node: PyObject): Dict {
  return node.state as Dict;
}

Deno.test("reads values, containers, lists, None and interpolations by path", async () => {
  const { ckpt, config } = await trainingConfig();
  try {
    assert.equal(config.kind, "dictconfig");
    assert.deepEqual(config.keys(), ["model", "training", "data"]);
    assert.equal(config.get("model.processor.num_layers"), 4);
    assert.equal(config.get("model.processor.hidden.1"), 32);
    assert.equal(config.get(["model", "processor", "hidden", -1]), 32);
    assert.equal(config.get("model.processor.act"), null);
    assert.equal(Number(config.get("model.processor.dropout")), 0.1);
    assert.equal(config.get("training.warmup_lr"), "${training.lr}");
    assert.equal(config.at("model.processor.hidden").kind, "listconfig");
    assert.deepEqual(config.at("data").toPlain(), { paths: ["a.bin", "b.bin"], shuffle: true });
    assert.equal(config.has("training.swa"), false);
    assert.equal(config.has("training.swa.lr"), false);
    assert.equal(config.get("training.swa", "absent"), "absent");
    assert.throws(() => config.get("training.swa"), /training\.swa is missing/);
    assert.throws(() => config.at("model.name"), /model\.name is a string/);
    assert.throws(() => config.set("nothere.x", 1), MigrationError);
  } finally {
    ckpt.close();
  }
});

Deno.test("a value set over a value node keeps the node; new keys get AnyNode children", async () => {
  const { ckpt, config } = await trainingConfig();
  try {
    const processor = config.at("model.processor");
    const before = nodeOf(processor, "num_layers");
    processor.set("num_layers", 8);
    assert.equal(nodeOf(processor, "num_layers"), before, "same node, new _val");
    assert.equal(stateOf(before).get("_val"), 8);

    const training = config.at("training");
    training.set("weight_averaging", null);
    const node = nodeOf(training, "weight_averaging");
    assert.equal(node.className, "omegaconf.nodes.AnyNode");
    assert.equal(node.how, "newobj");
    const state = stateOf(node);
    assert.deepEqual([...state.keys()], ["_metadata", "_parent", "_val"]);
    assert.equal(state.get("_parent"), training.node);
    assert.equal(state.get("_val"), null);
    const metadata = state.get("_metadata") as PyObject;
    assert.equal(metadata.className, "omegaconf.base.Metadata");
    // Same fields, in the same order, as the nodes omegaconf wrote into the fixture.
    const written = stateOf(nodeOf(training, "epochs")).get("_metadata") as PyObject;
    assert.deepEqual([...(metadata.state as Dict).keys()], [...(written.state as Dict).keys()]);
    assert.equal((metadata.state as Dict).get("key"), "weight_averaging");
    assert.deepEqual(training.keys().slice(-1), ["weight_averaging"]);
  } finally {
    ckpt.close();
  }
});

Deno.test("pop returns the value and removes the key; a popped container moves with its node", async () => {
  const { ckpt, config } = await trainingConfig();
  try {
    const training = config.at("training");
    assert.equal(training.pop("epochs"), 3);
    assert.equal(training.has("epochs"), false);
    assert.equal(training.pop("swa", null), null);
    assert.throws(() => training.pop("swa"), /training|swa is missing/);
    const data = config.pop("data") as Config;
    config.set("inputs", data);
    const moved = nodeOf(config, "inputs");
    assert.equal(moved, data.node);
    assert.equal(stateOf(moved).get("_parent"), config.node);
    assert.equal(
      ((stateOf(moved).get("_metadata") as PyObject).state as Dict).get("key"),
      "inputs",
    );
    assert.equal(config.delete("inputs"), true);
    assert.equal(config.delete("inputs"), false);
  } finally {
    ckpt.close();
  }
});

Deno.test("dicts and arrays become DictConfig and ListConfig nodes with parents and keys", async () => {
  const { ckpt, config } = await trainingConfig();
  try {
    const training = config.at("training");
    training.set("ema", { decay: 0.99, every: [1, 2] });
    const ema = training.at("ema");
    assert.equal(ema.kind, "dictconfig");
    assert.deepEqual(ema.toPlain(), { decay: 0.99, every: [1, 2] });
    const every = ema.at("every");
    assert.equal(every.kind, "listconfig");
    const items = stateOf(every.node as PyObject).get("_content") as PyObject[];
    assert.deepEqual(
      items.map((n) => ((stateOf(n).get("_metadata") as PyObject).state as Dict).get("key")),
      [0, 1],
    );
    assert.ok(items.every((n) => stateOf(n).get("_parent") === every.node));
    const second = items[1];
    every.pop(0);
    assert.deepEqual(every.toPlain(), [2]);
    assert.equal(((stateOf(second).get("_metadata") as PyObject).state as Dict).get("key"), 0);
  } finally {
    ckpt.close();
  }
});

Deno.test({
  name: "edits decode in omegaconf exactly as omegaconf's own edits of the same config",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      const { ckpt, config } = await trainingConfig();
      config.set("model.processor.num_layers", 8);
      const training = config.at("training");
      training.pop("epochs");
      training.set("weight_averaging", null);
      training.set("ema", { decay: 0.99, every: [1, 2] });
      training.set("betas", null);
      training.set("learning_rate", training.pop("lr"));
      config.set("data.shuffle", null);
      config.set("inputs", config.pop("data"));
      await ckpt.save(`${dir}/edited.ckpt`);
      ckpt.close();
      const out = await runPython([
        "-c",
        `import sys, json, torch
sys.path.insert(0, sys.argv[1])
from omegaconf import DictConfig, ListConfig, OmegaConf

def dump(node, parent):
    d = node.__dict__
    meta = {k: repr(v) for k, v in vars(d["_metadata"]).items()}
    out = {"type": type(node).__name__, "meta": meta, "parent": d["_parent"] is parent}
    if isinstance(node, DictConfig):
        c = d["_content"]
        out["content"] = {str(k): dump(v, node) for k, v in c.items()} if isinstance(c, dict) else repr(c)
    elif isinstance(node, ListConfig):
        out["content"] = [dump(v, node) for v in d["_content"]]
    else:
        out["val"] = repr(d["_val"])
    return out

ours = torch.load(sys.argv[2])["hyper_parameters"]["config"]
cfg = torch.load(sys.argv[3])["hyper_parameters"]["config"]
cfg.model.processor.num_layers = 8
cfg.training.pop("epochs")
cfg.training.weight_averaging = None
cfg.training.ema = {"decay": 0.99, "every": [1, 2]}
cfg.training.betas = None
cfg.training.learning_rate = cfg.training.pop("lr")
cfg.data.shuffle = None
cfg.inputs = cfg.pop("data")
a, b = json.dumps(dump(ours, None), indent=1), json.dumps(dump(cfg, None), indent=1)
if a != b:
    import difflib
    print("\\n".join(difflib.unified_diff(b.splitlines(), a.splitlines(), "omegaconf", "ckptkit", lineterm="")))
    sys.exit(1)
assert OmegaConf.to_container(ours) == OmegaConf.to_container(cfg)
print("ok", OmegaConf.to_yaml(ours).count("\\n"))`,
        `${root}tests/fixtures/stubs`,
        `${dir}/edited.ckpt`,
        fixture("training.ckpt"),
      ]);
      assert.match(out, /^ok \d+/);
    });
  },
});

// A pydantic v2 model as it pickles: NEWOBJ + BUILD of {__dict__, ...}.
function pydanticModel(fields: Record<string, unknown>): PyObject {
  const state = new PyDict<string, unknown>([
    ["__dict__", PyDict.fromObject(fields)],
    ["__pydantic_extra__", null],
    ["__pydantic_fields_set__", new PySet(Object.keys(fields))],
    ["__pydantic_private__", null],
  ]);
  return new PyObject(
    PyGlobal.of("anemoi.training.schemas.training", "TrainingSchema"),
    Tuple.of(),
    "newobj",
    state,
  );
}

Deno.test("schema objects read and write their fields (pydantic's __dict__ or the state itself)", () => {
  const swa = pydanticModel({ enabled: false, lr: 0.0001 });
  const training = pydanticModel({ max_epochs: 2, swa });
  const plainObject = new PyObject(
    PyGlobal.of("pkg", "Obj"),
    Tuple.of(),
    "newobj",
    PyDict.fromObject({ a: 1 }),
  );
  const config = new Config(
    new PyDict<string, unknown>([["training", training], ["other", plainObject]]),
  );
  assert.equal(config.kind, "dict");
  assert.equal(config.at("training").kind, "schema");
  assert.equal(config.get("training.swa.enabled"), false);
  assert.equal((config.get("training.swa") as Config).node, swa);
  const t = config.at("training");
  assert.equal((t.pop("swa", null) as Config).node, swa);
  t.set("weight_averaging", null);
  t.set("extra", { a: [1] });
  const fields = (training.state as Dict).get("__dict__") as Dict;
  assert.deepEqual([...fields.keys()], ["max_epochs", "weight_averaging", "extra"]);
  assert.ok(fields.get("extra") instanceof PyDict);
  const fieldsSet = (training.state as Dict).get("__pydantic_fields_set__") as PySet;
  assert.deepEqual([...fieldsSet.values()].sort(), ["extra", "max_epochs", "weight_averaging"]);
  config.set("other.b", 2);
  assert.deepEqual([...(plainObject.state as Dict).keys()], ["a", "b"]);
  assert.equal(config.get("other.b"), 2);
});
