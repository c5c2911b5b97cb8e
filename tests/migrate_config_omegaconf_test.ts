// Configs ckptkit edited, saved and loaded by torch + omegaconf, against
// the same edits made by omegaconf itself (tests/interop/config_roundtrip.py
// compares every node: class, state and metadata fields in order, values
// and their types, parents, flags). Skipped without torch, required in CI.
import assert from "node:assert/strict";
import { Config } from "../lib/migrate/config.ts";
import { ConfigError } from "../lib/migrate/config_error.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import type { PyObject } from "../lib/pickle/py_object.ts";
import { decode, type Edit, type Json, type Outcome, run, vectors } from "./_config_vectors.ts";
import { runPython, skipTorch } from "./_python.ts";
import { fixture, root, withTempDir } from "./_migrate_cli.ts";

const ROUNDTRIP = `${root}tests/interop/config_roundtrip.py`;

/** Saves `configs` as {"results": [...]} in a checkpoint at `path`. */
async function saveResults(path: string, configs: PyObject[]): Promise<void> {
  const ckpt = await Checkpoint.open(fixture("omegaconf_cases.ckpt"));
  try {
    ckpt.root = new PyDict<string, unknown>([["results", configs]]);
    await ckpt.save(path);
  } finally {
    ckpt.close();
  }
}

Deno.test({
  name: "every vector's edit, saved by ckptkit, loads in omegaconf as omegaconf's own edit",
  ignore: skipTorch,
  async fn() {
    const edits: [string, Edit][] = [];
    const configs: PyObject[] = [];
    const add = (caseName: string, edit: Edit, want: Outcome) => {
      if ("error" in want) return;
      // Enum members alternate between the two pickled forms.
      const form = edits.length % 2 === 0 ? "getattr" : "call";
      const { root, outcome } = run(caseName, edit, form);
      if (JSON.stringify(outcome) !== JSON.stringify(want)) return; // a documented difference
      edits.push([caseName, edit]);
      configs.push(root);
    };
    for (const [caseName, results] of Object.entries(vectors.matrix as Record<string, Outcome[]>)) {
      (vectors.inputs as Json[]).forEach((input, i) =>
        add(caseName, { op: "set", path: ["x"], value: input }, results[i])
      );
    }
    for (const [caseName, edit, want] of vectors.scenarios as [string, Edit, Outcome][]) {
      add(caseName, edit, want);
    }
    console.log(edits.length, "edits round-tripped");
    assert.ok(edits.length > 4500, `${edits.length} edits`);
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/edits.json`, JSON.stringify(edits));
      await saveResults(`${dir}/ours.ckpt`, configs);
      const out = await runPython([
        ROUNDTRIP,
        "each",
        `${dir}/edits.json`,
        fixture("omegaconf_cases.ckpt"),
        `${dir}/ours.ckpt`,
      ]);
      assert.equal(out.trim(), `ok ${edits.length}`);
    });
  },
});

// A migration's edits of a Hydra-style structured config: struct mode on
// the root, data read-only; refusals where omegaconf refuses, openDict and
// readWrite where Python would use open_dict and read_write.
const TRAINING_EDITS: [Edit, string][] = [
  [{ op: "set", path: ["training", "lr"], value: 1 }, "ok"],
  [{ op: "set", path: ["training", "lr"], value: "oops" }, "ValidationError"],
  [{ op: "set", path: ["training", "epochs"], value: "5" }, "ok"],
  [{ op: "set", path: ["training", "epochs"], value: { float: "2.5" } }, "ValidationError"],
  [{ op: "set", path: ["training", "amp"], value: "off" }, "ok"],
  [{ op: "set", path: ["training", "seed"], value: " 42 " }, "ok"],
  [{ op: "set", path: ["training", "warmup_lr"], value: "${training.epochs}" }, "ok"],
  [{ op: "set", path: ["training", "warmup_lr"], value: "${training.epochs" }, "GrammarParseError"],
  [{ op: "set", path: ["training", "precision"], value: 16 }, "ok"],
  [{ op: "set", path: ["training", "precision"], value: { float: "1.5" } }, "ValidationError"],
  [{ op: "set", path: ["training", "betas"], value: [{ float: "0.8" }, "0.99"] }, "ok"],
  [{ op: "set", path: ["training", "output"], value: "runs//new/./x" }, "ok"],
  [{ op: "set", path: ["training", "loss_weights", "t2m"], value: 2 }, "ok"],
  [{ op: "set", path: ["training", "loss_weights", "z500"], value: "0.5" }, "ConfigAttributeError"],
  [
    {
      op: "set",
      path: ["training", "loss_weights", "z500"],
      value: "0.5",
      options: { openDict: true },
    },
    "ok",
  ],
  [{ op: "set", path: ["training", "weight_averaging"], value: null }, "ConfigAttributeError"],
  [
    { op: "set", path: ["training", "weight_averaging"], value: null, options: { openDict: true } },
    "ok",
  ],
  [{ op: "pop", path: ["training", "swa"] }, "ConfigTypeError"],
  [{ op: "pop", path: ["training", "swa"], options: { openDict: true } }, "ok"],
  [
    {
      op: "set",
      path: ["training", "swa_settings"],
      value: { result: 18 },
      options: { openDict: true },
    },
    "ok",
  ],
  [{
    op: "set",
    path: ["training", "extra"],
    value: { dict: [["a", [1, { dict: [["b", null]] }]]] },
  }, "ok"],
  [{ op: "set", path: ["training", "extra", "a", 1, "b"], value: "x" }, "ok"],
  [{ op: "set", path: ["training", "extra", "c"], value: 1 }, "ConfigAttributeError"],
  [{ op: "set", path: ["model", "processor", "activation"], value: "RELU" }, "ok"],
  [{ op: "set", path: ["model", "processor", "activation"], value: "relu" }, "ValidationError"],
  [{ op: "set", path: ["model", "processor", "dropout"], value: null }, "ok"],
  [{ op: "set", path: ["model", "processor", "num_layers"], value: null }, "ValidationError"],
  [{ op: "set", path: ["model", "processor", "hidden"], value: [8, "16"] }, "ok"],
  [{ op: "set", path: ["model", "processor", "hidden", 2], value: "64" }, "ok"],
  [
    { op: "set", path: ["model", "processor", "hidden", 0], value: { float: "8.5" } },
    "ValidationError",
  ],
  [{ op: "delete", path: ["model", "name"] }, "ConfigTypeError"],
  [
    {
      op: "set",
      path: ["model", "backbone"],
      value: { node: ["model", "processor"] },
      options: { openDict: true },
    },
    "ok",
  ],
  [{ op: "set", path: ["data", "shuffle"], value: false }, "ReadonlyConfigError"],
  [{ op: "set", path: ["data", "shuffle"], value: false, options: { readWrite: true } }, "ok"],
  [{ op: "set", path: ["data", "paths", 0], value: "c.zarr" }, "ReadonlyConfigError"],
  [{ op: "set", path: ["data", "paths", 2], value: "d.zarr", options: { readWrite: true } }, "ok"],
  [{ op: "delete", path: ["data", "frequency"] }, "ReadonlyConfigError"],
  [{ op: "set", path: ["mode"], value: "SLOW" }, "ok"],
];

/** Runs one edit through Config; "ok" or omegaconf's error class, and what a pop returned. */
function runEdit(config: Config, edit: Edit, results: unknown[]): string {
  let view = config;
  if (edit.options?.openDict) view = view.openDict();
  if (edit.options?.readWrite) view = view.readWrite();
  try {
    if (edit.op === "set") {
      const value = edit.value as Record<string, Json>;
      const resolved = value !== null && typeof value === "object" && "node" in value
        ? config.get(value.node as (string | number)[])
        : value !== null && typeof value === "object" && "result" in value
        ? results[value.result as number]
        : decode(edit.value!, "call");
      view.set(edit.path, resolved);
      results.push(undefined);
    } else if (edit.op === "pop") {
      results.push(view.pop(edit.path));
    } else {
      results.push(view.delete(edit.path));
    }
    return "ok";
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    results.push(undefined);
    return error.pythonError ?? "ckptkit";
  }
}

Deno.test({
  name:
    "a structured training config in struct mode, edited as a migration would, loads as omegaconf edits it",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      const ckpt = await Checkpoint.open(fixture("structured_config.ckpt"));
      const config = Config.of(ckpt.root as PyDict);
      const results: unknown[] = [];
      const outcomes = TRAINING_EDITS.map(([edit]) => runEdit(config, edit, results));
      assert.deepEqual(outcomes, TRAINING_EDITS.map(([, outcome]) => outcome));
      await ckpt.save(`${dir}/edited.ckpt`);
      ckpt.close();
      await Deno.writeTextFile(`${dir}/edits.json`, JSON.stringify(TRAINING_EDITS));
      const out = await runPython([
        ROUNDTRIP,
        "sequence",
        `${dir}/edits.json`,
        fixture("structured_config.ckpt"),
        `${dir}/edited.ckpt`,
      ]);
      assert.equal(out.trim(), `ok ${TRAINING_EDITS.length}`);
    });
  },
});
