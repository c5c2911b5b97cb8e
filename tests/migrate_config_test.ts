// Config helpers: reading and editing omegaconf DictConfigs, schema objects
// and plain dicts the way their Python classes would.
import assert from "node:assert/strict";
import { Config } from "../lib/migrate/config.ts";
import { ConfigError } from "../lib/migrate/config_error.ts";
import { MigrationError } from "../lib/migrate/migration_error.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { pickle } from "../lib/pickle/pickler.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
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

// ---- omegaconf typed nodes, flags and structured configs (structured_config.ckpt:
// OmegaConf.structured(Train) in struct mode, data read-only) ----

async function structuredConfig() {
  const ckpt = await Checkpoint.open(fixture("structured_config.ckpt"));
  return { ckpt, config: Config.of(ckpt.root as Dict) };
}

function flagsOf(node: PyObject): unknown {
  const flags = ((stateOf(node).get("_metadata") as PyObject).state as Dict).get("flags") as Dict;
  return Object.fromEntries(flags);
}

Deno.test("typed nodes keep their node and store omegaconf's conversion", async () => {
  const { ckpt, config } = await structuredConfig();
  try {
    const training = config.at("training");
    const lr = nodeOf(training, "lr");
    training.set("lr", 1);
    assert.equal(nodeOf(training, "lr"), lr, "same FloatNode");
    const stored = stateOf(lr).get("_val");
    assert.ok(stored instanceof PyFloat, "an int becomes a float, pickled as one");
    assert.equal(stored.value, 1);
    training.set("epochs", " 7 ");
    assert.equal(training.get("epochs"), 7);
    training.set("amp", "off");
    assert.equal(training.get("amp"), false);
    training.set("output", "runs//new/./x/");
    const path = training.get("output") as PyObject;
    assert.equal(path.className, "pathlib.PosixPath");
    assert.deepEqual([...path.args], ["runs", "new", "x"]);
    training.set("warmup_lr", "${training.epochs}");
    assert.equal(training.get("warmup_lr"), "${training.epochs}");
    // A Union[int, str] field: the first member type that takes the value as it is.
    assert.equal(training.get("precision"), "16-mixed");
    training.set("precision", 16);
    assert.equal(training.get("precision"), 16);
  } finally {
    ckpt.close();
  }
});

Deno.test("enum members: read in either pickled form, written as Enum(value)", async () => {
  const { ckpt, config } = await structuredConfig();
  try {
    const processor = config.at("model.processor");
    // Debian's Python 3.11 pickles members as getattr(Activation, 'GELU').
    const gelu = processor.get("activation") as PyObject;
    assert.equal(gelu.className, "builtins.getattr");
    assert.deepEqual([(gelu.args[0] as PyGlobal).path, gelu.args[1]], [
      "ckptkit_configs.Activation",
      "GELU",
    ]);
    processor.set("activation", "Activation.RELU");
    const relu = processor.get("activation") as PyObject;
    assert.equal(relu.className, "ckptkit_configs.Activation");
    assert.deepEqual([...relu.args], ["relu"]);
    // Either form reads back as a member: assigned to an EnumNode, kept; to a str node, named.
    processor.set("activation", gelu);
    assert.equal(processor.get("activation"), gelu);
    config.set("model.name", relu);
    assert.equal(config.get("model.name"), "Activation.RELU");
    assert.throws(
      () => processor.set("activation", "relu"),
      (error) =>
        error instanceof ConfigError && error.pythonError === "ValidationError" &&
        error.pythonMessage === "Invalid value 'relu', expected one of [GELU, RELU, SILU]",
    );
  } finally {
    ckpt.close();
  }
});

Deno.test("refused edits throw ConfigError with omegaconf's class and message and change nothing", async () => {
  const { ckpt, config } = await structuredConfig();
  try {
    const before = pickle(config.node);
    const refusals: [() => unknown, string, string][] = [
      [
        () => config.set("training.lr", "oops"),
        "Cannot set training.lr: ValidationError: Value 'oops' of type 'str' could not be converted to Float",
        "ValidationError",
      ],
      [
        () => config.set("training.weight_averaging", null),
        "Cannot set training.weight_averaging: ConfigAttributeError: Key 'weight_averaging' not in 'Training'",
        "ConfigAttributeError",
      ],
      [
        () => config.pop("training.swa", null),
        "Cannot pop training.swa: ConfigTypeError: DictConfig in struct mode does not support pop",
        "ConfigTypeError",
      ],
      [
        () => config.delete("data.frequency"),
        "Cannot delete data.frequency: ReadonlyConfigError: DictConfig in read-only mode does not support deletion",
        "ReadonlyConfigError",
      ],
      [
        () => config.set("model.processor.hidden", [8, "x"]),
        "Cannot set model.processor.hidden: ValidationError: Value 'x' of type 'str' could not be converted to Integer (full_key: model.processor.hidden[1])",
        "ValidationError",
      ],
      [
        () => config.set("model.processor.num_layers", null),
        "Cannot set model.processor.num_layers: ValidationError: field 'model.processor.num_layers' is not Optional",
        "ValidationError",
      ],
    ];
    for (const [edit, message, pythonError] of refusals) {
      assert.throws(edit, (error) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(error instanceof MigrationError);
        assert.equal(error.message, message);
        assert.equal(error.pythonError, pythonError);
        return true;
      });
    }
    assert.deepEqual(pickle(config.node), before);
  } finally {
    ckpt.close();
  }
});

Deno.test("openDict() and readWrite() edit as open_dict and read_write; the stored flags stay", async () => {
  const { ckpt, config } = await structuredConfig();
  try {
    const root = config.node as PyObject;
    const data = config.at("data");
    assert.deepEqual(flagsOf(root), { struct: true });
    assert.deepEqual(flagsOf(data.node as PyObject), { readonly: true });
    const training = config.at("training");
    training.openDict().set("weight_averaging", null);
    const swa = training.openDict().pop("swa") as Config;
    assert.equal(swa.get("enabled"), false);
    data.readWrite().set("shuffle", false);
    // A view's containers are views too: open_dict(root) opens what is below it.
    config.openDict().at("training").set("ema", { decay: 0.99 });
    assert.deepEqual(training.keys().slice(-2), ["weight_averaging", "ema"]);
    assert.equal(data.get("shuffle"), false);
    assert.deepEqual(flagsOf(root), { struct: true });
    assert.deepEqual(flagsOf(data.node as PyObject), { readonly: true });
    assert.throws(() => training.set("other", 1), ConfigError);
    assert.throws(() => data.set("shuffle", true), ConfigError);
  } finally {
    ckpt.close();
  }
});

Deno.test("a Config set elsewhere is copied while still in a config, moved once popped", async () => {
  const { ckpt, config } = await structuredConfig();
  try {
    const model = config.at("model").openDict();
    const processor = model.at("processor");
    model.set("backbone", processor);
    const copy = nodeOf(model, "backbone");
    assert.notEqual(copy, processor.node, "a copy: the original stays where it was");
    assert.equal(nodeOf(model, "processor"), processor.node);
    assert.equal(stateOf(copy).get("_parent"), model.node);
    const hidden = (stateOf(copy).get("_content") as Dict).get("hidden") as PyObject;
    assert.equal(stateOf(hidden).get("_parent"), copy, "parents point into the copy");
    assert.deepEqual(model.at("backbone").toPlain(), processor.toPlain());
    const popped = model.pop("processor") as Config;
    model.set("encoder", popped);
    assert.equal(nodeOf(model, "encoder"), popped.node, "a popped node moves");
    assert.equal(
      ((stateOf(popped.node as PyObject).get("_metadata") as PyObject).state as Dict).get("key"),
      "encoder",
    );
  } finally {
    ckpt.close();
  }
});

Deno.test("ListConfig: the index past the end appends, further is out of range, pops renumber", async () => {
  const { ckpt, config } = await structuredConfig();
  try {
    const hidden = config.at("model.processor.hidden");
    hidden.set(2, "64");
    assert.deepEqual(hidden.toPlain(), [16, 32, 64]);
    assert.throws(
      () => hidden.set(5, 1),
      (error) => error instanceof ConfigError && error.pythonError === "ConfigIndexError",
    );
    assert.equal(hidden.pop(0), 16);
    const keys = (stateOf(hidden.node as PyObject).get("_content") as PyObject[]).map((node) =>
      ((stateOf(node).get("_metadata") as PyObject).state as Dict).get("key")
    );
    assert.deepEqual(keys, [0, 1]);
    assert.equal(hidden.pop(9, "none"), "none");
  } finally {
    ckpt.close();
  }
});
