// Port of anemoi-models' 1767108147_move_to_multiple_datasets: models hold
// one set of processors, node attributes, encoders and decoders per dataset.
// A single-dataset checkpoint's become those of the dataset "data": the
// state_dict keys gain "data." after their prefix (renamed keys move to the
// end, in order), and hyper_parameters' data_indices, statistics,
// statistics_tendencies and supporting_arrays become {"data": value}, moved
// to the end of hyper_parameters in that order.
import { type CkptType, MigrationError, type MigrationMetadata, PyDict } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.12.0",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "66a42ce81d38095063db8aac340e430881484b9abfa18dbd270dd72c65f9d3cd";

const DATASET = "data";
const PREFIXES = [
  "model.pre_processors.",
  "model.post_processors.",
  "model.model.node_attributes.",
];
const COMPONENTS = ["encoder", "encoder_graph_provider", "decoder", "decoder_graph_provider"];
const PER_DATASET = ["data_indices", "statistics", "statistics_tendencies", "supporting_arrays"];

/** Puts the single dataset's weights and statistics under the dataset name "data". */
export function migrate(ckpt: CkptType): CkptType {
  const stateDict = dictAt(ckpt, "state_dict");
  const updates = new PyDict<string, unknown>();
  const move = (key: string, prefix: string) => {
    // Python's str.replace: every occurrence of the prefix, not only the first.
    updates.set(key.replaceAll(prefix, `${prefix}${DATASET}.`), stateDict.getItem(key));
    stateDict.pop(key);
  };
  for (const key of stringKeys(stateDict)) {
    for (const prefix of PREFIXES) {
      if (key.startsWith(prefix)) move(key, prefix);
    }
    for (const component of COMPONENTS) {
      const prefix = `model.model.${component}.`;
      if (key.startsWith(prefix)) move(key, prefix);
    }
  }
  stateDict.update(updates);

  const hyperParameters = dictAt(ckpt, "hyper_parameters");
  for (const name of PER_DATASET) {
    const value = hyperParameters.pop(name);
    hyperParameters.set(name, new PyDict([[DATASET, value]]));
  }
  return ckpt;
}

function dictAt(ckpt: CkptType, key: string): PyDict {
  const value = ckpt.getItem(key);
  if (!(value instanceof PyDict)) {
    throw new MigrationError(`Cannot split the model per dataset: ${key} is not a dict`);
  }
  return value;
}

function stringKeys(stateDict: PyDict): string[] {
  const keys = [...stateDict.keys()];
  const odd = keys.find((key) => typeof key !== "string");
  if (odd !== undefined) {
    throw new MigrationError(
      `Cannot split the model per dataset: state_dict key ${odd} is not a str`,
    );
  }
  return keys as string[];
}
