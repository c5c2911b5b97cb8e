// Port of anemoi-models' 1773048851_fuse_multiple_perdataset_graphs: the
// per-dataset graphs were fused into one, so the node attributes are no
// longer kept per dataset. For each dataset D (the keys of
// hyper_parameters.graph_data):
//   node_attributes.D.latlons_data -> node_attributes.latlons_D
//   node_attributes.D.trainable_tensors.data.trainable -> node_attributes.trainable_tensors.D.trainable
//   node_attributes.D.latlons_hidden -> node_attributes.latlons_hidden
//   node_attributes.D.trainable_tensors.hidden.trainable -> node_attributes.trainable_tensors.hidden.trainable
// The hidden nodes were repeated per dataset: the first dataset's copy is
// taken and later copies stay under their old key. Renamed keys move to the
// end of the state_dict, in their original order.
import { type CkptType, MigrationError, type MigrationMetadata, PyDict, PyObject } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.13.0",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "cac75ef0852908408a1452274556dfa2e74ebfe07f2bcbbb9f4ac994310fd3cf";

const PREFIX = "model.model.node_attributes.";

/** Renames the per-dataset node attributes to the fused graph's. */
export function migrate(ckpt: CkptType): CkptType {
  const hyperParameters = ckpt.getItem("hyper_parameters");
  if (!(hyperParameters instanceof PyDict)) fail("hyper_parameters is not a dict");
  const datasets = datasetNames(hyperParameters.getItem("graph_data"));
  const stateDict = ckpt.getItem("state_dict");
  if (!(stateDict instanceof PyDict)) fail("state_dict is not a dict");
  const updates = new PyDict<string, unknown>();
  const take = (oldKey: string, newKey: string) => {
    if (updates.has(newKey)) return;
    updates.set(newKey, stateDict.getItem(oldKey));
    stateDict.pop(oldKey);
  };
  for (const oldKey of stringKeys(stateDict)) {
    if (!oldKey.startsWith(PREFIX)) continue;
    for (const dataset of datasets) {
      for (const nodes of ["data", "hidden"]) {
        const fused = nodes === "data" ? dataset : nodes;
        if (oldKey === `${PREFIX}${dataset}.latlons_${nodes}`) {
          take(oldKey, `${PREFIX}latlons_${fused}`);
        }
        if (oldKey === `${PREFIX}${dataset}.trainable_tensors.${nodes}.trainable`) {
          take(oldKey, `${PREFIX}trainable_tensors.${fused}.trainable`);
        }
      }
    }
  }
  stateDict.update(updates);
  return ckpt;
}

const DICT_CLASSES = new Set(["collections.OrderedDict", "collections.defaultdict"]);
const HETERO_DATA = "torch_geometric.data.hetero_data.HeteroData";

// The dataset names upstream takes: list(graph_data.keys()), each as an
// f-string shows it. A single torch_geometric HeteroData in place of the dict
// names no dataset: its keys() are graph attribute names (x, edge_index, ...),
// which match no node attribute key, so upstream renames nothing; nor does this.
function datasetNames(graphData: unknown): string[] {
  if (graphData instanceof PyObject && graphData.className === HETERO_DATA) return [];
  const isDict = graphData instanceof PyDict &&
    (!(graphData instanceof PyObject) || graphData.size > 0 ||
      DICT_CLASSES.has(graphData.className ?? ""));
  if (!isDict) fail("hyper_parameters.graph_data is not a dict");
  return [...graphData.keys()].map((key) => {
    if (typeof key === "string") return key;
    if (typeof key === "bigint" || (typeof key === "number" && Number.isSafeInteger(key))) {
      return String(key);
    }
    return fail(`graph_data key ${key} is not a str`);
  });
}

function stringKeys(stateDict: PyDict): string[] {
  const keys = [...stateDict.keys()];
  const odd = keys.find((key) => typeof key !== "string");
  if (odd !== undefined) fail(`state_dict key ${odd} is not a str`);
  return keys as string[];
}

function fail(message: string): never {
  throw new MigrationError(`Cannot fuse the per-dataset graphs: ${message}`);
}
