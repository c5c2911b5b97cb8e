// `show CKPT PATH`: one subtree, found by a dotted path whose dict keys may
// hold dots; omegaconf configs as their values (their nodes with --raw);
// and plain JSON that jq can query without following references.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { omegaconfValues } from "../lib/torch/omegaconf_values.ts";
import { selectPath } from "../lib/torch/select_path.ts";
import { toPlainJson } from "../lib/torch/show.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { cli, fixture } from "./_migrate_cli.ts";
import { runPython, skipTorch } from "./_python.ts";

const TRAINING = fixture("training.ckpt");

Deno.test("selectPath takes the longest key at each dict, indices in lists, fields of objects", async () => {
  const ckpt = await Checkpoint.open(fixture("example_training.ckpt"));
  try {
    const root = ckpt.root;
    const tensor = selectPath(
      root,
      "state_dict.model.model.processor.proc.0.blocks.1.mlp.0.weight",
    );
    assert.ok(tensor instanceof Tensor);
    assert.deepEqual(
      selectPath(root, ["state_dict", "model.model.encoder.edge_inc"]),
      selectPath(root, "state_dict.model.model.encoder.edge_inc"),
    );
    assert.equal(selectPath(root, "hyper_parameters.config.data.forcing.1"), "z");
    assert.equal(selectPath(root, "hyper_parameters.config.data.forcing.-1"), "z");
    assert.equal(selectPath(root, "optimizer_states.0.param_groups.0.params.2"), 2);
    // An object's fields (IndexCollection holds a dict of its attributes).
    assert.ok(selectPath(root, "hyper_parameters.data_indices") instanceof PyObject);
    // Raw: the omegaconf node itself.
    const node = selectPath(root, "hyper_parameters.config.training.max_epochs", { raw: true });
    assert.ok(node instanceof PyObject && node.className === "omegaconf.nodes.AnyNode");
    assert.throws(
      () => selectPath(root, "state_dict.model.nope"),
      /^CkptkitError: Cannot find state_dict\.model\.nope: state_dict has no key 'model'$/,
    );
    assert.throws(
      () => selectPath(root, "optimizer_states.7"),
      /has no index 7 \(it has 1 items\)/,
    );
    assert.throws(() => selectPath(root, "epoch.x"), /epoch has no part 'x' \(it is a number\)/);
  } finally {
    ckpt.close();
  }
});

Deno.test("omegaconf configs read as their values, sharing kept, cycles finite", async () => {
  const ckpt = await Checkpoint.open(TRAINING);
  const hp = (ckpt.root as PyDict).get("hyper_parameters") as PyDict;
  const config = omegaconfValues(hp.get("config")) as PyDict<string, PyDict<string, unknown>>;
  ckpt.close();
  assert.deepEqual([...config.keys()], ["model", "training", "data"]);
  const training = config.get("training")!;
  assert.deepEqual([...training.keys()], ["lr", "warmup_lr", "epochs", "amp", "betas"]);
  assert.equal(training.get("warmup_lr"), "${training.lr}");
  assert.deepEqual(training.get("betas"), [
    (training.get("betas") as unknown[])[0],
    (training.get("betas") as unknown[])[1],
  ]);
});

Deno.test("show PATH prints one subtree; --raw the config's nodes; errors name the path", async () => {
  const values = await cli(["show", TRAINING, "hyper_parameters.config.training"]);
  assert.equal(values.code, 0, values.stderr);
  assert.equal(
    values.stdout,
    `dict (5 items)
  'lr': 0.001
  'warmup_lr': '\${training.lr}'
  'epochs': 3
  'amp': False
  'betas': list (2)
    0.9
    0.999
`,
  );
  const raw = await cli([
    "show",
    TRAINING,
    "hyper_parameters.config.training",
    "--raw",
    "--depth",
    "1",
  ]);
  assert.match(raw.stdout, /^omegaconf\.dictconfig\.DictConfig\n/);
  const whole = await cli(["show", TRAINING]);
  assert.doesNotMatch(whole.stdout, /omegaconf\.nodes\.AnyNode/);
  assert.match(
    (await cli(["show", TRAINING, "--raw", "--depth", "20"])).stdout,
    /omegaconf\.nodes\.AnyNode/,
  );
  const missing = await cli(["show", TRAINING, "hyper_parameters.nope"]);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr,
    `ckptkit: ${TRAINING}: Cannot find hyper_parameters.nope: hyper_parameters has no key 'nope'\n`,
  );
  const usage = await cli(["show", TRAINING, "--json", "--plain"]);
  assert.equal(usage.code, 2);
});

Deno.test("--plain is JSON a jq filter can read directly", async () => {
  const { code, stdout } = await cli(["show", TRAINING, "--plain"]);
  assert.equal(code, 0);
  const plain = JSON.parse(stdout);
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(plain.state_dict as Record<string, { dtype: string; shape: number[] }>)
        .map(([k, v]) => [k, [v.dtype, v.shape]]),
    ),
    {
      "encoder.weight": ["float32", [3, 4]],
      "encoder.bias": ["float32", [3]],
      "decoder.weight": ["float32", [2, 3]],
      "decoder.bias": ["float32", [2]],
    },
  );
  assert.equal(plain.hyper_parameters.config.training.lr, 0.001);
  assert.deepEqual(plain.optimizer_states[0].param_groups[0].betas, [0.9, 0.999]);
  // The typed form keeps its references; the path form names the subtree.
  const typed = JSON.parse((await cli(["show", TRAINING, "state_dict", "--json"])).stdout);
  assert.equal(typed.path, "state_dict");
  assert.equal(typed.root.type, "object");
});

Deno.test("plain JSON expands shared objects, stops cycles, and refuses an exponential expansion", () => {
  const shared = new PyDict([["x", 1]]);
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  assert.deepEqual(
    toPlainJson(new PyDict<string, unknown>([["a", shared], ["b", shared], ["c", cyclic]])),
    {
      a: { x: 1 },
      b: { x: 1 },
      c: ["<cycle>"],
    },
  );
  // 40 levels of [x, x]: 2**40 values if expanded.
  let doubling: unknown = 0;
  for (let i = 0; i < 40; i++) doubling = [doubling, doubling];
  assert.throws(() => toPlainJson(doubling), /would write more than 2000000 values; use --json/);
});

Deno.test({
  name: "the config values are what OmegaConf.to_container gives",
  ignore: skipTorch,
  async fn() {
    const out = await runPython([
      "-c",
      `import sys, json, torch
sys.path.insert(0, sys.argv[2])
from omegaconf import OmegaConf
ckpt = torch.load(sys.argv[1])
print(json.dumps(OmegaConf.to_container(ckpt["hyper_parameters"]["config"], resolve=False)))`,
      fixture("example_training.ckpt"),
      fixture("stubs"),
    ]);
    const plain = JSON.parse(
      (await cli(["show", fixture("example_training.ckpt"), "hyper_parameters.config", "--plain"]))
        .stdout,
    );
    assert.deepEqual(plain, JSON.parse(out));
  },
});
