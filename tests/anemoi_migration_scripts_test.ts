// The shipped anemoi-models ports on small in-memory checkpoints: the edge
// cases the fixtures do not reach, with Python's dict and str semantics
// (update keeps an existing key's place, replace hits every occurrence,
// popped keys move to the end) and the failures upstream would raise.
import assert from "node:assert/strict";
import {
  type CkptType,
  KeyError,
  MigrationContext,
  MigrationError,
  PyDict,
  PyFloat,
  PyGlobal,
  PyObject,
  Tuple,
} from "../mod.ts";
import * as initial from "../migrations/1755530253_initial.ts";
import * as deprecateEda from "../migrations/1762857427_deprecate_eda.ts";
import * as chunkingFix from "../migrations/1762857428_chunking_fix.ts";
import * as hardwareSchemaUpdate from "../migrations/1763479917_hardware_schema_update.ts";
import * as refactorMapper from "../migrations/1763479918_refactor_mapper.ts";
import * as multipleDatasets from "../migrations/1767108147_move_to_multiple_datasets.ts";
import * as fuseGraphs from "../migrations/1773048851_fuse_multiple_perdataset_graphs.ts";
import * as renameSwa from "../migrations/1776237003_rename_swa_to_weight_averaging.ts";
import * as gluMlp from "../migrations/1778688800_glu_mlp_implementation.ts";
import * as edgePermFix from "../migrations/1779202136_trainable_edge_perm_fix.ts";

type Dict = PyDict<string, unknown>;

const dict = (object: Record<string, unknown>): Dict =>
  new PyDict(Object.entries(object).map(([k, v]) => [k, isPlain(v) ? dict(v) : v]));
const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/** A checkpoint with `stateDict` (key -> value) and hyper_parameters. */
function ckpt(stateDict: Record<string, unknown>, hyperParameters: Record<string, unknown> = {}) {
  return new PyDict<string, unknown>([
    ["state_dict", dict(stateDict)],
    ["hyper_parameters", dict(hyperParameters)],
  ]) as CkptType;
}

const stateOf = (root: CkptType) => [...(root.get("state_dict") as Dict)];
const processor = (numLayers: unknown, numChunks: unknown) => ({
  config: { model: { processor: { num_layers: numLayers, num_chunks: numChunks } } },
});

Deno.test("scripts: initial, deprecate_eda, hardware_schema_update and trainable_edge_perm_fix change nothing", async () => {
  for (const script of [initial, deprecateEda, hardwareSchemaUpdate, edgePermFix]) {
    const root = ckpt({ "model.model.encoder.trainable.trainable": 1 }, { statistics: 2 });
    assert.equal(await script.migrate(root), root);
    assert.deepEqual(stateOf(root), [["model.model.encoder.trainable.trainable", 1]]);
    assert.deepEqual([...(root.get("hyper_parameters") as Dict)], [["statistics", 2]]);
  }
});

Deno.test("scripts: setups declare exactly upstream's redirects", () => {
  const declared = (script: { migrateSetup(context: MigrationContext): void }) => {
    const context = new MigrationContext();
    script.migrateSetup(context);
    return {
      attributes: Object.fromEntries(context.attributePaths),
      modules: Object.fromEntries(context.modulePaths),
      deletedAttributes: context.deletedAttributes,
      deletedModules: context.deletedModules,
    };
  };
  const none = { attributes: {}, modules: {}, deletedAttributes: [], deletedModules: [] };
  assert.deepEqual(declared(deprecateEda), {
    ...none,
    deletedModules: ["anemoi.training.schemas.datamodule"],
  });
  const schemas = "anemoi.training.schemas";
  assert.deepEqual(declared(hardwareSchemaUpdate), {
    ...none,
    // Stored end -> start, as anemoi-models' MigrationContext does.
    attributes: {
      [`${schemas}.system.HardwareSchema`]: `${schemas}.hardware.HardwareSchema`,
      [`${schemas}.system.InputSchema`]: `${schemas}.hardware.FilesSchema`,
      [`${schemas}.system.OutputSchema`]: `${schemas}.hardware.PathsSchema`,
    },
    modules: { [`${schemas}.system`]: `${schemas}.hardware` },
  });
  assert.deepEqual(declared(renameSwa), {
    ...none,
    deletedAttributes: [`${schemas}.training.SWA`],
  });
});

Deno.test("chunking_fix: flat indices, Python int parsing, and update keeping an existing key's place", () => {
  const root = ckpt({
    "model.model.processor.proc.01.blocks.1_0.w": "a", // int("01") = 1, int("1_0") = 10
    "model.model.processor.proc.3.w": "old", // not a block key: kept, then overwritten in place
    "model.model.processor.proc.1.blocks.1.w": "b",
    "model.model.processor.proc.0.blocks.1": "c", // no rest after the block index
    "model.model.processor.proc.0.layer_norm.bias": "d", // part 5 is not "blocks"
    "model.model.encoder.x": "e",
    "model.model.processor.proc.-1.blocks.0.w": "f",
  }, processor(5, 2)); // 5 // 2 = 2 blocks per chunk
  chunkingFix.migrate(root);
  assert.deepEqual(stateOf(root), [
    ["model.model.processor.proc.3.w", "b"],
    ["model.model.processor.proc.0.layer_norm.bias", "d"],
    ["model.model.encoder.x", "e"],
    ["model.model.processor.proc.12.w", "a"],
    ["model.model.processor.proc.1", "c"],
    ["model.model.processor.proc.-2.w", "f"],
  ]);
});

Deno.test("chunking_fix: Python's floor division and bool config values", () => {
  const root = ckpt({ "model.model.processor.proc.1.blocks.1.w": 1 }, processor(-3, 2));
  chunkingFix.migrate(root); // -3 // 2 = -2: 1 * -2 + 1
  assert.deepEqual(stateOf(root), [["model.model.processor.proc.-1.w", 1]]);
  const bools = ckpt({ "model.model.processor.proc.2.blocks.0.w": 1 }, processor(true, true));
  chunkingFix.migrate(bools);
  assert.deepEqual(stateOf(bools), [["model.model.processor.proc.2.w", 1]]);
});

Deno.test("chunking_fix: fails where upstream raises", () => {
  const cases: [Record<string, unknown>, ReturnType<typeof processor>, RegExp][] = [
    [{ "model.model.processor.proc": 1 }, processor(4, 2), /has no part 5 \(IndexError\)/],
    [{ "a.b.processor.proc.0.blocks": 1 }, processor(4, 2), /has no part 6 \(IndexError\)/],
    [{ "m.m.processor.proc.x.blocks.0": 1 }, processor(4, 2), /'x' .* is not an int/],
    [{}, processor(4, 0), /num_chunks is 0/],
    [{}, processor(new PyFloat(4), 2), /num_layers is not an int/],
    [{}, processor("${model.layers}", 2), /num_layers is not an int/],
  ];
  for (const [stateDict, hp, message] of cases) {
    assert.throws(() => chunkingFix.migrate(ckpt(stateDict, hp)), (error: Error) => {
      assert.ok(error instanceof MigrationError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(() => chunkingFix.migrate(ckpt({})), /no hyper_parameters\.config/);
});

Deno.test("refactor_mapper: trainables move to the end under the graph providers; edge_inc goes", () => {
  const root = ckpt({
    "model.model.processor.trainable.trainable": "p",
    "model.model.encoder.edge_inc": 0,
    "model.model.encoder.trainable.trainable": "e",
    "model.model.decoder.trainable.trainable": "d",
    "model.model.processor.edge_inc": 0,
    "model.model.decoder.edge_inc": 0,
    "model.model.decoder.proc.w": "w",
  });
  refactorMapper.migrate(root);
  assert.deepEqual(stateOf(root), [
    ["model.model.decoder.proc.w", "w"],
    ["model.model.encoder_graph_provider.trainable.trainable", "e"],
    ["model.model.processor_graph_provider.trainable.trainable", "p"],
    ["model.model.decoder_graph_provider.trainable.trainable", "d"],
  ]);
});

Deno.test("refactor_mapper: a missing key is a KeyError, as upstream", () => {
  const withoutEdgeInc = ckpt({
    "model.model.encoder.trainable.trainable": 1,
    "model.model.processor.trainable.trainable": 1,
    "model.model.decoder.trainable.trainable": 1,
    "model.model.encoder.edge_inc": 0,
    "model.model.processor.edge_inc": 0,
  });
  assert.throws(() => refactorMapper.migrate(withoutEdgeInc), KeyError);
  assert.throws(() => refactorMapper.migrate(ckpt({})), /model\.model\.encoder\.trainable/);
});

Deno.test("move_to_multiple_datasets: every occurrence of the prefix, and only whole components", () => {
  const hp = {
    data_indices: "i",
    statistics: "s",
    graph_data: "g",
    statistics_tendencies: "t",
    supporting_arrays: "a",
    config: "c",
  };
  const root = ckpt({
    "model.pre_processors.x.model.pre_processors.y": 1,
    "model.model.encoder_graph_provider.t": 2,
    "model.model.encoder_extra.t": 3,
    "model.model.decoder.model.model.decoder.z": 4,
    "model.model.processor.p": 5,
    "x.model.post_processors.q": 6,
  }, hp);
  multipleDatasets.migrate(root);
  assert.deepEqual(stateOf(root), [
    ["model.model.encoder_extra.t", 3],
    ["model.model.processor.p", 5],
    ["x.model.post_processors.q", 6],
    ["model.pre_processors.data.x.model.pre_processors.data.y", 1],
    ["model.model.encoder_graph_provider.data.t", 2],
    ["model.model.decoder.data.model.model.decoder.data.z", 4],
  ]);
  const hyperParameters = root.get("hyper_parameters") as Dict;
  assert.deepEqual([...hyperParameters.keys()], [
    "graph_data",
    "config",
    "data_indices",
    "statistics",
    "statistics_tendencies",
    "supporting_arrays",
  ]);
  assert.deepEqual([...(hyperParameters.get("statistics") as Dict)], [["data", "s"]]);
});

Deno.test("move_to_multiple_datasets: a missing per-dataset entry is a KeyError", () => {
  const root = ckpt({}, { data_indices: 1, statistics: 2, supporting_arrays: 3 });
  assert.throws(() => multipleDatasets.migrate(root), /statistics_tendencies/);
});

Deno.test("fuse_multiple_perdataset_graphs: the first dataset's hidden nodes win; later copies stay", () => {
  const prefix = "model.model.node_attributes.";
  const root = ckpt({
    [`${prefix}era.latlons_data`]: "era data",
    [`${prefix}cerra.latlons_hidden`]: "cerra hidden",
    [`${prefix}era.latlons_hidden`]: "era hidden",
    [`${prefix}cerra.latlons_data`]: "cerra data",
    [`${prefix}cerra.trainable_tensors.hidden.trainable`]: "cerra t hidden",
    [`${prefix}era.trainable_tensors.hidden.trainable`]: "era t hidden",
    [`${prefix}cerra.trainable_tensors.data.trainable`]: "cerra t data",
    [`${prefix}other.latlons_data`]: "not a dataset",
    "model.model.era.latlons_data": "not a node attribute",
  }, { graph_data: { era: 1, cerra: 2 } });
  fuseGraphs.migrate(root);
  // The state_dict is walked in order: cerra's hidden copies come first here,
  // so they are taken and era's stay.
  assert.deepEqual(stateOf(root), [
    [`${prefix}era.latlons_hidden`, "era hidden"],
    [`${prefix}era.trainable_tensors.hidden.trainable`, "era t hidden"],
    [`${prefix}other.latlons_data`, "not a dataset"],
    ["model.model.era.latlons_data", "not a node attribute"],
    [`${prefix}latlons_era`, "era data"],
    [`${prefix}latlons_hidden`, "cerra hidden"],
    [`${prefix}latlons_cerra`, "cerra data"],
    [`${prefix}trainable_tensors.hidden.trainable`, "cerra t hidden"],
    [`${prefix}trainable_tensors.cerra.trainable`, "cerra t data"],
  ]);
});

Deno.test("fuse_multiple_perdataset_graphs: a single HeteroData graph names no dataset; other objects fail", () => {
  const key = "model.model.node_attributes.data.latlons_data";
  const hetero = new PyObject(PyGlobal.of("torch_geometric.data.hetero_data", "HeteroData"));
  const single = ckpt({ [key]: 1 }, { graph_data: hetero });
  fuseGraphs.migrate(single);
  assert.deepEqual(stateOf(single), [[key, 1]]);
  const other = new PyObject(PyGlobal.of("pkg", "Graphs"), Tuple.of(), "newobj", dict({ a: 1 }));
  assert.throws(
    () => fuseGraphs.migrate(ckpt({}, { graph_data: other })),
    /graph_data is not a dict/,
  );
  assert.throws(() => fuseGraphs.migrate(ckpt({})), KeyError);
});

// A Lightning AttributeDict: a dict that also takes attribute assignment.
function attributeDict(object: Record<string, unknown>): PyObject {
  const node = new PyObject(
    PyGlobal.of("pytorch_lightning.utilities.parsing", "AttributeDict"),
    Tuple.of(),
    "newobj",
  );
  for (const [k, v] of Object.entries(object)) node.set(k, v);
  return node;
}

Deno.test("rename_swa_to_weight_averaging: without swa it only sets weight_averaging, in place when present", () => {
  const training = attributeDict({ weight_averaging: dict({ x: 1 }), lr: 1 });
  const root = ckpt({}, { config: attributeDict({ training }) });
  renameSwa.migrate(root);
  assert.deepEqual([...training], [["weight_averaging", null], ["lr", 1]]);

  const withSwa = attributeDict({ swa: dict({ enabled: true }), lr: 1 });
  renameSwa.migrate(ckpt({}, { config: attributeDict({ training: withSwa }) }));
  assert.deepEqual([...withSwa], [["lr", 1], ["weight_averaging", null]]);
});

Deno.test("rename_swa_to_weight_averaging: a config without training fails", () => {
  const root = ckpt({}, { config: attributeDict({ model: dict({}) }) });
  assert.throws(() => renameSwa.migrate(root), /training is missing/);
});

Deno.test("glu_mlp_implementation: renames in snapshot order with Python's pop and insert", () => {
  const root = ckpt({
    "a.node_dst_mlp.0": 1,
    b: 0,
    "a.node_dst_mlp.mlp.0": 2, // overwritten in place by the first rename, then renamed itself
    "x.node_dst_mlp.node_dst_mlp.0": 3, // occurrences do not overlap
    "a.node_src_mlp.node_dst_mlp.1.w": 4,
    "node_src_mlp.0": 5, // no leading dot: not an MLP layer key
    "y.node_dst_mlp.0.node_dst_mlp.1": 6, // every occurrence
  });
  gluMlp.migrate(root);
  assert.deepEqual(stateOf(root), [
    ["b", 0],
    ["node_src_mlp.0", 5],
    ["a.node_dst_mlp.mlp.mlp.0", 1],
    ["x.node_dst_mlp.mlp.node_dst_mlp.0", 3],
    ["a.node_src_mlp.mlp.node_dst_mlp.mlp.1.w", 4],
    ["y.node_dst_mlp.mlp.0.node_dst_mlp.mlp.1", 6],
  ]);
});

Deno.test("scripts: non-str state_dict keys fail where upstream tests them as text", () => {
  for (const script of [chunkingFix, multipleDatasets, fuseGraphs, gluMlp]) {
    const root = ckpt({}, {
      ...processor(4, 2),
      graph_data: {},
      data_indices: 1,
      statistics: 1,
      statistics_tendencies: 1,
      supporting_arrays: 1,
    });
    (root.get("state_dict") as PyDict).set(7, "seven");
    assert.throws(() => script.migrate(root), /state_dict key 7 is not a str/);
  }
});
