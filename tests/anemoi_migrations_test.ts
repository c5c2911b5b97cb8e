// The ten shipped anemoi-models migrations on anemoi-shaped checkpoints
// (tests/fixtures/make_anemoi_fixtures.py and example_training.ckpt): the
// state after each migration, whole runs through the library and cli.ts, and
// real torch loading the results with the new module layout.
import assert from "node:assert/strict";
import {
  Checkpoint,
  type CkptType,
  Config,
  inspectCheckpoint,
  migrateCheckpoint,
  type Migration,
  MigrationContext,
  MISSING_ATTRIBUTE,
  PyDict,
  PyFloat,
  PyObject,
  type PySet,
  registeredMigrations,
  scriptDigest,
  Tensor,
} from "../mod.ts";
import { loadMigrations } from "../migrations/mod.ts";
import { cli, fileHash, fixture, root, withTempDir } from "./_migrate_cli.ts";
import { runPython, skipTorch } from "./_python.ts";

type Dict = PyDict<string, unknown>;

// Name, anemoi-models version and upstream signature of each script, as
// anemoi-models ships them.
const UPSTREAM: readonly (readonly [string, string, string])[] = [
  [
    "1755530253_initial",
    "0.9.4",
    "b45697a8c90602201bc5eb190d5b2365dfa0d65716fb30021290299c854519d3",
  ],
  [
    "1762857427_deprecate_eda",
    "0.10.0",
    "9b7bec108dc486f3b1a464a339b1574efca6b52cec8fe59dbfe0494a947a57ab",
  ],
  [
    "1762857428_chunking_fix",
    "0.11.0",
    "61749a252385173eabe13e87ff1a699251cacf91607c84169c09c71939b3a9c9",
  ],
  [
    "1763479917_hardware_schema_update",
    "0.11.0",
    "7237d0a8f30bf746ca7e118041f8194b8119f3143d8968adc0fe3e379c1ee2dc",
  ],
  [
    "1763479918_refactor_mapper",
    "0.11.3",
    "43a4c8d84dbe88bd0ce2c0855e8984be2464053fbc92c9b1b6a896746999c4b3",
  ],
  [
    "1767108147_move_to_multiple_datasets",
    "0.12.0",
    "66a42ce81d38095063db8aac340e430881484b9abfa18dbd270dd72c65f9d3cd",
  ],
  [
    "1773048851_fuse_multiple_perdataset_graphs",
    "0.13.0",
    "cac75ef0852908408a1452274556dfa2e74ebfe07f2bcbbb9f4ac994310fd3cf",
  ],
  [
    "1776237003_rename_swa_to_weight_averaging",
    "0.15.0",
    "505e24fa60f7b932a7556791256b85283392d0b42a208e14d85ea80f76cec358",
  ],
  [
    "1778688800_glu_mlp_implementation",
    "0.16.0",
    "af3ed4d719d013c01f02335850e371756e7c08a20740a0c7114b072b777f6c96",
  ],
  [
    "1779202136_trainable_edge_perm_fix",
    "0.16.0",
    "cb50507d506d892d95c954aba2c5e1b9933b58a1263494d0e804265a91855708",
  ],
];
const NAMES = UPSTREAM.map(([name]) => name);
const SIGNATURES = new Map(UPSTREAM.map(([name, , signature]) => [name, signature]));
const EXECUTED = NAMES.slice(1); // every fixture already registers the initial migration

const [
  ,
  ,
  CHUNKING,
  ,
  MAPPER,
  DATASETS,
  FUSE,
  SWA,
  GLU,
] = NAMES;

const MISSING = MISSING_ATTRIBUTE.path;
const SCHEMAS = "anemoi.training.schemas";
const PER_DATASET = ["data_indices", "statistics", "statistics_tendencies", "supporting_arrays"];

/** hyper_parameters keys after move_to_multiple_datasets: the per-dataset ones move to the end. */
const movedToEnd = (keys: readonly string[]) => [
  ...keys.filter((key) => !PER_DATASET.includes(key)),
  ...PER_DATASET,
];

// ---- what each fixture holds, and should hold after each migration ---------

/** A state_dict as [index of the key in the original state_dict, key] pairs. */
type Keys = readonly (readonly [number, string])[];

interface Expected {
  file: string;
  /** The original state_dict keys. */
  original: readonly string[];
  /** The state_dict after the migrations that change it; the others leave it as it was. */
  keys: Readonly<Record<string, Keys>>;
  hyperParameters: readonly string[];
  /** The described config (see describe()) before and after the SWA migration. */
  configBefore: unknown;
  configAfter: unknown;
  /** Globals the setups redirect while decoding. */
  redirected: Readonly<Record<string, string>>;
  /** Whether the fixture's history already records the initial migration. */
  historyHasInitial: boolean;
}

const kept = (original: readonly string[], ...indices: number[]): Keys =>
  indices.map((i) => [i, original[i]] as const);

const DICTCONFIG_ORIGINAL = [
  "model.pre_processors.normalizer._norm_mul",
  "model.model.node_attributes.latlons_data",
  "model.model.node_attributes.latlons_hidden",
  "model.model.node_attributes.trainable_tensors.data.trainable",
  "model.model.node_attributes.trainable_tensors.hidden.trainable",
  "model.model.encoder.trainable.trainable",
  "model.model.encoder.edge_inc",
  "model.model.encoder.emb_nodes_src.weight",
  "model.model.encoder.proc.node_dst_mlp.0.weight",
  "model.model.encoder.proc.node_src_mlp.0.weight",
  "model.model.processor.trainable.trainable",
  "model.model.processor.edge_inc",
  "model.model.processor.proc.0.blocks.0.node_dst_mlp.0.weight",
  "model.model.processor.proc.0.blocks.1.node_dst_mlp.0.weight",
  "model.model.processor.proc.0.emb_edges.weight",
  "model.model.processor.proc.1.blocks.0.node_dst_mlp.0.weight",
  "model.model.processor.proc.1.blocks.1.node_dst_mlp.0.weight",
  "model.model.processor.proc.1.blocks.1.layer_norm1.bias",
  "model.model.decoder.trainable.trainable",
  "model.model.decoder.edge_inc",
  "model.model.decoder.proc.node_dst_mlp.0.weight",
  "model.model.decoder.proc.node_src_mlp.2.bias",
  "model.post_processors.normalizer._norm_add",
  "model.model.emb_nodes.weight",
];

// 4 layers in 2 chunks: proc.<c>.blocks.<b> becomes proc.<2c + b>.
const DICTCONFIG_FLAT: Keys = [
  [12, "model.model.processor.proc.0.node_dst_mlp.0.weight"],
  [13, "model.model.processor.proc.1.node_dst_mlp.0.weight"],
  [15, "model.model.processor.proc.2.node_dst_mlp.0.weight"],
  [16, "model.model.processor.proc.3.node_dst_mlp.0.weight"],
  [17, "model.model.processor.proc.3.layer_norm1.bias"],
];

const DICTCONFIG_PER_DATASET: Keys = [
  [0, "model.pre_processors.data.normalizer._norm_mul"],
  [1, "model.model.node_attributes.data.latlons_data"],
  [2, "model.model.node_attributes.data.latlons_hidden"],
  [3, "model.model.node_attributes.data.trainable_tensors.data.trainable"],
  [4, "model.model.node_attributes.data.trainable_tensors.hidden.trainable"],
  [7, "model.model.encoder.data.emb_nodes_src.weight"],
  [8, "model.model.encoder.data.proc.node_dst_mlp.0.weight"],
  [9, "model.model.encoder.data.proc.node_src_mlp.0.weight"],
  [20, "model.model.decoder.data.proc.node_dst_mlp.0.weight"],
  [21, "model.model.decoder.data.proc.node_src_mlp.2.bias"],
  [22, "model.post_processors.data.normalizer._norm_add"],
  [5, "model.model.encoder_graph_provider.data.trainable.trainable"],
  [18, "model.model.decoder_graph_provider.data.trainable.trainable"],
];

const FUSED: Keys = [
  [1, "model.model.node_attributes.latlons_data"],
  [2, "model.model.node_attributes.latlons_hidden"],
  [3, "model.model.node_attributes.trainable_tensors.data.trainable"],
  [4, "model.model.node_attributes.trainable_tensors.hidden.trainable"],
];

const DICTCONFIG: Expected = {
  file: "anemoi_dictconfig.ckpt",
  original: DICTCONFIG_ORIGINAL,
  keys: {
    [CHUNKING]: [
      ...kept(
        DICTCONFIG_ORIGINAL,
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        14,
        18,
        19,
        20,
        21,
        22,
        23,
      ),
      ...DICTCONFIG_FLAT,
    ],
    [MAPPER]: [
      ...kept(DICTCONFIG_ORIGINAL, 0, 1, 2, 3, 4, 7, 8, 9, 14, 20, 21, 22, 23),
      ...DICTCONFIG_FLAT,
      [5, "model.model.encoder_graph_provider.trainable.trainable"],
      [10, "model.model.processor_graph_provider.trainable.trainable"],
      [18, "model.model.decoder_graph_provider.trainable.trainable"],
    ],
    [DATASETS]: [
      ...kept(DICTCONFIG_ORIGINAL, 14, 23),
      ...DICTCONFIG_FLAT,
      [10, "model.model.processor_graph_provider.trainable.trainable"],
      ...DICTCONFIG_PER_DATASET,
    ],
    [FUSE]: [
      ...kept(DICTCONFIG_ORIGINAL, 14, 23),
      ...DICTCONFIG_FLAT,
      [10, "model.model.processor_graph_provider.trainable.trainable"],
      ...DICTCONFIG_PER_DATASET.filter(([i]) => i < 1 || i > 4),
      ...FUSED,
    ],
    [GLU]: [
      ...kept(DICTCONFIG_ORIGINAL, 14, 23),
      [17, "model.model.processor.proc.3.layer_norm1.bias"],
      [10, "model.model.processor_graph_provider.trainable.trainable"],
      [0, "model.pre_processors.data.normalizer._norm_mul"],
      [7, "model.model.encoder.data.emb_nodes_src.weight"],
      [22, "model.post_processors.data.normalizer._norm_add"],
      [5, "model.model.encoder_graph_provider.data.trainable.trainable"],
      [18, "model.model.decoder_graph_provider.data.trainable.trainable"],
      ...FUSED,
      [12, "model.model.processor.proc.0.node_dst_mlp.mlp.0.weight"],
      [13, "model.model.processor.proc.1.node_dst_mlp.mlp.0.weight"],
      [15, "model.model.processor.proc.2.node_dst_mlp.mlp.0.weight"],
      [16, "model.model.processor.proc.3.node_dst_mlp.mlp.0.weight"],
      [8, "model.model.encoder.data.proc.node_dst_mlp.mlp.0.weight"],
      [9, "model.model.encoder.data.proc.node_src_mlp.mlp.0.weight"],
      [20, "model.model.decoder.data.proc.node_dst_mlp.mlp.0.weight"],
      [21, "model.model.decoder.data.proc.node_src_mlp.mlp.2.bias"],
    ],
  },
  hyperParameters: [
    "config",
    "data_indices",
    "graph_data",
    "statistics",
    "metadata",
    "supporting_arrays",
    "statistics_tendencies",
  ],
  configBefore: dictConfig({
    max_epochs: 2,
    swa: { enabled: true, lr: 0.0001 },
    lr: { rate: 0.000625, iterations: 300 },
    precision: "16-mixed",
  }),
  configAfter: dictConfig({
    max_epochs: 2,
    lr: { rate: 0.000625, iterations: 300 },
    precision: "16-mixed",
    weight_averaging: null,
  }),
  redirected: {},
  historyHasInitial: false,
};

function dictConfig(training: Record<string, unknown>): unknown {
  return {
    data: { format: "zarr", frequency: "6h", forcing: ["lsm", "z"], diagnostic: ["tp"] },
    hardware: {
      num_gpus_per_node: 1,
      paths: { data: "/data", output: "/runs/fixture" },
      files: { dataset: "era5-o96.zarr", graph: null },
    },
    model: {
      num_channels: 8,
      processor: {
        _target_: "anemoi.models.layers.processor.GraphTransformerProcessor",
        num_layers: 4,
        num_chunks: 2,
      },
    },
    training,
  };
}

const SCHEMA_ORIGINAL = [
  "model.model.processor.proc.0.blocks.0.mlp.0.weight",
  "model.model.processor.proc.0.blocks.2.mlp.0.weight",
  "model.model.processor.proc.1.blocks.1.mlp.0.weight",
  "model.model.processor.proc.1.blocks.2.node_dst_mlp.0.weight",
  "model.model.encoder.trainable.trainable",
  "model.model.processor.trainable.trainable",
  "model.model.decoder.trainable.trainable",
  "model.model.encoder.edge_inc",
  "model.model.processor.edge_inc",
  "model.model.decoder.edge_inc",
  "model.pre_processors.imputer.nan_locations",
  "model.model.node_attributes.trainable_tensors.hidden.trainable",
  "model.model.node_attributes.latlons_hidden",
  "model.model.node_attributes.latlons_data",
  "model.model.encoder.proc.node_src_mlp.0.weight",
  "model.model.decoder.proc.node_dst_mlp.0.weight",
];

// 6 layers in 2 chunks: proc.<c>.blocks.<b> becomes proc.<3c + b>.
const SCHEMA_FLAT: Keys = [
  [0, "model.model.processor.proc.0.mlp.0.weight"],
  [1, "model.model.processor.proc.2.mlp.0.weight"],
  [2, "model.model.processor.proc.4.mlp.0.weight"],
  [3, "model.model.processor.proc.5.node_dst_mlp.0.weight"],
];

const SCHEMA: Expected = {
  file: "anemoi_schema.ckpt",
  original: SCHEMA_ORIGINAL,
  keys: {
    [CHUNKING]: [
      ...kept(SCHEMA_ORIGINAL, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      ...SCHEMA_FLAT,
    ],
    [MAPPER]: [
      ...kept(SCHEMA_ORIGINAL, 10, 11, 12, 13, 14, 15),
      ...SCHEMA_FLAT,
      [4, "model.model.encoder_graph_provider.trainable.trainable"],
      [5, "model.model.processor_graph_provider.trainable.trainable"],
      [6, "model.model.decoder_graph_provider.trainable.trainable"],
    ],
    [DATASETS]: [
      ...SCHEMA_FLAT,
      [5, "model.model.processor_graph_provider.trainable.trainable"],
      [10, "model.pre_processors.data.imputer.nan_locations"],
      [11, "model.model.node_attributes.data.trainable_tensors.hidden.trainable"],
      [12, "model.model.node_attributes.data.latlons_hidden"],
      [13, "model.model.node_attributes.data.latlons_data"],
      [14, "model.model.encoder.data.proc.node_src_mlp.0.weight"],
      [15, "model.model.decoder.data.proc.node_dst_mlp.0.weight"],
      [4, "model.model.encoder_graph_provider.data.trainable.trainable"],
      [6, "model.model.decoder_graph_provider.data.trainable.trainable"],
    ],
    [FUSE]: [
      ...SCHEMA_FLAT,
      [5, "model.model.processor_graph_provider.trainable.trainable"],
      [10, "model.pre_processors.data.imputer.nan_locations"],
      [14, "model.model.encoder.data.proc.node_src_mlp.0.weight"],
      [15, "model.model.decoder.data.proc.node_dst_mlp.0.weight"],
      [4, "model.model.encoder_graph_provider.data.trainable.trainable"],
      [6, "model.model.decoder_graph_provider.data.trainable.trainable"],
      [11, "model.model.node_attributes.trainable_tensors.hidden.trainable"],
      [12, "model.model.node_attributes.latlons_hidden"],
      [13, "model.model.node_attributes.latlons_data"],
    ],
    [GLU]: [
      ...SCHEMA_FLAT.slice(0, 3),
      [5, "model.model.processor_graph_provider.trainable.trainable"],
      [10, "model.pre_processors.data.imputer.nan_locations"],
      [4, "model.model.encoder_graph_provider.data.trainable.trainable"],
      [6, "model.model.decoder_graph_provider.data.trainable.trainable"],
      [11, "model.model.node_attributes.trainable_tensors.hidden.trainable"],
      [12, "model.model.node_attributes.latlons_hidden"],
      [13, "model.model.node_attributes.latlons_data"],
      [3, "model.model.processor.proc.5.node_dst_mlp.mlp.0.weight"],
      [14, "model.model.encoder.data.proc.node_src_mlp.mlp.0.weight"],
      [15, "model.model.decoder.data.proc.node_dst_mlp.mlp.0.weight"],
    ],
  },
  hyperParameters: [
    "config",
    "statistics",
    "graph_data",
    "data_indices",
    "metadata",
    "supporting_arrays",
    "statistics_tendencies",
  ],
  configBefore: schemaConfig({
    class: `${SCHEMAS}.training.TrainingSchema`,
    fields: {
      max_epochs: 2,
      swa: { class: MISSING, state: { enabled: false, lr: 0.0001 } },
      precision: "16-mixed",
    },
    set: ["max_epochs", "precision", "swa"],
  }),
  configAfter: schemaConfig({
    class: `${SCHEMAS}.training.TrainingSchema`,
    fields: { max_epochs: 2, precision: "16-mixed", weight_averaging: null },
    set: ["max_epochs", "precision", "weight_averaging"],
  }),
  redirected: {
    [`${SCHEMAS}.datamodule.DataModuleSchema`]: MISSING,
    [`${SCHEMAS}.hardware.HardwareSchema`]: `${SCHEMAS}.system.HardwareSchema`,
    [`${SCHEMAS}.hardware.FilesSchema`]: `${SCHEMAS}.system.InputSchema`,
    [`${SCHEMAS}.hardware.PathsSchema`]: `${SCHEMAS}.system.OutputSchema`,
    [`${SCHEMAS}.training.SWA`]: MISSING,
  },
  historyHasInitial: true,
};

function schemaConfig(training: unknown): unknown {
  return {
    class: `${SCHEMAS}.base_schema.BaseSchema`,
    fields: {
      config_validation: true,
      // The datamodule schema module is deleted: its object keeps its fields.
      datamodule: {
        class: MISSING,
        state: { target_: "anemoi.training.data.datamodule.AnemoiDatasetsDataModule" },
      },
      hardware: {
        class: `${SCHEMAS}.system.HardwareSchema`,
        fields: {
          accelerator: "auto",
          num_gpus_per_node: 1,
          files: {
            class: `${SCHEMAS}.system.InputSchema`,
            fields: { dataset: "era5-o96.zarr", graph: null },
            set: ["dataset", "graph"],
          },
          paths: {
            class: `${SCHEMAS}.system.OutputSchema`,
            fields: { data: "/data", output: "/runs/fixture" },
            set: ["data", "output"],
          },
        },
        set: ["accelerator", "files", "num_gpus_per_node", "paths"],
      },
      model: {
        class: `${SCHEMAS}.models.models.ModelSchema`,
        fields: {
          num_channels: 8,
          processor: {
            class: `${SCHEMAS}.models.processor.GraphTransformerProcessorSchema`,
            fields: {
              target_: "anemoi.models.layers.processor.GraphTransformerProcessor",
              num_layers: 6,
              num_chunks: 2,
            },
            set: ["num_chunks", "num_layers", "target_"],
          },
        },
        set: ["num_channels", "processor"],
      },
      training,
    },
    set: ["config_validation", "datamodule", "hardware", "model", "training"],
  };
}

// ---- helpers ----------------------------------------------------------------

/**
 * A config as plain data: DictConfigs as their content, schema objects as
 * {class, fields, set}, objects of deleted classes as {class, state}. The
 * Python check below builds the same from what torch loads.
 */
function describe(value: unknown): unknown {
  if (value instanceof PyObject) {
    const state = value.state as Dict;
    if (value.callable === MISSING_ATTRIBUTE) {
      return { class: MISSING, state: describe(state.get("__dict__")) };
    }
    if (value.className === "omegaconf.dictconfig.DictConfig") return new Config(value).toPlain();
    const fieldsSet = state.get("__pydantic_fields_set__") as PySet<string>;
    return {
      class: value.className,
      fields: describe(state.get("__dict__")),
      set: [...fieldsSet.values()].sort(),
    };
  }
  if (value instanceof PyFloat) return value.value;
  if (value instanceof PyDict) {
    return Object.fromEntries([...value].map(([k, v]) => [String(k), describe(v)]));
  }
  if (Array.isArray(value)) return value.map(describe);
  return value;
}

const dictAt = (parent: Dict, key: string) => parent.get(key) as Dict;
const keysOf = (dict: Dict) => [...dict.keys()];

/** Each key with its tensor's bytes. */
async function tensorBytes(stateDict: Dict): Promise<Map<string, string>> {
  const bytes = new Map<string, string>();
  for (const [key, value] of stateDict) {
    assert.ok(value instanceof Tensor, `${key} holds a tensor`);
    bytes.set(key, (await value.bytes()).join(","));
  }
  return bytes;
}

/** Checks that `stateDict` has `keys`, each holding the tensor of its original key. */
async function assertKeys(
  stateDict: Dict,
  keys: Keys,
  original: readonly string[],
  originalBytes: Map<string, string>,
  where: string,
): Promise<void> {
  assert.deepEqual(keysOf(stateDict), keys.map(([, key]) => key), `${where}: state_dict keys`);
  const bytes = await tensorBytes(stateDict);
  for (const [index, key] of keys) {
    assert.equal(
      bytes.get(key),
      originalBytes.get(original[index]),
      `${where}: ${key} holds the tensor of ${original[index]}`,
    );
  }
}

/** The decoded checkpoint with every shipped setup's redirects. */
async function openMigratable(path: string, migrations: Migration[]): Promise<Checkpoint> {
  const context = new MigrationContext();
  for (const migration of migrations) migration.migrateSetup?.(context);
  return await Checkpoint.open(path, { findGlobal: context.findGlobal() });
}

// ---- the registry ---------------------------------------------------------------

Deno.test("anemoi: the registry ships the ten upstream migrations with their versions and signatures", async () => {
  const migrations = await loadMigrations();
  assert.deepEqual(
    migrations.map((m) => [m.name, m.version, m.signature]),
    UPSTREAM.map((row) => [...row]),
  );
  for (const migration of migrations) {
    assert.equal(migration.final, false, `${migration.name} is not final`);
    assert.equal(migration.metadata.versions.migration, "1.0.0");
    assert.notEqual(migration.digest, migration.signature, "the port has its own digest");
    assert.equal(typeof migration.migrate, "function");
  }
  assert.deepEqual(migrations.filter((m) => m.migrateSetup !== undefined).map((m) => m.name), [
    "1762857427_deprecate_eda",
    "1763479917_hardware_schema_update",
    "1776237003_rename_swa_to_weight_averaging",
  ]);
});

// The digest of each port's own source. A port pins the upstream script's
// signature, which is what checkpoints record, so a change to a port would
// go unnoticed by anemoi-models: this table notices it. After changing a
// port, check it against the upstream script again, then update its digest.
const PORT_DIGESTS: Readonly<Record<string, string>> = {
  "1755530253_initial": "f5b61add92870fbf854eaf1f59bc448850407304b7b529167d35d47a15985be0",
  "1762857427_deprecate_eda": "14d0af7aa1760ec45d37897d20d596ad60001a939bba83b3cc7f352368363723",
  "1762857428_chunking_fix": "936cba71666786c7072817b3b5fe9fcd12a1e39c958a21a7ba953363b25ff8b0",
  "1763479917_hardware_schema_update":
    "5823a7125274f40cb56b9849212a7cec1fefd49ed61c7af8fbee231887b715d2",
  "1763479918_refactor_mapper": "71421a16f11ba44328f38b4714fe20fea0da92a3216d5b749f8756b7e2dcb5a6",
  "1767108147_move_to_multiple_datasets":
    "8c1e38c9b3a9c1b9b3d74e35fb3ab40fe15be3a16e02e0db869c6826fbdfa21a",
  "1773048851_fuse_multiple_perdataset_graphs":
    "a095ce41ca958e5e56b8b292313da006541f0d21881ba3269d1f02ec5393395d",
  "1776237003_rename_swa_to_weight_averaging":
    "60e05c22c21e4abbc5bc52fad070d4ed2f838330bc2256fc402cf825ae640cc5",
  "1778688800_glu_mlp_implementation":
    "9f96d9b50296c5bfc6b84ba3228be81202b669a51bf50237f4664fae6b2b7291",
  "1779202136_trainable_edge_perm_fix":
    "a31a3b963f63f66efb929bd9d2c7e5cce8348261302e8c1bdb957b8d5a082645",
};

Deno.test("anemoi: each port's source is the one checked against its upstream script", async () => {
  const changed: string[] = [];
  for (const migration of await loadMigrations()) {
    const source = await Deno.readTextFile(
      new URL(`../migrations/${migration.name}.ts`, import.meta.url),
    );
    if ((await scriptDigest(source)) !== PORT_DIGESTS[migration.name]) changed.push(migration.name);
  }
  assert.deepEqual(
    changed,
    [],
    "a port changed while it still claims the upstream signature: compare it with the upstream " +
      "script again, then update PORT_DIGESTS",
  );
});

Deno.test("anemoi: the setups move the hardware schemas and delete the datamodule module and SWA", async () => {
  const context = new MigrationContext();
  for (const migration of await loadMigrations()) migration.migrateSetup?.(context);
  const resolve = (module: string, name: string) => context.resolve(module, name).path;
  assert.equal(
    resolve(`${SCHEMAS}.hardware`, "HardwareSchema"),
    `${SCHEMAS}.system.HardwareSchema`,
  );
  assert.equal(resolve(`${SCHEMAS}.hardware`, "FilesSchema"), `${SCHEMAS}.system.InputSchema`);
  assert.equal(resolve(`${SCHEMAS}.hardware`, "PathsSchema"), `${SCHEMAS}.system.OutputSchema`);
  // The rest of the module moves as it is.
  assert.equal(resolve(`${SCHEMAS}.hardware`, "Checkpoint"), `${SCHEMAS}.system.Checkpoint`);
  assert.equal(resolve(`${SCHEMAS}.datamodule`, "DataModuleSchema"), MISSING);
  assert.equal(resolve(`${SCHEMAS}.training`, "SWA"), MISSING);
  assert.equal(
    resolve(`${SCHEMAS}.training`, "TrainingSchema"),
    `${SCHEMAS}.training.TrainingSchema`,
  );
  assert.equal(resolve(`${SCHEMAS}.system`, "HardwareSchema"), `${SCHEMAS}.system.HardwareSchema`);
});

// ---- one migration at a time ------------------------------------------------------

for (const expected of [DICTCONFIG, SCHEMA]) {
  Deno.test(`anemoi: ${expected.file} after each migration`, async () => {
    const migrations = await loadMigrations();
    const ckpt = await openMigratable(fixture(expected.file), migrations);
    try {
      let root = ckpt.root as CkptType;
      const hyperParameters = dictAt(root, "hyper_parameters");
      assert.deepEqual(keysOf(dictAt(root, "state_dict")), expected.original);
      assert.deepEqual(keysOf(hyperParameters), expected.hyperParameters);
      assert.deepEqual(describe(hyperParameters.get("config")), expected.configBefore);
      const originalBytes = await tensorBytes(dictAt(root, "state_dict"));
      const perDataset = PER_DATASET.map((name) => hyperParameters.get(name));
      const graphData = hyperParameters.get("graph_data");

      let keys: Keys = expected.original.map((key, i) => [i, key]);
      let hpKeys = expected.hyperParameters;
      let config = expected.configBefore;
      for (const migration of migrations.slice(1)) {
        root = await migration.migrate!(root);
        keys = expected.keys[migration.name] ?? keys;
        if (migration.name === DATASETS) hpKeys = movedToEnd(expected.hyperParameters);
        if (migration.name === SWA) config = expected.configAfter;
        const hp = dictAt(root, "hyper_parameters");
        const stateDict = dictAt(root, "state_dict");
        await assertKeys(stateDict, keys, expected.original, originalBytes, migration.name);
        assert.deepEqual(keysOf(hp), hpKeys, `${migration.name}: hyper_parameters keys`);
        assert.deepEqual(describe(hp.get("config")), config, `${migration.name}: config`);
        assert.equal(hp.get("graph_data"), graphData, "graph_data is left alone");
      }
      // Each per-dataset entry is now {"data": the same object as before}.
      const hp = dictAt(root, "hyper_parameters");
      PER_DATASET.forEach((name, i) => {
        const wrapped = dictAt(hp, name);
        assert.equal(wrapped.constructor, PyDict, `${name} is a plain dict`);
        assert.deepEqual(keysOf(wrapped), ["data"]);
        assert.equal(wrapped.get("data"), perDataset[i]);
      });
    } finally {
      ckpt.close();
    }
  });
}

Deno.test("anemoi: the DictConfig gains weight_averaging as an omegaconf node of training", async () => {
  const migrations = await loadMigrations();
  const ckpt = await openMigratable(fixture(DICTCONFIG.file), migrations);
  try {
    let root = ckpt.root as CkptType;
    for (const migration of migrations) root = await migration.migrate!(root);
    const training = Config.of(root).at("training");
    const content = ((training.node as PyObject).state as Dict).get("_content") as Dict;
    const node = content.get("weight_averaging") as PyObject;
    assert.equal(node.className, "omegaconf.nodes.AnyNode");
    const state = node.state as Dict;
    assert.equal(state.get("_val"), null);
    assert.equal(state.get("_parent"), training.node);
    assert.equal(
      ((state.get("_metadata") as PyObject).state as Dict).get("key"),
      "weight_averaging",
    );
  } finally {
    ckpt.close();
  }
});

// ---- whole runs ------------------------------------------------------------------

const EXAMPLE_ORIGINAL = [
  "model.pre_processors.normalizer._norm_mul",
  "model.pre_processors.normalizer._norm_add",
  "model.post_processors.normalizer._norm_mul",
  "model.post_processors.normalizer._norm_add",
  "model.model.node_attributes.latlons_data",
  "model.model.node_attributes.latlons_hidden",
  "model.model.node_attributes.trainable_tensors.data.trainable",
  "model.model.node_attributes.trainable_tensors.hidden.trainable",
  "model.model.encoder.trainable.trainable",
  "model.model.encoder.edge_inc",
  "model.model.encoder.proc.node_dst_mlp.0.weight",
  "model.model.encoder.proc.node_src_mlp.0.weight",
  "model.model.processor.trainable.trainable",
  "model.model.processor.edge_inc",
  "model.model.processor.proc.0.blocks.0.mlp.0.weight",
  "model.model.processor.proc.0.blocks.1.mlp.0.weight",
  "model.model.processor.proc.1.blocks.0.mlp.0.weight",
  "model.model.processor.proc.1.blocks.1.mlp.0.weight",
  "model.model.decoder.trainable.trainable",
  "model.model.decoder.edge_inc",
  "model.model.decoder.proc.node_dst_mlp.0.weight",
  "model.model.decoder.proc.node_src_mlp.0.weight",
];

/** A fixture's original keys and its keys after all ten migrations. */
interface Run {
  file: string;
  original: readonly string[];
  final: Keys;
  hyperParameters: readonly string[];
  config: unknown;
  redirected: Readonly<Record<string, string>>;
  historyHasInitial: boolean;
}

const RUNS: Run[] = [
  { ...DICTCONFIG, final: DICTCONFIG.keys[GLU], config: DICTCONFIG.configAfter },
  { ...SCHEMA, final: SCHEMA.keys[GLU], config: SCHEMA.configAfter },
  {
    file: "example_training.ckpt",
    original: EXAMPLE_ORIGINAL,
    final: [
      [14, "model.model.processor.proc.0.mlp.0.weight"],
      [15, "model.model.processor.proc.1.mlp.0.weight"],
      [16, "model.model.processor.proc.2.mlp.0.weight"],
      [17, "model.model.processor.proc.3.mlp.0.weight"],
      [12, "model.model.processor_graph_provider.trainable.trainable"],
      [0, "model.pre_processors.data.normalizer._norm_mul"],
      [1, "model.pre_processors.data.normalizer._norm_add"],
      [2, "model.post_processors.data.normalizer._norm_mul"],
      [3, "model.post_processors.data.normalizer._norm_add"],
      [8, "model.model.encoder_graph_provider.data.trainable.trainable"],
      [18, "model.model.decoder_graph_provider.data.trainable.trainable"],
      [4, "model.model.node_attributes.latlons_data"],
      [5, "model.model.node_attributes.latlons_hidden"],
      [6, "model.model.node_attributes.trainable_tensors.data.trainable"],
      [7, "model.model.node_attributes.trainable_tensors.hidden.trainable"],
      [10, "model.model.encoder.data.proc.node_dst_mlp.mlp.0.weight"],
      [11, "model.model.encoder.data.proc.node_src_mlp.mlp.0.weight"],
      [20, "model.model.decoder.data.proc.node_dst_mlp.mlp.0.weight"],
      [21, "model.model.decoder.data.proc.node_src_mlp.mlp.0.weight"],
    ],
    hyperParameters: [
      "config",
      "metadata",
      "data_indices",
      "graph_data",
      "statistics",
      "statistics_tendencies",
      "supporting_arrays",
    ],
    config: undefined, // checked below: only training changes
    redirected: {},
    historyHasInitial: false,
  },
];

/** Checks a migrated file: keys and tensors, hyper_parameters, config, registration. */
async function assertMigrated(path: string, run: Run): Promise<void> {
  const original = await Checkpoint.open(fixture(run.file));
  const migrated = await Checkpoint.open(path);
  try {
    const before = original.root as CkptType;
    const after = migrated.root as CkptType;
    const originalBytes = await tensorBytes(dictAt(before, "state_dict"));
    assert.deepEqual(keysOf(dictAt(before, "state_dict")), run.original);
    assert.deepEqual(keysOf(dictAt(before, "hyper_parameters")), run.hyperParameters);
    await assertKeys(dictAt(after, "state_dict"), run.final, run.original, originalBytes, run.file);
    const hp = dictAt(after, "hyper_parameters");
    assert.deepEqual(keysOf(hp), movedToEnd(run.hyperParameters));
    for (const name of PER_DATASET) assert.deepEqual(keysOf(dictAt(hp, name)), ["data"]);
    if (run.config !== undefined) {
      assert.deepEqual(describe(hp.get("config")), run.config);
    } else {
      const config = describe(hp.get("config")) as Record<string, Record<string, unknown>>;
      const oldConfig = describe(dictAt(before, "hyper_parameters").get("config")) as typeof config;
      const { swa: _swa, ...training } = oldConfig.training;
      assert.deepEqual(config, { ...oldConfig, training: { ...training, weight_averaging: null } });
    }

    const registered = registeredMigrations(after)!;
    assert.deepEqual(registered.map((m) => [m.name, m.version]), UPSTREAM.map(([n, v]) => [n, v]));
    assert.deepEqual(registered.map((m) => m.signature), UPSTREAM.map(([, , s]) => s));
    const history = dictAt(dictAt(hp, "metadata"), "migrations").get("history") as Dict[];
    const names = run.historyHasInitial ? NAMES : EXECUTED;
    assert.deepEqual(history.map((entry) => entry.get("name")), names);
    assert.deepEqual(history.map((entry) => entry.get("type")), names.map(() => "migrate"));
    assert.deepEqual(
      history.map((entry) => entry.get("signature")),
      names.map((n) => SIGNATURES.get(n)),
    );
    // Key for key what anemoi-models writes.
    for (const entry of history) assert.deepEqual(keysOf(entry), ["type", "name", "signature"]);
  } finally {
    original.close();
    migrated.close();
  }
}

for (const run of RUNS) {
  Deno.test(`anemoi: ${run.file} migrates to the last migration in one run (library and cli.ts)`, async () => {
    await withTempDir(async (dir) => {
      const input = fixture(run.file);
      const before = await fileHash(input);
      const libraryOut = `${dir}/library.ckpt`;
      const report = await migrateCheckpoint(input, {
        migrations: await loadMigrations(),
        out: libraryOut,
      });
      assert.equal(report.status, "migrated");
      assert.deepEqual(report.registered.map((m) => m.name), [NAMES[0]]);
      assert.deepEqual(report.executed.map((m) => m.name), EXECUTED);
      assert.deepEqual(report.redirected, run.redirected);
      assert.deepEqual(report.changed, [], "the initial migration's pinned signature matches");
      await assertMigrated(libraryOut, run);
      const inspected = await inspectCheckpoint(libraryOut, { migrations: await loadMigrations() });
      assert.equal(inspected.status, "up-to-date");
      assert.deepEqual(inspected.registered.map((m) => m.name), NAMES);

      const cliOut = `${dir}/cli.ckpt`;
      const migrate = await cli(["migrate", input, "--out", cliOut]);
      assert.equal(migrate.code, 0, migrate.stderr);
      assert.deepEqual(migrate.stdout.trimEnd().split("\n"), [
        `Wrote the migrated checkpoint to ${cliOut}`,
        "Executed 9 operations:",
        ...UPSTREAM.slice(1).map(([name, version]) => `  + MIGRATE ${name} [v${version}]`),
      ]);
      assert.equal(migrate.stderr, "");
      assert.equal(await fileHash(cliOut), await fileHash(libraryOut), "both ways write the same");
      assert.equal(await fileHash(input), before, "the input is left alone");

      const inspect = await cli(["inspect", cliOut]);
      assert.equal(inspect.code, 0, inspect.stderr);
      const lines = inspect.stdout.trimEnd().split("\n");
      assert.equal(
        lines[0],
        "Your checkpoint is already compatible! No missing migration to execute.",
      );
      assert.deepEqual(
        lines.filter((line) => line.startsWith("  * ")),
        UPSTREAM.map(([name, version]) => `  * ${name} [v${version}]`),
      );
      const json = JSON.parse((await cli(["inspect", cliOut, "--json"])).stdout);
      assert.equal(json.status, "up-to-date");
      assert.deepEqual(json.missing, []);

      const check = await cli(["check", cliOut]);
      assert.equal(check.code, 0, check.stderr);
      assert.equal(check.stdout, `${cliOut}: up to date\n`);
      const pending = await cli(["check", input]);
      assert.equal(pending.code, 1);
      assert.match(pending.stdout, /: 9 migrations pending: 1762857427_deprecate_eda, /);
    });
  });
}

// ---- real torch -------------------------------------------------------------------

// Loads migrated checkpoints with the new module layout only: the hardware
// and datamodule schema modules and training.SWA are gone, as in current
// anemoi. Prints, per file, what the TypeScript side checks.
const LOAD = `
import json, sys
sys.path.insert(0, sys.argv[1])
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from anemoi.utils.schemas import BaseModel
from anemoi.models.migrations.migrator import MissingAttribute
import anemoi.training.schemas.training as training

def plain(x):
    if isinstance(x, (DictConfig, ListConfig)):
        return OmegaConf.to_container(x)
    if isinstance(x, MissingAttribute):
        return {"class": "anemoi.models.migrations.migrator.MissingAttribute", "state": plain(x.__dict__["__dict__"])}
    if isinstance(x, BaseModel):
        cls = type(x)
        fields = {k: plain(v) for k, v in x.__dict__.items()}
        return {"class": f"{cls.__module__}.{cls.__qualname__}", "fields": fields, "set": sorted(x.__pydantic_fields_set__)}
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x

def load(path):
    return torch.load(path, map_location="cpu", weights_only=False)

def old_layout_refused(path):
    try:
        load(path)
    except (ImportError, AttributeError):
        return True
    return False

del training.SWA
sys.modules["anemoi.training.schemas.hardware"] = None
sys.modules["anemoi.training.schemas.datamodule"] = None
out = []
for migrated, original in zip(sys.argv[2::2], sys.argv[3::2]):
    ckpt = load(migrated)
    hp = ckpt["hyper_parameters"]
    config = hp["config"]
    node = None
    if isinstance(config, DictConfig):
        node = config.training._get_node("weight_averaging")
        node = [type(node).__name__, node._metadata.key, node._get_parent() is config.training]
    out.append({
        "state_dict": [[k, v.flatten().tolist()] for k, v in ckpt["state_dict"].items()],
        "hyper_parameters": list(hp),
        "per_dataset": [list(hp[k]) for k in ["data_indices", "statistics", "statistics_tendencies", "supporting_arrays"]],
        "config": plain(config),
        "weight_averaging_node": node,
        "migrations": [m["name"] for m in ckpt["migrations"]],
        "history": [[h["name"], h["signature"]] for h in hp["metadata"]["migrations"]["history"]],
        "original_refused": old_layout_refused(original),
    })
print(json.dumps(out))
`;

Deno.test({
  name: "anemoi: torch loads the migrated checkpoints with the new module layout",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      const args = [];
      for (const run of RUNS) {
        const out = `${dir}/${run.file}`;
        await migrateCheckpoint(fixture(run.file), { migrations: await loadMigrations(), out });
        args.push(out, fixture(run.file));
      }
      const loaded = JSON.parse(
        await runPython(["-c", LOAD, `${root}tests/fixtures/stubs`, ...args]),
      );
      RUNS.forEach((run, i) => {
        const result = loaded[i];
        assert.deepEqual(
          result.state_dict.map(([key]: [string]) => key),
          run.final.map(([, key]) => key),
          `${run.file}: state_dict keys`,
        );
        if (run.file !== "example_training.ckpt") {
          // These fixtures hold float32 [k] at original position k.
          assert.deepEqual(result.state_dict, run.final.map(([index, key]) => [key, [index]]));
          assert.deepEqual(result.config, run.config);
        }
        assert.deepEqual(result.hyper_parameters.slice(-4), PER_DATASET);
        assert.deepEqual(result.per_dataset, PER_DATASET.map(() => ["data"]));
        assert.deepEqual(
          result.weight_averaging_node,
          run.file === SCHEMA.file ? null : ["AnyNode", "weight_averaging", true],
        );
        assert.deepEqual(result.migrations, NAMES);
        const names = run.historyHasInitial ? NAMES : EXECUTED;
        assert.deepEqual(result.history, names.map((name) => [name, SIGNATURES.get(name)]));
        // Only the schema fixture names the old modules.
        assert.equal(result.original_refused, run.file === SCHEMA.file, run.file);
      });
    });
  },
});
